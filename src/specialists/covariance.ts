import * as tf from '@tensorflow/tfjs';
import { Matrix } from 'ml-matrix';

/**
 * The classes × classes covariance of the generalist's predicted probability vectors over a
 * transfer set (labels unused): entry (i, j) is large when the generalist moves probability between
 * i and j together, i.e. when it hedges between them. The product PᵀP runs through tfjs, so on the
 * blas engine it is one sgemm even for thousands of classes.
 *
 * @param probabilities [n, classes] row-major, rows summing to 1.
 * @example
 *   const cov = predictionCovariance(softmaxRowsAt(logits, 10, 1), 10); // 10 × 10 Matrix
 */
export function predictionCovariance(probabilities: Float32Array, classes: number): Matrix {
  const n = probabilities.length / classes;
  if (!Number.isInteger(n) || n < 2) {
    throw new Error(
      `predictionCovariance: need at least 2 rows of ${classes} probabilities, got ${probabilities.length} values`,
    );
  }
  const values = tf.tidy(() => {
    const p = tf.tensor2d(probabilities, [n, classes]); // [n, classes]
    const centred = tf.sub(p, tf.mean(p, 0, true)); // [n, classes]
    return tf.div(tf.matMul(centred, centred, true, false), n - 1).arraySync() as number[][]; // [classes, classes]
  });
  return new Matrix(values);
}

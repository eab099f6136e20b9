import * as tf from '@tensorflow/tfjs';

/** Examples per forward pass when predicting a whole split: large enough for sgemm to run at speed. */
const PREDICT_BATCH = 1000;

/**
 * The model's logits for every row of x ([n, features] row-major), as [n, classes] on the host.
 *
 * @example
 *   const logits = predictLogits(model, dataset.test.x, dataset.test.n);
 */
export function predictLogits(model: tf.LayersModel, x: Float32Array, n: number): Float32Array {
  const features = x.length / Math.max(n, 1);
  const classes = model.outputs[0].shape[1] as number;
  const out = new Float32Array(n * classes);
  for (let start = 0; start < n; start += PREDICT_BATCH) {
    const end = Math.min(n, start + PREDICT_BATCH);
    tf.tidy(() => {
      const batch = tf.tensor2d(x.subarray(start * features, end * features), [end - start, features]);
      out.set((model.apply(batch, { training: false }) as tf.Tensor).dataSync() as Float32Array, start * classes);
    });
  }
  return out;
}

/** Row-wise argmax of [rows, classes] scores. */
export function argmaxRows(scores: Float32Array, classes: number): Int32Array {
  const rows = scores.length / classes;
  const out = new Int32Array(rows);
  for (let r = 0; r < rows; r++) {
    let best = 0;
    for (let j = 1; j < classes; j++) if (scores[r * classes + j] > scores[r * classes + best]) best = j;
    out[r] = best;
  }
  return out;
}

export interface Evaluation {
  n: number;
  errors: number;
  errorRate: number;
  /** Errors among the examples of each true class. */
  perClassErrors: number[];
  perClassCounts: number[];
  /** confusion[true][predicted]. */
  confusion: number[][];
}

/** Top-1 error of row-major logits [labels.length, width] against the labels. */
export function top1Error(logits: Float32Array, width: number, labels: Int32Array): number {
  const predicted = argmaxRows(logits, width);
  let errors = 0;
  for (let i = 0; i < labels.length; i++) if (predicted[i] !== labels[i]) errors++;
  return errors / Math.max(1, labels.length);
}

/** Errors out of n, per class, and the confusion matrix of predictions against labels. */
export function scorePredictions(predicted: Int32Array, labels: Int32Array, classes: number): Evaluation {
  if (predicted.length !== labels.length) {
    throw new Error(`scorePredictions: ${predicted.length} predictions for ${labels.length} labels`);
  }
  const confusion = Array.from({ length: classes }, () => new Array<number>(classes).fill(0));
  const perClassErrors = new Array<number>(classes).fill(0);
  const perClassCounts = new Array<number>(classes).fill(0);
  let errors = 0;
  for (let i = 0; i < labels.length; i++) {
    const truth = labels[i];
    confusion[truth][predicted[i]]++;
    perClassCounts[truth]++;
    if (predicted[i] !== truth) {
      errors++;
      perClassErrors[truth]++;
    }
  }
  return { n: labels.length, errors, errorRate: errors / Math.max(1, labels.length), perClassErrors, perClassCounts,
    confusion };
}

/**
 * Evaluates a classifier on a labelled split.
 *
 * @example
 *   const { errors, n } = evaluateModel(model, dataset.test.x, dataset.test.y); // "67 / 10000"
 */
export function evaluateModel(model: tf.LayersModel, x: Float32Array, labels: Int32Array): Evaluation {
  const classes = model.outputs[0].shape[1] as number;
  return scorePredictions(argmaxRows(predictLogits(model, x, labels.length), classes), labels, classes);
}

import * as tf from '@tensorflow/tfjs';
import { z } from 'zod';

/**
 * How an ensemble of full models pools its members. 'probabilities' is the arithmetic mean of
 * their distributions (the paper's speech ensemble, and the usual choice): a member that is
 * confidently wrong can pull the mean down by at most 1/K. 'logits' is the renormalised geometric
 * mean (mean of log-probabilities): one member near zero on the right class vetoes it. The
 * ensemble experiment reports both.
 */
export const AveragingSchema = z.enum(['probabilities', 'logits']);
export type Averaging = z.infer<typeof AveragingSchema>;

/**
 * Log of the members' pooled distribution, [batch, classes], from each member's logits: usable as
 * a teacher's logits (softmax of it is the pooled distribution) and as scores for top-1.
 */
export function averageMembers(memberLogits: tf.Tensor2D[], averaging: Averaging = 'probabilities'): tf.Tensor2D {
  if (memberLogits.length === 0) throw new Error('averageMembers: an ensemble needs at least one member');
  return tf.tidy(() => {
    const logProbs = tf.stack(memberLogits.map((logits) => tf.logSoftmax(logits))); // [K, batch, classes]
    const K = memberLogits.length;
    if (averaging === 'logits') return tf.logSoftmax(tf.mean(logProbs, 0)) as tf.Tensor2D;
    return tf.sub(tf.logSumExp(logProbs, 0), Math.log(K)) as tf.Tensor2D;
  });
}

/** `averageMembers` on row-major arrays [n, classes], one per member. */
export function averageMemberArrays(memberLogits: Float32Array[], classes: number,
  averaging: Averaging = 'probabilities'): Float32Array {
  return tf.tidy(() => {
    const tensors = memberLogits.map((logits) => tf.tensor2d(logits, [logits.length / classes, classes]));
    return averageMembers(tensors, averaging).dataSync() as Float32Array;
  });
}

import * as tf from '@tensorflow/tfjs';
import { assertTemperature, logSoftmaxAt } from './temperature.js';

/*
 * Every loss sums over classes and averages over the batch. Averaging over classes instead (a
 * common bug in published distillation code) silently divides the gradient by the class count.
 */

/**
 * Soft-target loss (Hinton, Vinyals & Dean 2015, §2):
 *   L_soft = T² · mean_b [ −Σ_i p_i log q_i ],  p = softmax(v/T) (teacher), q = softmax(z/T) (student).
 * ∂(−Σ p log q)/∂z_i = (q_i − p_i)/T, so the T² factor keeps the soft gradients' magnitude
 * independent of T when it is mixed with the hard loss. Minimal (KL part zero) at z = v + const.
 *
 * @param teacherProbs softmax(v/T), [batch, classes]: precomputed once per run from the teacher.
 */
export function softTargetLoss(studentLogits: tf.Tensor, teacherProbs: tf.Tensor, temperature: number): tf.Scalar {
  assertTemperature(temperature);
  return tf.tidy(() => {
    const logQ = logSoftmaxAt(studentLogits, temperature); // [batch, classes]
    const crossEntropy = tf.neg(tf.sum(tf.mul(teacherProbs, logQ), -1)); // [batch]
    return tf.mul(tf.mean(crossEntropy), temperature * temperature) as tf.Scalar;
  });
}

/**
 * Hard-label loss: ordinary cross-entropy with the true labels at T = 1,
 *   L_hard = mean_b [ −log softmax(z)_{y_b} ].
 *
 * @param labels class ids, [batch] int32.
 */
export function hardLabelLoss(studentLogits: tf.Tensor, labels: tf.Tensor): tf.Scalar {
  return tf.tidy(() => {
    const classes = studentLogits.shape[studentLogits.shape.length - 1];
    const logQ = tf.logSoftmax(studentLogits); // [batch, classes]
    const picked = tf.sum(tf.mul(tf.oneHot(labels, classes), logQ), -1); // [batch]
    return tf.neg(tf.mean(picked)) as tf.Scalar;
  });
}

/**
 * Logit matching (Caruana et al.; the paper's high-temperature limit of the soft loss):
 *   L = mean_b [ ½ Σ_i ((z_i − z̄) − (v_i − v̄))² ],
 * with z̄, v̄ each example's mean logit, since logits are only defined up to a constant.
 */
export function logitMatchingLoss(studentLogits: tf.Tensor, teacherLogits: tf.Tensor): tf.Scalar {
  return tf.tidy(() => {
    const z = tf.sub(studentLogits, tf.mean(studentLogits, -1, true));
    const v = tf.sub(teacherLogits, tf.mean(teacherLogits, -1, true));
    return tf.mean(tf.mul(tf.sum(tf.square(tf.sub(z, v)), -1), 0.5)) as tf.Scalar;
  });
}

export interface LossTerms {
  [name: string]: { weight: number; value: tf.Scalar };
}

/**
 * Σ weight·value over named terms, so callers log each term beside the total.
 *
 * @example
 *   weightedSum({ soft: { weight: 1, value: soft }, hard: { weight: 0.1, value: hard } });
 */
export function weightedSum(terms: LossTerms): tf.Scalar {
  return tf.tidy(() => {
    const parts = Object.values(terms).filter((t) => t.weight !== 0).map((t) => tf.mul(t.value, t.weight));
    if (parts.length === 0) throw new Error('weightedSum: every loss term has weight 0');
    return tf.addN(parts) as tf.Scalar;
  });
}

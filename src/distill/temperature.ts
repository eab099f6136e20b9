import * as tf from '@tensorflow/tfjs';

/**
 * softmax(z / T): T = 1 is the ordinary softmax; higher T softens the distribution and exposes
 * the small probabilities ("dark knowledge") a teacher assigns to wrong classes.
 *
 * @example
 *   softmaxAt(tf.tensor2d([[2, 1, 0]]), 20); // close to uniform
 */
export function softmaxAt(logits: tf.Tensor, temperature: number): tf.Tensor {
  assertTemperature(temperature);
  return tf.tidy(() => tf.softmax(temperature === 1 ? logits : tf.div(logits, temperature)));
}

/** log softmax(z / T), computed stably (never log of an underflowed softmax). */
export function logSoftmaxAt(logits: tf.Tensor, temperature: number): tf.Tensor {
  assertTemperature(temperature);
  return tf.tidy(() => tf.logSoftmax(temperature === 1 ? logits : tf.div(logits, temperature)));
}

export function assertTemperature(temperature: number): void {
  if (!(temperature > 0) || !Number.isFinite(temperature)) {
    throw new Error(`temperature must be a positive finite number, got ${temperature}`);
  }
}

/** softmax(z / T) on host arrays, [rows, classes] row-major: for precomputed teacher targets. */
export function softmaxRowsAt(logits: Float32Array, classes: number, temperature: number): Float32Array {
  assertTemperature(temperature);
  const out = new Float32Array(logits.length);
  for (let row = 0; row < logits.length; row += classes) {
    let max = -Infinity;
    for (let j = 0; j < classes; j++) max = Math.max(max, logits[row + j] / temperature);
    let sum = 0;
    for (let j = 0; j < classes; j++) {
      const e = Math.exp(logits[row + j] / temperature - max);
      out[row + j] = e;
      sum += e;
    }
    for (let j = 0; j < classes; j++) out[row + j] /= sum;
  }
  return out;
}

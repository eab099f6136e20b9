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
  return tf.tidy(() => tf.softmax(scaled(logits, temperature)));
}

/** log softmax(z / T), computed stably (never log of an underflowed softmax). */
export function logSoftmaxAt(logits: tf.Tensor, temperature: number): tf.Tensor {
  assertTemperature(temperature);
  return tf.tidy(() => tf.logSoftmax(scaled(logits, temperature)));
}

/** Below this T a float32 softmax is already its argmax; smaller T would round to 0 in float32 and divide 0 by 0. */
const MIN_TENSOR_TEMPERATURE = 1e-30;

/**
 * z / T. Below T = 1 the row's maximum is subtracted first: dividing first could overflow finite
 * logits to ±Infinity (T = 1e-300), and the softmax's own max subtraction would then make NaN.
 */
function scaled(logits: tf.Tensor, temperature: number): tf.Tensor {
  if (temperature === 1) return logits;
  if (temperature > 1) return tf.div(logits, temperature);
  return tf.div(tf.sub(logits, tf.max(logits, -1, true)), Math.max(temperature, MIN_TENSOR_TEMPERATURE));
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
    // The maximum is subtracted before dividing: (z − max) / T stays finite however small T is.
    let max = -Infinity;
    for (let j = 0; j < classes; j++) max = Math.max(max, logits[row + j]);
    let sum = 0;
    for (let j = 0; j < classes; j++) {
      const e = Math.exp((logits[row + j] - max) / temperature);
      out[row + j] = e;
      sum += e;
    }
    for (let j = 0; j < classes; j++) out[row + j] /= sum;
  }
  return out;
}

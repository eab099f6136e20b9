import * as tf from '@tensorflow/tfjs';
import { featuresOf, type Split } from './dataset.js';

export interface SplitTensors {
  /** [n, ...inputShape] float32, or [n, features] when no shape is given. */
  xs: tf.Tensor;
  /** [n] int32 class ids. */
  ys: tf.Tensor1D;
}

/**
 * A split as tensors, for an MLP ([n, 784]) or, with `inputShape`, a CNN ([n, 28, 28, 1]). Take a
 * batch first with `sliceRows` (no copy) or `takeRows` (gather). The caller disposes both tensors.
 *
 * On tfjs's CPU backends the tensors share the split's memory rather than copying it: a 188 MB
 * training set stays one 188 MB array. That is safe because splits are never mutated.
 *
 * @example
 *   const { xs, ys } = toTensors(sliceRows(mnist.test, 0, 256), mnist.inputShape); // xs [256, 28, 28, 1]
 *   try { model.predict(xs); } finally { xs.dispose(); ys.dispose(); }
 */
export function toTensors(split: Split, inputShape?: readonly number[]): SplitTensors {
  const shape = inputShape ? [split.n, ...inputShape] : [split.n, split.features];
  if (inputShape && featuresOf(inputShape) !== split.features) {
    throw new Error(`toTensors: inputShape [${inputShape.join(', ')}] does not hold ${split.features} features`);
  }
  return { xs: tf.tensor(split.x, shape, 'float32'), ys: tf.tensor1d(split.y, 'int32') };
}

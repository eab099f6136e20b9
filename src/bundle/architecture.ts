import type * as tf from '@tensorflow/tfjs';
import type { Architecture } from './manifest.js';

type Shape = (number | null)[];

/** The first output shape of a layer, without the batch dimension. */
function outputShapeOf(layer: tf.layers.Layer): number[] {
  const shape = layer.outputShape as Shape | Shape[];
  const first = (Array.isArray(shape[0]) ? shape[0] : shape) as Shape;
  return first.slice(1).map((d) => d ?? 0);
}

/**
 * What the manifest records of a model's shape, read from the model itself so it cannot drift from
 * the weights: input shape, output width, every layer's output shape and parameter count.
 *
 * @example
 *   summarizeModel(mlp, 'mlp').sizes; // [784, 1200, 1200, 10]
 */
export function summarizeModel(model: tf.LayersModel, kind?: string): Architecture {
  if (model.inputs.length !== 1 || model.outputs.length !== 1) {
    throw new Error(
      `summarizeModel: ${model.name} has ${model.inputs.length} inputs and ${model.outputs.length} outputs; bundles ` +
        `hold single-input, single-output classifiers`,
    );
  }
  const inputShape = model.inputs[0].shape.slice(1).map((d) => d ?? 0);
  const outputShape = model.outputs[0].shape;
  const outputSize = outputShape[outputShape.length - 1] ?? 0;
  const layers = model.layers.filter((layer) => layer.getClassName() !== 'InputLayer').map((layer) => ({
    name: layer.name,
    type: layer.getClassName(),
    outputShape: outputShapeOf(layer),
    parameters: layer.countParams(),
  }));
  const sizes = [inputShape.reduce((a, b) => a * b, 1)];
  for (const layer of layers) {
    if (layer.parameters > 0) sizes.push(layer.outputShape[layer.outputShape.length - 1]);
  }
  return { ...(kind ? { kind } : {}), inputShape, outputSize, sizes, parameters: model.countParams(), layers };
}

/** Elements of one example of a shape: [28, 28, 1] → 784. */
export function sizeOf(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

import { ONNX_NAMES } from './onnx.js';

/**
 * A Triton model's config.pbtxt for an exported MLP: the ONNX Runtime backend, batching on the
 * first dimension (so Triton's dynamic batcher can merge requests), and the class names attached
 * to `probabilities` so Triton's classification extension answers with labels.
 */
export function tritonConfig(name: string, features: number, classes: number, maxBatchSize: number): string {
  const tensor = (tensorName: string, width: number, extra = '') =>
    ['  {', `    name: "${tensorName}"`, '    data_type: TYPE_FP32', `    dims: [ ${width} ]`,
      ...(extra ? [`    ${extra}`] : []), '  }'].join('\n');
  return [`name: "${name}"`, 'platform: "onnxruntime_onnx"', `max_batch_size: ${maxBatchSize}`, 'input [',
    tensor(ONNX_NAMES.input, features), ']', 'output [', `${tensor(ONNX_NAMES.logits, classes)},`,
    tensor(ONNX_NAMES.probabilities, classes, `label_filename: "${TRITON_LABELS_FILE}"`), ']', 'dynamic_batching { }',
    ''].join('\n');
}

export const TRITON_LABELS_FILE = 'labels.txt';

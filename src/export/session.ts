import type * as tf from '@tensorflow/tfjs';
import { mlpToOnnx, ONNX_NAMES } from './onnx.js';
import { onnxRuntime } from './verify.js';

/** A model's logits computed by ONNX Runtime: host rows in, host logits out. */
export interface OnnxLogits {
  (x: Float32Array, rows: number): Promise<Float32Array>;
  release(): Promise<void>;
}

/**
 * The model exported in memory and loaded into ONNX Runtime's CPU provider with `threads` intra-op
 * threads: a serving runtime that beats the compiled blas forward at larger batches (see the README).
 */
export async function onnxLogits(model: tf.LayersModel, threads: number): Promise<OnnxLogits> {
  const ort = await onnxRuntime();
  const bytes = mlpToOnnx(model, { name: model.name, docString: 'in-memory export for serving',
    producerVersion: 'serve' });
  const session = await ort.InferenceSession.create(bytes, { intraOpNumThreads: threads, interOpNumThreads: 1,
    graphOptimizationLevel: 'all' });
  const features = model.inputs[0].shape[1] as number;
  const run = async (x: Float32Array, rows: number) => {
    const out = await session.run({ [ONNX_NAMES.input]: new ort.Tensor('float32', x, [rows, features]) }, [
      ONNX_NAMES.logits,
    ]);
    return out[ONNX_NAMES.logits].data as Float32Array;
  };
  return Object.assign(run, { release: () => session.release() });
}

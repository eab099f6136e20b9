import { compileDenseForward, initEngine } from '../engine/index.js';
import { onnxLogits, onnxRuntime } from '../export/index.js';
import { buildMlp } from '../nets/index.js';
import { timePerCall, timePerCallAsync } from './timing.js';

/** The paper's small net, the one a user ships: the student of every MNIST bundle. */
export const STUDENT_LAYERS = [784, 800, 800, 10];
const BATCHES = [1, 64];

export interface OnnxServingResult {
  layers: number[];
  threads: number;
  onnxRuntimeVersion: string;
  /** Per batch size, µs from host input to host logits: the compiled blas forward the server uses, and ONNX Runtime. */
  compiledMicros: Record<number, number>;
  onnxMicros: Record<number, number>;
}

/**
 * The student's serving latency in ONNX Runtime (CPU provider, `threads` intra-op threads) beside the
 * compiled blas forward with as many OpenBLAS threads, measured in one run so the ratio holds.
 */
export async function benchOnnxServing(threads: number,
  { layers = STUDENT_LAYERS, runs = 5, iterations = 200 } = {}): Promise<OnnxServingResult> {
  await initEngine({ backend: 'blas', log: () => {} });
  const ort = await onnxRuntime();
  const model = buildMlp({ kind: 'mlp', hidden: layers.slice(1, -1), inputDropout: 0, hiddenDropout: 0, maxNorm: 0,
    seed: 1 }, layers[0], layers.at(-1)!);
  const forward = compileDenseForward(model);
  if (typeof forward === 'string') throw new Error(`the compiled forward is unavailable: ${forward}`);
  const logits = await onnxLogits(model, threads);
  const compiledMicros: Record<number, number> = {};
  const onnxMicros: Record<number, number> = {};
  for (const batch of BATCHES) {
    const x = Float32Array.from({ length: batch * layers[0] }, () => Math.random() * 2 - 1);
    const timing = { warmup: 20, iterations: batch === 1 ? iterations : iterations / 4, runs };
    compiledMicros[batch] = timePerCall(() => {
      forward(x, batch);
    }, timing) * 1e6;
    onnxMicros[batch] = (await timePerCallAsync(() => logits(x, batch), timing)) * 1e6;
  }
  await logits.release();
  model.dispose();
  return { layers, threads, onnxRuntimeVersion: ort.env.versions.node ?? 'unknown', compiledMicros, onnxMicros };
}

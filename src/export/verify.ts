import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import type { LoadedBundle } from '../bundle/index.js';
import { argmaxRows, predictLogits, softmaxRowsAt } from '../distill/index.js';
import { specialistProbabilities } from '../ensemble/index.js';
import { exportedModels, type ExportedModel } from './bundle.js';
import { ONNX_NAMES } from './onnx.js';

/** How one exported model's ONNX Runtime outputs compare with the bundle's own forward pass. */
export interface ModelCheck {
  id: string;
  file: string;
  rows: number;
  /** max |Δ| over every output value. */
  maxAbsLogits: number;
  maxAbsProbabilities: number;
  /** Share of rows whose top-1 class is the same in both. */
  top1Agreement: number;
}

const ORT_BATCH = 1024;

/** ONNX Runtime, an optional dependency: a clear error where it did not install. */
export async function onnxRuntime(): Promise<typeof import('onnxruntime-node')> {
  try {
    return await import('onnxruntime-node');
  } catch (error) {
    throw new Error(
      `onnxruntime-node is not installed (it is an optional dependency; see the README's "Export to ONNX"): ${
        (error as Error).message
      }`,
      { cause: error },
    );
  }
}

/** The bundle's own outputs for `model`: its logits and the probabilities the server would answer. */
function reference(model: ExportedModel, x: Float32Array,
  n: number): { logits: Float32Array; probabilities: Float32Array; classes: number } {
  const logits = predictLogits(model.model, x, n);
  const classes = logits.length / n;
  if (model.dustbinOffset === undefined) return { logits, probabilities: softmaxRowsAt(logits, classes, 1), classes };
  const probabilities = tf.tidy(() =>
    specialistProbabilities(tf.tensor2d(logits, [n, classes]), model.dustbinOffset!).dataSync() as Float32Array
  );
  return { logits, probabilities, classes };
}

/** ONNX Runtime's two outputs for the rows of `x`, run in batches. */
async function runOnnx(path: string, x: Float32Array, n: number,
  classes: number): Promise<{ logits: Float32Array; probabilities: Float32Array }> {
  const ort = await onnxRuntime();
  const session = await ort.InferenceSession.create(path);
  const features = x.length / n;
  const logits = new Float32Array(n * classes);
  const probabilities = new Float32Array(n * classes);
  try {
    for (let start = 0; start < n; start += ORT_BATCH) {
      const rows = Math.min(ORT_BATCH, n - start);
      const input = new ort.Tensor('float32', x.slice(start * features, (start + rows) * features), [rows, features]);
      const out = await session.run({ [ONNX_NAMES.input]: input });
      logits.set(out[ONNX_NAMES.logits].data as Float32Array, start * classes);
      probabilities.set(out[ONNX_NAMES.probabilities].data as Float32Array, start * classes);
    }
  } finally {
    await session.release();
  }
  return { logits, probabilities };
}

const maxAbsDiff = (a: Float32Array, b: Float32Array) =>
  a.reduce((max, value, i) => Math.max(max, Math.abs(value - b[i])), 0);

/**
 * Runs every model exported to `out` in ONNX Runtime on the rows of `x` and compares it with the
 * bundle's forward pass: max |Δ| of both outputs and top-1 agreement.
 */
export async function verifyExport(out: string, bundle: LoadedBundle, x: Float32Array,
  n: number): Promise<ModelCheck[]> {
  const checks: ModelCheck[] = [];
  for (const model of exportedModels(bundle)) {
    const expected = reference(model, x, n);
    const actual = await runOnnx(join(out, model.file), x, n, expected.classes);
    const ours = argmaxRows(expected.probabilities, expected.classes);
    const theirs = argmaxRows(actual.probabilities, expected.classes);
    checks.push({
      id: model.id,
      file: model.file,
      rows: n,
      maxAbsLogits: maxAbsDiff(expected.logits, actual.logits),
      maxAbsProbabilities: maxAbsDiff(expected.probabilities, actual.probabilities),
      top1Agreement: ours.reduce((same, c, i) => same + (c === theirs[i] ? 1 : 0), 0) / n,
    });
  }
  return checks;
}

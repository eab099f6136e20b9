// The seam between the server and src/ensemble: the only file in src/serve that imports the
// ensemble, so the contract it serves against is written down in one place:
//
//   ensembleFromBundle(bundle): { models: EnsembleModels, options: EnsembleOptions | why not }
//   predictEnsemble(models: EnsembleModels, x: tf.Tensor2D [B, inputSize], options: EnsembleOptions): EnsembleOutput
//   EnsembleOutput = { probabilities: tf.Tensor2D [B, N] (caller disposes), generalistTop: Int32Array [B],
//                      active: string[][] (ids per example), iterations: number (for the batch) }
//
// The server calls it once per dynamic batch (model-set.ts).
import * as tf from '@tensorflow/tfjs';
import { type EnsembleModels, specialistProbabilities } from '../../ensemble/index.js';

export { ensembleFromBundle, predictEnsemble } from '../../ensemble/index.js';
export type { EnsembleModels, EnsembleOptions, EnsembleOutput } from '../../ensemble/index.js';

/**
 * Each active specialist's own calibrated distribution per example: its classes, then the dustbin
 * (softmax of its logits after the dustbin offset), exactly as the combination saw it. The explain
 * path runs the active specialists once more on its few rows, outside the batcher, so the batched
 * path carries nothing extra for the common request that does not ask.
 *
 * @example
 *   specialistDistributions(models.specialists, x, [['s0'], []]); // [Map { 's0' => Float32Array [p…, dustbin] },
 *     Map {}]
 */
export function specialistDistributions(specialists: EnsembleModels['specialists'], x: tf.Tensor2D,
  active: readonly string[][]): Map<string, Float32Array>[] {
  const out = active.map(() => new Map<string, Float32Array>());
  for (const spec of specialists) {
    const rows = active.flatMap((ids, b) => (ids.includes(spec.id) ? [b] : []));
    if (rows.length === 0) continue;
    const width = spec.classes.length + 1;
    const probabilities = tf.tidy(() =>
      specialistProbabilities(
        spec.model.apply(tf.gather(x, tf.tensor1d(rows, 'int32')), { training: false }) as tf.Tensor2D,
        spec.dustbinOffset,
      )
    ); // [rows, |S| + 1]
    const data = probabilities.dataSync() as Float32Array;
    probabilities.dispose();
    rows.forEach((b, i) => out[b].set(spec.id, data.slice(i * width, (i + 1) * width)));
  }
  return out;
}

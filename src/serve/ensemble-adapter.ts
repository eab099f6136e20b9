// The seam between the server and src/ensemble: the only file in src/serve that imports the
// ensemble, so the contract it serves against is written down in one place:
//
//   predictEnsemble(models: EnsembleModels, x: tf.Tensor2D [B, inputSize], options: EnsembleOptions): EnsembleOutput
//   EnsembleOutput = { probabilities: tf.Tensor2D [B, N] (caller disposes), generalistTop: Int32Array [B],
//                      active: string[][] (ids per example), iterations: number (for the batch) }
//
// The server calls it once per dynamic batch (models.ts).
export { predictEnsemble } from '../ensemble/index.js';
export type { EnsembleModels, EnsembleOptions, EnsembleOutput } from '../ensemble/index.js';

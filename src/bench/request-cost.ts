import * as tf from '@tensorflow/tfjs';
import { type EnsembleModels, type EnsembleOptions, predictEnsemble } from '../ensemble/index.js';
import { timePerCall } from './timing.js';

export interface RequestCost {
  /** Single-row requests timed, cycling over this many rows (each routes to its own specialists). */
  rows: number;
  /** Model time per single-row request, median of runs: the generalist's forward alone, and the whole ensemble path. */
  generalistMicros: number;
  ensembleMicros: number;
  /** Specialists the ensemble ran per request, on average over those rows. */
  meanActive: number;
}

/**
 * What one request costs each path at this ensemble's size, in model time (no HTTP, no batching):
 * the generalist's forward, against generalist → active specialists → KL combination.
 */
export function requestCost(models: EnsembleModels, options: EnsembleOptions, x: Float32Array, features: number,
  rows: number): RequestCost {
  const inputs = Array.from({ length: rows },
    (_, r) => tf.tensor2d(x.subarray(r * features, (r + 1) * features), [1, features]));
  try {
    let active = 0;
    for (const input of inputs) {
      const out = predictEnsemble(models, input, options);
      active += out.active[0].length;
      out.probabilities.dispose();
    }
    let next = 0;
    const input = () => inputs[next++ % rows];
    const timing = { warmup: rows, iterations: rows, runs: 5 };
    const generalist = timePerCall(
      () => tf.tidy(() => (models.generalist.apply(input(), { training: false }) as tf.Tensor).dataSync()),
      timing,
    );
    const ensemble = timePerCall(() => {
      const out = predictEnsemble(models, input(), options);
      out.probabilities.dataSync();
      out.probabilities.dispose();
    }, timing);
    return { rows, generalistMicros: generalist * 1e6, ensembleMicros: ensemble * 1e6, meanActive: active / rows };
  } finally {
    tf.dispose(inputs);
  }
}

import type * as tf from '@tensorflow/tfjs';
import { z } from 'zod';
import { DEFAULT_SOLVER, SOLVER_NAMES } from './solvers.js';

export interface EnsembleModels {
  generalist: tf.LayersModel;
  /** Outputs are the specialist's classes in order, then the dustbin; `dustbinOffset` is added to the dustbin logit. */
  specialists: { id: string; classes: number[]; dustbinOffset: number; model: tf.LayersModel }[];
  numClasses: number;
  /**
   * Runs one member on a batch of rows; default `model.apply`. The server passes compiled BLAS
   * forwards on the blas engine, where tfjs's per-call cost dominates at serving batch sizes.
   */
  logitsOf?: (model: tf.LayersModel, x: tf.Tensor2D) => tf.Tensor2D;
}

/** How the ensemble combines: what a pipeline config sets, a bundle records and the server runs with. */
export const EnsembleOptionsSchema = z.object({
  solver: z.enum(SOLVER_NAMES).default(DEFAULT_SOLVER),
  tolerance: z.number().positive().default(1e-6),
  maxIterations: z.int().positive().default(200),
  /** Specialists are activated by the generalist's top-k classes; the paper uses k = 1. */
  topK: z.int().positive().default(1),
});
export type EnsembleOptions = z.infer<typeof EnsembleOptionsSchema>;

/** The same settings as a bundle manifest (format 1) records them: `iterations`, and `topK` under `options`. */
export interface CombinerRecord {
  solver: string;
  iterations: number;
  tolerance: number;
  options?: Record<string, number>;
}

export function toCombinerRecord(options: EnsembleOptions): CombinerRecord {
  return { solver: options.solver, iterations: options.maxIterations, tolerance: options.tolerance,
    options: { topK: options.topK } };
}

/** The settings a manifest records, or why they cannot be run (none recorded, an unknown solver). */
export function fromCombinerRecord(record: CombinerRecord | undefined): EnsembleOptions | string {
  if (!record) return 'the bundle has no combiner settings';
  const parsed = EnsembleOptionsSchema.safeParse({ solver: record.solver, tolerance: record.tolerance,
    maxIterations: record.iterations, topK: record.options?.topK });
  if (parsed.success) return parsed.data;
  return `its combiner settings cannot be run: ${
    parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`).join('; ')
  }`;
}

/** What ensembleFromBundle reads: a loaded bundle, described by shape so the ensemble needs no bundle code. */
export interface EnsembleSource {
  generalist: tf.LayersModel;
  specialists: ReadonlyMap<string, tf.LayersModel>;
  manifest: { dataset: { classNames: readonly string[] };
    specialists: readonly { id: string; classes: number[]; dustbinOffset: number }[]; combiner?: CombinerRecord };
}

/**
 * A loaded bundle's generalist and specialists as the ensemble runs them, with its combiner settings
 * (or why they cannot be run). The models stay the bundle's: dispose the bundle, not these.
 */
export function ensembleFromBundle(
  bundle: EnsembleSource,
): { models: EnsembleModels; options: EnsembleOptions | string } {
  const { manifest } = bundle;
  const specialists = manifest.specialists.map((s) => {
    const model = bundle.specialists.get(s.id);
    if (!model) throw new Error(`specialist ${s.id} is in the manifest but was not loaded`);
    return { id: s.id, classes: s.classes, dustbinOffset: s.dustbinOffset, model };
  });
  return { models: { generalist: bundle.generalist, specialists, numClasses: manifest.dataset.classNames.length },
    options: fromCombinerRecord(manifest.combiner) };
}

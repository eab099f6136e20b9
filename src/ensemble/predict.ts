import * as tf from '@tensorflow/tfjs';
import { combine } from './combine.js';
import { route } from './route.js';
import type { EnsembleModels, EnsembleOptions } from './options.js';
import { buildSpecialistIndex, type SpecialistIndex } from './specialist-index.js';

export interface EnsembleOutput {
  /** [batch, classes] the combined distribution; the caller disposes it. */
  probabilities: tf.Tensor2D;
  /** [batch] the generalist's top-1 class per example. */
  generalistTop: Int32Array;
  /** Per example, the ids of its active specialists. */
  active: string[][];
  /** Solver iterations used for the batch. */
  iterations: number;
}

const indexes = new WeakMap<EnsembleModels, SpecialistIndex>();

function indexOf(models: EnsembleModels): SpecialistIndex {
  let index = indexes.get(models);
  if (!index) {
    index = buildSpecialistIndex(models.specialists.map(({ id, classes }) => ({ id, classes })), models.numClasses);
    indexes.set(models, index);
  }
  return index;
}

/** softmax of a specialist's logits after the dustbin offset: probabilities calibrated to natural frequencies. */
export function specialistProbabilities(logits: tf.Tensor2D, dustbinOffset: number): tf.Tensor2D {
  return tf.tidy(() => {
    const width = logits.shape[1];
    const offsets = new Float32Array(width);
    offsets[width - 1] = dustbinOffset;
    return tf.softmax(tf.add(logits, tf.tensor1d(offsets))) as tf.Tensor2D; // [rows, |S| + 1]
  });
}

/**
 * The paper's inference path for a batch: one generalist pass, its top class routes each example
 * to the specialists covering it, each active specialist runs once on just its examples, and one
 * combine call merges everything per example. Every step is a tensor op, so the whole path runs
 * on whichever backend the engine chose.
 *
 * @example
 *   const { probabilities, active } = predictEnsemble(models, x, { solver: 'em', tolerance: 1e-6, maxIterations: 200,
 *     topK: 1 });
 */
export function predictEnsemble(models: EnsembleModels, x: tf.Tensor2D, options: EnsembleOptions): EnsembleOutput {
  const index = indexOf(models);
  const logitsOf = models.logitsOf ??
    ((model: tf.LayersModel, rows: tf.Tensor2D) => model.apply(rows, { training: false }) as tf.Tensor2D);
  const owned: tf.Tensor[] = [];
  try {
    const generalist = tf.tidy(() => tf.softmax(logitsOf(models.generalist, x))) as tf.Tensor2D; // [batch, classes]
    owned.push(generalist);
    const routing = route(index, generalist, { topK: options.topK });
    owned.push(routing.mask);
    const outputs: Record<string, tf.Tensor2D> = {};
    routing.examples.forEach((rows, s) => {
      if (rows.length === 0) return;
      const spec = models.specialists[s];
      const probabilities = tf.tidy(() => {
        const subset = rows.length === x.shape[0] ? x : tf.gather(x, tf.tensor1d(rows, 'int32')); // [rows, features]
        return specialistProbabilities(logitsOf(spec.model, subset as tf.Tensor2D), spec.dustbinOffset);
      });
      owned.push(probabilities);
      outputs[spec.id] = probabilities;
    });
    const result = combine(index, { generalist, specialists: outputs, active: routing.examples }, {
      solver: options.solver,
      tolerance: options.tolerance,
      maxIterations: options.maxIterations,
    });
    const top = tf.tidy(() => tf.argMax(generalist, 1));
    const generalistTop = top.dataSync() as Int32Array;
    top.dispose();
    return {
      probabilities: result.q,
      generalistTop,
      active: routing.active.map((positions) => positions.map((p) => models.specialists[p].id)),
      iterations: result.iterations,
    };
  } finally {
    tf.dispose(owned);
  }
}

/**
 * The ensemble's log-probabilities for every row of x ([n, features]), in batches: logits a
 * student can be distilled from (the teacher "ensemble"), or scored by argmax.
 */
export function ensembleLogits(models: EnsembleModels, x: Float32Array, n: number, options: EnsembleOptions,
  batchSize = 1000): Float32Array {
  const features = x.length / Math.max(1, n);
  const out = new Float32Array(n * models.numClasses);
  for (let start = 0; start < n; start += batchSize) {
    const end = Math.min(n, start + batchSize);
    const batch = tf.tensor2d(x.subarray(start * features, end * features), [end - start, features]);
    const { probabilities } = predictEnsemble(models, batch, options);
    // A floor keeps log finite where the combination put exactly zero mass.
    const logs = tf.tidy(() => tf.log(tf.maximum(probabilities, 1e-30)));
    out.set(logs.dataSync() as Float32Array, start * models.numClasses);
    tf.dispose([batch, probabilities, logs]);
  }
  return out;
}

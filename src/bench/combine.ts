import * as tf from '@tensorflow/tfjs';
import { type BenchTiming, timeAdaptive } from './timing.js';
import { createGaussian, createRng, type Rng, shuffleInPlace } from '../data/index.js';
import { buildSpecialistIndex, combine, type CombineInputs, route, type SolverName,
  type SpecialistIndex } from '../ensemble/index.js';

export interface CombineBenchCase {
  batch: number;
  numClasses: number;
  /** Specialists active for every example. */
  active: number;
  solver: SolverName;
  tolerance: number;
}

export interface CombineBenchRow extends CombineBenchCase {
  clusterSize: number;
  specialists: number;
  /** Specialists active for at least one example of the batch. */
  specialistsRun: number;
  iterations: number;
  converged: boolean;
  microsPerBatch: number;
  microsPerExample: number;
}

/** About 20 clusters per layer: the paper's JFT specialists each covered a small share of the classes. */
export function clusterSizeFor(numClasses: number): number {
  return Math.max(2, Math.round(numClasses / 20));
}

/**
 * `active` random partitions of the classes into clusters, one specialist per cluster: every class
 * lies in exactly `active` clusters, so top-1 routing activates exactly that many specialists, and
 * the partitions cut across each other as overlapping K-means clusters would.
 */
function layeredClusters(rng: Rng, numClasses: number, active: number,
  size: number): { id: string; classes: number[] }[] {
  const specs: { id: string; classes: number[] }[] = [];
  for (let layer = 0; layer < active; layer++) {
    const order = shuffleInPlace(Array.from({ length: numClasses }, (_, c) => c), rng);
    for (let start = 0; start < numClasses; start += size) {
      // A last chunk of one class would be a specialist with nothing to tell apart: merge it.
      const end = numClasses - (start + size) < 2 ? numClasses : start + size;
      specs.push({ id: `l${layer}c${specs.length}`, classes: order.slice(start, end).sort((x, y) => x - y) });
      if (end === numClasses) break;
    }
  }
  return specs;
}

function softmaxRow(logits: number[]): Float32Array {
  const max = Math.max(...logits);
  const e = logits.map((z) => Math.exp(z - max));
  const sum = e.reduce((s, v) => s + v, 0);
  return Float32Array.from(e, (v) => v / sum);
}

export interface BenchInstance {
  index: SpecialistIndex;
  inputs: CombineInputs;
  specialistsRun: number;
  dispose(): void;
}

/**
 * A batch as the ensemble endpoint would see it: a confident generalist (Gaussian logits plus a
 * margin of 6 on a random class), routed by its top-1 class, and each active specialist's
 * softmax of Gaussian logits over its classes and dustbin, for just its examples.
 */
export function benchInstance(seed: number,
  { batch, numClasses, active }: Pick<CombineBenchCase, 'batch' | 'numClasses' | 'active'>): BenchInstance {
  const rng = createRng(seed);
  const gauss = createGaussian(rng);
  const index = buildSpecialistIndex(layeredClusters(rng, numClasses, active, clusterSizeFor(numClasses)), numClasses);
  const pg = new Float32Array(batch * numClasses);
  for (let b = 0; b < batch; b++) {
    const top = Math.floor(rng() * numClasses);
    pg.set(softmaxRow(Array.from({ length: numClasses }, (_, c) => 2 * gauss() + (c === top ? 6 : 0))), b * numClasses);
  }
  const generalist = tf.tensor2d(pg, [batch, numClasses]);
  const routing = route(index, generalist);
  routing.mask.dispose();
  const specialists: Record<string, tf.Tensor2D> = {};
  routing.examples.forEach((rows, s) => {
    if (rows.length === 0) return;
    const width = index.specialists[s].classes.length + 1;
    const probs = new Float32Array(rows.length * width);
    rows.forEach((_, r) => probs.set(softmaxRow(Array.from({ length: width }, () => 2 * gauss())), r * width));
    specialists[index.specialists[s].id] = tf.tensor2d(probs, [rows.length, width]);
  });
  return {
    index,
    inputs: { generalist, specialists, active: routing.examples },
    specialistsRun: Object.keys(specialists).length,
    dispose: () => tf.dispose([generalist, ...Object.values(specialists)]),
  };
}

/**
 * Times combine() on one bench case: host bookkeeping and the read-back of q included, routing
 * and the specialists' forward passes not.
 *
 * @example
 *   const row = benchCombine({ batch: 64, numClasses: 1000, active: 3, solver: 'em', tolerance: 1e-6 }, { runs: 5,
 *     budget: 0.05 });
 */
export function benchCombine(benchCase: CombineBenchCase, timing: BenchTiming, seed = 1): CombineBenchRow {
  const instance = benchInstance(seed, benchCase);
  try {
    const options = { solver: benchCase.solver, tolerance: benchCase.tolerance, maxIterations: 10_000 };
    const probe = combine(instance.index, instance.inputs, options);
    probe.q.dispose();
    const seconds = timeAdaptive(() => {
      const { q } = combine(instance.index, instance.inputs, options);
      q.dataSync();
      q.dispose();
    }, timing);
    return {
      ...benchCase,
      clusterSize: clusterSizeFor(benchCase.numClasses),
      specialists: instance.index.specialists.length,
      specialistsRun: instance.specialistsRun,
      iterations: probe.iterations,
      converged: probe.converged,
      microsPerBatch: seconds * 1e6,
      microsPerExample: (seconds * 1e6) / benchCase.batch,
    };
  } finally {
    instance.dispose();
  }
}

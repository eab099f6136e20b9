import * as tf from '@tensorflow/tfjs';
import { createRng, type Rng } from '../../src/data/random.js';
import { buildSpecialistIndex, type CombineInputs, type SpecialistIndex } from '../../src/ensemble/index.js';
import type { ReferenceProblem } from './reference-solver.js';

/** A batch of combination problems on the host: float32 values, as the tensors hold them. */
export interface Instance {
  index: SpecialistIndex;
  batch: number;
  /** [batch * classes] */
  generalist: Float32Array;
  /** Per specialist: the examples it is active for, ascending. */
  examples: number[][];
  /** Per specialist: [examples.length * (|classes| + 1)] its rows for those examples. */
  probs: Float32Array[];
}

function sample(rng: Rng, n: number, k: number): number[] {
  const pool = Array.from({ length: n }, (_, i) => i);
  for (let i = 0; i < k; i++) {
    const j = i + Math.floor(rng() * (n - i));
    [pool[i], pool[j]] = [pool[j], pool[i]];
  }
  return pool.slice(0, k).sort((x, y) => x - y);
}

/**
 * A random distribution over n outcomes: softmax of Gaussian logits times `sharpness` (30 gives
 * near-one-hot rows), computed in float64, floored at `floor` so every class keeps some mass.
 */
export function randomDistribution(rng: Rng, n: number, sharpness: number, floor = 1e-12): Float64Array {
  const logits = Array.from({ length: n }, () => {
    const u = 1 - rng();
    return sharpness * Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rng());
  });
  const max = Math.max(...logits);
  const e = logits.map((z) => Math.max(Math.exp(z - max), floor));
  const sum = e.reduce((s, v) => s + v, 0);
  return Float64Array.from(e, (v) => v / sum);
}

export interface InstanceOptions {
  numClasses: number;
  specialists: number;
  batch: number;
  /** Largest cluster; clusters are drawn independently, so they overlap at random. */
  maxClusterSize: number;
  /** Each example gets 0..maxActive active specialists, chosen at random. */
  maxActive: number;
  /** Logit scales drawn from for each row; large ones give near-one-hot rows. */
  sharpness: readonly number[];
}

export function randomInstance(seed: number, o: InstanceOptions): Instance {
  const rng = createRng(seed);
  const specs = Array.from({ length: o.specialists }, (_, s) => {
    const size = 1 + Math.floor(rng() * Math.min(o.maxClusterSize, o.numClasses - 1));
    return { id: `s${s}`, classes: sample(rng, o.numClasses, size) };
  });
  const index = buildSpecialistIndex(specs, o.numClasses);
  const pick = (): number => o.sharpness[Math.floor(rng() * o.sharpness.length)];
  const generalist = new Float32Array(o.batch * o.numClasses);
  for (let b = 0; b < o.batch; b++) generalist.set(randomDistribution(rng, o.numClasses, pick()), b * o.numClasses);
  const examples: number[][] = specs.map(() => []);
  for (let b = 0; b < o.batch; b++) {
    const count = Math.floor(rng() * (Math.min(o.maxActive, o.specialists) + 1));
    for (const s of sample(rng, o.specialists, count)) examples[s].push(b);
  }
  const probs = specs.map((spec, s) => {
    const width = spec.classes.length + 1;
    const rows = new Float32Array(examples[s].length * width);
    examples[s].forEach((_, r) => rows.set(randomDistribution(rng, width, pick()), r * width));
    return rows;
  });
  return { index, batch: o.batch, generalist, examples, probs };
}

/** The instance as combine() takes it; the caller disposes the tensors (tf.tidy does). */
export function tensorsOf(instance: Instance): CombineInputs {
  const { index, batch, generalist, examples, probs } = instance;
  const specialists: Record<string, tf.Tensor2D> = {};
  index.specialists.forEach((spec, s) => {
    if (examples[s].length > 0) {
      specialists[spec.id] = tf.tensor2d(probs[s], [examples[s].length, spec.classes.length + 1]);
    }
  });
  return { generalist: tf.tensor2d(generalist, [batch, index.numClasses]), specialists, active: examples };
}

/** Example b's problem for the reference solver. */
export function referenceProblem(instance: Instance, b: number): ReferenceProblem {
  const { index, generalist, examples, probs } = instance;
  const n = index.numClasses;
  const specialists: ReferenceProblem['specialists'][number][] = [];
  index.specialists.forEach((spec, s) => {
    const r = examples[s].indexOf(b);
    if (r < 0) return;
    const width = spec.classes.length + 1;
    specialists.push({ classes: spec.classes, probs: probs[s].subarray(r * width, (r + 1) * width) });
  });
  return { generalist: generalist.subarray(b * n, (b + 1) * n), specialists };
}

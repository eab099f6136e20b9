import * as tf from '@tensorflow/tfjs';
import { z } from 'zod';
import type { SpecialistIndex } from './specialist-index.js';

export const RouteOptionsSchema = z.object({
  /** Specialists covering any of the generalist's top-k classes are active; the paper uses k = 1. */
  topK: z.int().positive().default(1),
});
export type RouteOptions = z.input<typeof RouteOptionsSchema>;

export interface Routing {
  /** [batch, specialists] 1 where the specialist is active for the example. The caller disposes it. */
  mask: tf.Tensor2D;
  /** Per specialist (index order): the examples to run it on, ascending; empty = do not run it. */
  examples: number[][];
  /** Per example: the positions of its active specialists, ascending. */
  active: number[][];
}

/** Ascending union of the specialists covering any of the given classes. */
function activeFor(index: SpecialistIndex, classes: ArrayLike<number>): number[] {
  if (classes.length === 1) return [...index.byClass[classes[0]]];
  const union = new Set<number>();
  for (let j = 0; j < classes.length; j++) for (const s of index.byClass[classes[j]]) union.add(s);
  return [...union].sort((x, y) => x - y);
}

/**
 * Picks each example's active specialists from the generalist's top-k classes. The top-k runs as
 * one batched op; only the [batch, k] class ids come back to the host, where the lists are built
 * (they drive which specialist runs on which rows, so the host needs them anyway).
 *
 * @example
 *   const routing = route(index, generalistProbs); // generalistProbs: [batch, classes]
 *   routing.examples.forEach((rows, s) => { if (rows.length) run(index.specialists[s], rows); });
 *   routing.mask.dispose();
 */
export function route(index: SpecialistIndex, generalist: tf.Tensor2D, options: RouteOptions = {}): Routing {
  const { topK } = RouteOptionsSchema.parse(options);
  const [batch, classes] = generalist.shape;
  if (generalist.rank !== 2 || classes !== index.numClasses) {
    throw new Error(`route: generalist must be [batch, ${index.numClasses}], got [${generalist.shape.join(', ')}]`);
  }
  if (topK > classes) throw new Error(`route: topK ${topK} exceeds the ${classes} classes`);
  const top = tf.tidy(
    () =>
      // argMax is a single pass; topk sorts, which is wasted work for the paper's k = 1.
      topK === 1 ? tf.argMax(generalist, 1) : tf.topk(generalist, topK).indices, // [batch] or [batch, k]
  );
  let ids: Int32Array;
  try {
    ids = top.dataSync() as Int32Array;
  } finally {
    top.dispose();
  }
  const specialists = index.specialists.length;
  const active: number[][] = [];
  const examples: number[][] = Array.from({ length: specialists }, () => []);
  const mask = new Float32Array(batch * specialists);
  for (let b = 0; b < batch; b++) {
    const set = activeFor(index, ids.subarray(b * topK, (b + 1) * topK));
    active.push(set);
    for (const s of set) {
      examples[s].push(b);
      mask[b * specialists + s] = 1;
    }
  }
  return { mask: tf.tensor2d(mask, [batch, specialists]), examples, active };
}

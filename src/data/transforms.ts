import { type Split, takeRows } from './dataset.js';
import { holdOut, range } from './holdout.js';
import { createRng, randomInt, type Rng } from './random.js';

/**
 * Transfer-set transforms (Hinton et al. 2015, §3): each returns a new split and leaves its input
 * untouched. Labels keep their original class ids, so a net trained on the result still has one
 * output per class of the dataset.
 */

function rowsWhere(split: Split, keep: (label: number) => boolean): Int32Array {
  const rows: number[] = [];
  for (let i = 0; i < split.n; i++) if (keep(split.y[i])) rows.push(i);
  return Int32Array.from(rows);
}

function classSet(classes: readonly number[], what: string): Set<number> {
  for (const c of classes) {
    if (!Number.isInteger(c) || c < 0) throw new Error(`${what}: ${c} is not a class id`);
  }
  return new Set(classes);
}

/**
 * Every example whose class is not in `classes`: the paper's transfer set with no 3s.
 *
 * @example
 *   const noThrees = dropClasses(mnist.train, [3]);
 */
export function dropClasses(split: Split, classes: readonly number[]): Split {
  const drop = classSet(classes, 'dropClasses');
  return takeRows(split, rowsWhere(split, (label) => !drop.has(label)));
}

/**
 * Only the examples of `classes`: the paper's transfer set of only 7s and 8s.
 *
 * @example
 *   const sevensAndEights = keepClasses(mnist.train, [7, 8]);
 */
export function keepClasses(split: Split, classes: readonly number[]): Split {
  const keep = classSet(classes, 'keepClasses');
  return takeRows(split, rowsWhere(split, (label) => keep.has(label)));
}

export interface FractionOptions {
  seed: number;
  /**
   * Sample each class in proportion to its share (default), so a 3% subset keeps the class balance
   * instead of leaving a rare class nearly empty by chance.
   */
  stratified?: boolean;
}

/**
 * round(fraction · n) examples drawn without replacement, in their original order: the paper's
 * "3% of the training set" experiment.
 *
 * @example
 *   const small = randomFraction(mnist.train, 0.03, { seed: 1 }); // 1650 of 55,000
 */
export function randomFraction(split: Split, fraction: number, options: FractionOptions): Split {
  if (!(fraction >= 0 && fraction <= 1)) throw new Error(`randomFraction: fraction ${fraction} is outside [0, 1]`);
  const size = Math.round(fraction * split.n);
  const rng = createRng(options.seed);
  if (options.stratified ?? true) {
    const numClasses = split.y.reduce((max, label) => Math.max(max, label + 1), 0);
    return takeRows(split, holdOut(split.y, numClasses, range(split.n), size, rng).held);
  }
  const rows = range(split.n);
  for (let i = 0; i < size; i++) {
    const j = i + randomInt(rng, split.n - i);
    const t = rows[i];
    rows[i] = rows[j];
    rows[j] = t;
  }
  return takeRows(split, rows.subarray(0, size).sort());
}

export interface JitterOptions {
  /** One example's shape, [height, width] or [height, width, channels] (the dataset's inputShape). */
  inputShape: readonly number[];
  seed: number;
  /** Largest shift in pixels along each axis; the paper's MNIST teacher used 2. */
  maxShift?: number;
}

/**
 * Each image shifted by its own random (dx, dy), both uniform integers in [-maxShift, maxShift],
 * with zeros (background) shifted in. Seed it per epoch or per batch for fresh shifts each time.
 *
 * @example
 *   const batch = jitter(sliceRows(mnist.train, 0, 128), { inputShape: mnist.inputShape, seed: epoch });
 */
export function jitter(split: Split, options: JitterOptions): Split {
  const [h, w, channels = 1] = options.inputShape;
  const maxShift = options.maxShift ?? 2;
  if (options.inputShape.length < 2 || h * w * channels !== split.features) {
    throw new Error(
      `jitter: inputShape [${options.inputShape.join(', ')}] does not describe images of ${split.features} features`,
    );
  }
  if (!Number.isInteger(maxShift) || maxShift < 0) {
    throw new Error(`jitter: maxShift ${maxShift} is not a whole number ≥ 0`);
  }
  const rng = createRng(options.seed);
  const x = new Float32Array(split.x.length);
  const row = w * channels;
  for (let i = 0; i < split.n; i++) {
    const dx = randomInt(rng, 2 * maxShift + 1) - maxShift;
    const dy = randomInt(rng, 2 * maxShift + 1) - maxShift;
    const base = i * split.features;
    // Only the overlap of the shifted image and the frame is copied; the rest stays zero.
    const x0 = Math.max(0, dx);
    const x1 = Math.min(w, w + dx);
    for (let r = Math.max(0, dy); r < Math.min(h, h + dy); r++) {
      const dst = base + r * row + x0 * channels;
      const src = base + (r - dy) * row + (x0 - dx) * channels;
      x.set(split.x.subarray(src, src + (x1 - x0) * channels), dst);
    }
  }
  // Labels and ids are unchanged, and splits are never mutated, so they are shared, not copied.
  return { x, y: split.y, ids: split.ids, n: split.n, features: split.features };
}

/**
 * A training loop's `augment` hook that jitters each batch with a fresh seed from the loop's
 * generator: the same shifts for the same run, whichever process trains it.
 *
 * @example
 *   trainModel(model, set, validation, config, { augment: jitterBatches(mnist.inputShape, 2) });
 */
export function jitterBatches(inputShape: readonly number[],
  maxShift: number): (x: Float32Array, rows: number, rng: Rng) => Float32Array {
  return (x, rows, rng) => {
    const features = x.length / rows;
    const batch = { x, y: new Int32Array(rows), ids: new Int32Array(rows), n: rows, features };
    return jitter(batch, { inputShape, maxShift, seed: Math.floor(rng() * 2 ** 31) }).x;
  };
}

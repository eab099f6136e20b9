import { createHash } from 'node:crypto';
import { randomInt, type Rng } from './random.js';

/** The seed of every fixed split in data/: the paper's arXiv number, 1503.02531. */
export const SPLIT_SEED = 150302531;

/**
 * Per-class sizes proportional to `counts` that sum exactly to `total` (largest remainder, ties to
 * the lower class id). Integer arithmetic, so the result cannot drift with floating-point rounding.
 *
 * @example
 *   stratifiedQuotas([5, 3, 2], 5); // Int32Array [3, 1, 1]
 */
export function stratifiedQuotas(counts: ArrayLike<number>, total: number): Int32Array {
  let sum = 0;
  for (let c = 0; c < counts.length; c++) sum += counts[c];
  if (total > sum) throw new Error(`cannot hold out ${total} of ${sum} rows`);
  const quotas = new Int32Array(counts.length);
  const remainders: { c: number; r: number }[] = [];
  let assigned = 0;
  for (let c = 0; c < counts.length; c++) {
    const scaled = total * counts[c];
    quotas[c] = Math.floor(scaled / sum);
    remainders.push({ c, r: scaled - quotas[c] * sum });
    assigned += quotas[c];
  }
  remainders.sort((a, b) => b.r - a.r || a.c - b.c);
  for (let i = 0; i < total - assigned; i++) quotas[remainders[i].c]++;
  return quotas;
}

/**
 * Holds `size` of `rows` out, stratified by label (each class in proportion to its share of `rows`),
 * drawing only rows that `eligible` marks with 1. `kept` keeps the order of `rows`; `held` is
 * ascending. Classes are drawn in id order from one stream, so the result depends only on the
 * inputs and the generator's state.
 *
 * @example
 *   const { kept, held } = holdOut(labels, 10, allRows, 5000, createRng(1));
 */
export function holdOut(labels: ArrayLike<number>, numClasses: number, rows: Int32Array, size: number, rng: Rng,
  eligible?: Uint8Array): { kept: Int32Array; held: Int32Array } {
  const byClass: number[][] = Array.from({ length: numClasses }, () => []);
  const counts = new Int32Array(numClasses);
  for (const row of rows) {
    counts[labels[row]]++;
    if (!eligible || eligible[row] === 1) byClass[labels[row]].push(row);
  }
  const quotas = stratifiedQuotas(counts, size);
  const isHeld = new Uint8Array(labels.length);
  const held: number[] = [];
  for (let c = 0; c < numClasses; c++) {
    const candidates = byClass[c];
    if (candidates.length < quotas[c]) {
      throw new Error(`holdOut: class ${c} needs ${quotas[c]} eligible rows, has ${candidates.length}`);
    }
    // Partial Fisher–Yates: the first quota entries become a uniform sample without replacement.
    for (let i = 0; i < quotas[c]; i++) {
      const j = i + randomInt(rng, candidates.length - i);
      const t = candidates[i];
      candidates[i] = candidates[j];
      candidates[j] = t;
      isHeld[candidates[i]] = 1;
      held.push(candidates[i]);
    }
  }
  const kept = rows.filter((row) => isHeld[row] === 0);
  return { kept, held: Int32Array.from(held).sort() };
}

/**
 * 1 for each row of `images` whose bytes occur nowhere else, 0 for every copy of a duplicate. Held-out
 * sets draw only unique rows, so no image can sit on both sides of a split, whichever copy is drawn.
 *
 * @example
 *   uniqueRows(Uint8Array.of(1, 2, 3, 4, 1, 2), 2); // Uint8Array [0, 1, 0]
 */
export function uniqueRows(images: Uint8Array, rowBytes: number): Uint8Array {
  const n = images.length / rowBytes;
  const first = new Map<string, number>();
  const unique = new Uint8Array(n).fill(1);
  for (let i = 0; i < n; i++) {
    const key = createHash('sha1').update(images.subarray(i * rowBytes, (i + 1) * rowBytes)).digest('base64');
    const seen = first.get(key);
    if (seen === undefined) {
      first.set(key, i);
    } else {
      unique[seen] = 0;
      unique[i] = 0;
    }
  }
  return unique;
}

/** 0, 1, …, n-1. */
export function range(n: number): Int32Array {
  const rows = new Int32Array(n);
  for (let i = 0; i < n; i++) rows[i] = i;
  return rows;
}

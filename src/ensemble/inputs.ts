import * as tf from '@tensorflow/tfjs';
import type { CellLayout, EntryMaps, SpecialistRows } from './cells.js';
import type { SpecialistIndex } from './specialist-index.js';

/** How far a row's sum may be from 1 before it is rejected rather than renormalised. */
export const SUM_TOLERANCE = 1e-3;

/**
 * Below this mass (in probability units) a non-empty cell counts as having none: every class in it
 * is then floored to FLOOR, so a dustbin whose mass has nowhere else to go spreads it evenly over
 * the classes that p_g gives zero, instead of dividing by zero. Above it, the floor would change
 * nothing float32 can represent, so it is skipped.
 */
export const DEGENERATE_MASS = 1e-20;
export const FLOOR = 1e-30;

export interface ActiveSets {
  perExample: number[][];
  perSpecialist: number[][];
}

/** Accepts route()'s per-specialist example lists or a [batch, specialists] 0/1 mask. */
export function resolveActive(index: SpecialistIndex, active: readonly (readonly number[])[] | tf.Tensor2D,
  batch: number): ActiveSets {
  const S = index.specialists.length;
  const perExample: number[][] = Array.from({ length: batch }, () => []);
  const perSpecialist: number[][] = Array.from({ length: S }, () => []);
  if (active instanceof tf.Tensor) {
    if (active.rank !== 2 || active.shape[0] !== batch || active.shape[1] !== S) {
      throw new Error(`combine: active mask must be [${batch}, ${S}], got [${active.shape.join(', ')}]`);
    }
    const mask = active.dataSync();
    for (let b = 0; b < batch; b++) {
      for (let s = 0; s < S; s++) {
        if (mask[b * S + s] > 0.5) {
          perExample[b].push(s);
          perSpecialist[s].push(b);
        }
      }
    }
    return { perExample, perSpecialist };
  }
  if (active.length !== S) {
    throw new Error(`combine: active lists one example list per specialist (${S}), got ${active.length}`);
  }
  active.forEach((examples, s) => {
    examples.forEach((b, j) => {
      if (!Number.isInteger(b) || b < 0 || b >= batch || (j > 0 && b <= examples[j - 1])) {
        throw new Error(
          `combine: active examples of specialist "${index.specialists[s].id}" must be ascending integers in 0..${
            batch - 1
          }`,
        );
      }
      perExample[b].push(s);
    });
    perSpecialist[s] = [...examples];
  });
  return { perExample, perSpecialist };
}

export interface SpecialistInput extends SpecialistRows {
  probs: tf.Tensor2D;
}

/** Pairs each active specialist with its probabilities and says which example each row is. */
export function specialistInputs(index: SpecialistIndex, probs: Readonly<Record<string, tf.Tensor2D>>,
  perSpecialist: number[][], batch: number): SpecialistInput[] {
  const known = new Set(index.specialists.map((spec) => spec.id));
  for (const id of Object.keys(probs)) if (!known.has(id)) throw new Error(`combine: unknown specialist "${id}"`);
  const inputs: SpecialistInput[] = [];
  index.specialists.forEach((spec, s) => {
    const examples = perSpecialist[s];
    if (examples.length === 0) return;
    const p = probs[spec.id];
    if (!p) {
      throw new Error(
        `combine: specialist "${spec.id}" is active for ${examples.length} examples but has no probabilities`,
      );
    }
    const width = spec.classes.length + 1;
    const rows = p.shape[0];
    if (p.rank !== 2 || p.shape[1] !== width || (rows !== examples.length && rows !== batch)) {
      throw new Error(
        `combine: specialist "${spec.id}" probabilities must be [${examples.length} active examples or ${batch}, ` +
          `${width}], ` +
          `got [${p.shape.join(', ')}]`,
      );
    }
    const rowExamples = rows === examples.length ? examples : Array.from({ length: batch }, (_, b) => b);
    inputs.push({ specialist: s, rowExamples, probs: p });
  });
  return inputs;
}

/** Null when the sum is acceptable, else what is wrong with the row. */
function sumProblem(sum: number): string | null {
  if (!Number.isFinite(sum)) return 'has a non-finite entry';
  if (Math.abs(sum - 1) <= SUM_TOLERANCE) return null;
  return `sums to ${sum.toPrecision(6)} (must be 1 within ${SUM_TOLERANCE})`;
}

/** The [batch, cells] problem data, assembled in float64 from per-cell sums. */
export interface Assembled {
  mass: Float32Array;
  dustbin: Float32Array;
  inverseWeight: Float32Array;
  /** Per example: the generalist row's sum (it is renormalised by it). */
  generalistSum: Float64Array;
  /** Per used row: its sum. */
  rowSum: Float64Array;
  /** Some non-empty cell of an active example has (almost) no mass: see DEGENERATE_MASS. */
  degenerate: boolean;
}

/**
 * Checks the sums (the policy: within 1e-3 of 1 → renormalised exactly; otherwise rejected, since
 * such rows are logits or the wrong tensor) and builds each cell's mass a_C and each slot's
 * dustbin from the per-cell sums of the raw inputs.
 */
export function assemble(index: SpecialistIndex, layout: CellLayout, entries: EntryMaps,
  generalistCells: ArrayLike<number>, rowCells: ArrayLike<number>): Assembled {
  const { batch: B, cells: C, slots: K } = layout;
  const generalistSum = new Float64Array(B);
  for (let b = 0; b < B; b++) {
    for (let c = 0; c < C; c++) generalistSum[b] += generalistCells[b * C + c];
    const problem = sumProblem(generalistSum[b]);
    if (problem) throw new Error(`combine: generalist row ${b} ${problem}: pass probabilities, not logits`);
  }
  const rowSum = new Float64Array(entries.rows.length);
  entries.rows.forEach(({ specialist, example }, u) => {
    for (let c = 0; c <= C; c++) rowSum[u] += rowCells[u * (C + 1) + c];
    const problem = sumProblem(rowSum[u]);
    if (problem) {
      throw new Error(
        `combine: specialist "${index.specialists[specialist].id}" row for example ${example} ${problem}`,
      );
    }
  });
  const mass = new Float64Array(B * C);
  for (let i = 0; i < B * C; i++) mass[i] = generalistCells[i] / generalistSum[Math.floor(i / C)];
  const dustbin = new Float32Array(B * K);
  entries.rows.forEach(({ example: b, slot }, u) => {
    for (let c = 0; c < C; c++) mass[b * C + c] += rowCells[u * (C + 1) + c] / rowSum[u];
    dustbin[b * K + slot] = rowCells[u * (C + 1) + C] / rowSum[u];
  });
  let degenerate = false;
  const inverseWeight = new Float32Array(B);
  for (let b = 0; b < B; b++) {
    inverseWeight[b] = 1 / (1 + layout.activeCount[b]);
    for (let c = 0; c < C && layout.activeCount[b] > 0; c++) {
      if (layout.cellSize[b * C + c] > 0 && mass[b * C + c] < DEGENERATE_MASS) degenerate = true;
    }
  }
  return { mass: Float32Array.from(mass), dustbin, inverseWeight, generalistSum, rowSum, degenerate };
}

import * as tf from '@tensorflow/tfjs';
import { z } from 'zod';
import { type CellLayout, cellLayout, type EntryMaps, entryMaps } from './cells.js';
import { type Assembled, assemble, FLOOR, resolveActive, specialistInputs } from './inputs.js';
import { DEFAULT_SOLVER, SOLVER_NAMES, SOLVERS, type SolverName } from './solvers.js';
import type { SpecialistIndex } from './specialist-index.js';

export const CombineOptionsSchema = z.object({
  /** A key of SOLVERS; the default is the one that reaches the tolerance sooner (solvers.ts). */
  solver: z.enum(SOLVER_NAMES).default(DEFAULT_SOLVER),
  /** Stop when every example's EM step moves q by at most this in total variation; float32 rounding sits near 1e-7. */
  tolerance: z.number().nonnegative().default(1e-6),
  /** A cap for ill-conditioned inputs; reaching it is reported as converged: false, not thrown. */
  maxIterations: z.int().positive().default(200),
});
export type CombineOptions = z.input<typeof CombineOptionsSchema>;

export interface CombineInputs {
  /** [batch, classes] the generalist's probabilities. */
  generalist: tf.Tensor2D;
  /**
   * By specialist id, each active specialist's probabilities: [rows, |classes| + 1], in the order of
   * its classes, dustbin last. Rows are its active examples in ascending order, or all batch rows.
   */
  specialists: Readonly<Record<string, tf.Tensor2D>>;
  /** route()'s `examples` (per specialist, ascending example lists), or a [batch, specialists] 0/1 mask. */
  active: readonly (readonly number[])[] | tf.Tensor2D;
}

export interface CombineResult {
  /** [batch, classes] the combined distribution. The caller disposes it. */
  q: tf.Tensor2D;
  solver: SolverName;
  iterations: number;
  /** The largest per-example TV step of the last iteration (see CombineOptions.tolerance). */
  residual: number;
  converged: boolean;
}

/**
 * Per example, the q over all classes minimising KL(p_g‖q) + Σ_{m active} KL(p_m‖q̃_m), where q̃_m
 * keeps q on specialist m's classes and pools the rest into its dustbin.
 *
 * Inputs: every entry must be finite and ≥ 0 (zeros and exact ones are fine); every row of p_g and
 * every used specialist row must sum to 1 within 1e-3 and is then renormalised exactly; anything
 * else throws, naming the input and row. Examples with no active specialist get p_g back bit for
 * bit. If a dustbin's mass can only go to classes p_g gives exactly zero, it is spread evenly over
 * them. The output has no NaN.
 *
 * @example
 *   const routing = route(index, pg);
 *   const outputs = { cats: catsProbs }; // [routing.examples[0].length, 3]
 *   const { q } = combine(index, { generalist: pg, specialists: outputs, active: routing.examples });
 */
export function combine(index: SpecialistIndex, inputs: CombineInputs, options: CombineOptions = {}): CombineResult {
  const settings = CombineOptionsSchema.parse(options);
  const generalist = inputs.generalist;
  if (generalist.rank !== 2 || generalist.shape[1] !== index.numClasses) {
    throw new Error(`combine: generalist must be [batch, ${index.numClasses}], got [${generalist.shape.join(', ')}]`);
  }
  const batch = generalist.shape[0];
  const active = resolveActive(index, inputs.active, batch);
  const specialists = specialistInputs(index, inputs.specialists, active.perSpecialist, batch);
  const layout = cellLayout(index, active.perExample);
  const entries = entryMaps(index, layout, specialists);
  const owned: tf.Tensor[] = [];
  const keep = <T extends tf.Tensor>(t: T): T => (owned.push(t), t);
  try {
    const flat = keep(
      specialists.length > 0 ?
        tf.tidy(() => tf.concat(specialists.map((input) => tf.reshape(input.probs, [-1]))) as tf.Tensor1D) :
        tf.zeros([0]) as tf.Tensor1D,
    ); // [L] every entry of every specialist row
    const cellOfClass = keep(tf.tensor1d(layout.cellOfClass, 'int32')); // [batch * classes]
    const rowCell = keep(tf.tensor1d(entries.rowCell, 'int32')); // [L]
    let source: tf.Tensor2D = generalist;
    const maps = { cellOfClass, rowCell, layout, entries };
    let assembled = assemble(index, layout, entries, ...sumCells(index, source, flat, maps, true));
    if (assembled.degenerate) {
      const floor = Float32Array.from(layout.activeCount, (count) => (count > 0 ? FLOOR : 0));
      source = keep(tf.tidy(() => tf.maximum(generalist, tf.tensor2d(floor, [batch, 1])))); // [batch, classes]
      assembled = assemble(index, layout, entries, ...sumCells(index, source, flat, maps, false));
    }
    if (entries.rows.length === 0) {
      return { q: tf.clone(generalist), solver: settings.solver, iterations: 0, residual: 0, converged: true };
    }
    const { batch: B, cells: C, slots: K } = layout;
    const problem = {
      mass: keep(tf.tensor2d(assembled.mass, [B, C])),
      dustbin: keep(tf.tensor2d(assembled.dustbin, [B, K])),
      outside: keep(tf.tensor2d(layout.outside, [C, K])),
      inverseWeight: keep(tf.tensor2d(assembled.inverseWeight, [B, 1])),
    };
    const solved = SOLVERS[settings.solver](problem, settings);
    const cells = keep(solved.cells).dataSync();
    const q = tf.tidy(() => {
      const scale = tf.tensor1d(classScale(entries, assembled)); // [L]
      const placed = tf.denseBincount(tf.tensor1d(entries.classOf, 'int32'), tf.mul(flat, scale),
        B * index.numClasses + 1);
      // [batch, classes]
      const fromSpecialists = tf.reshape(tf.slice(placed, 0, B * index.numClasses), [B, index.numClasses]);
      const ratio = tf.tensor2d(classRatios(layout, assembled, cells), [B, index.numClasses]); // [batch, classes]
      return tf.mul(tf.add(source, fromSpecialists), ratio) as tf.Tensor2D; // [batch, classes]
    });
    return { q, solver: settings.solver, iterations: solved.iterations, residual: solved.residual,
      converged: solved.converged };
  } finally {
    tf.dispose(owned);
  }
}

/**
 * Per-cell sums of the raw inputs in one pass and one host sync: the generalist's mass per cell
 * and each used specialist row's mass per cell (dustbin in column C). Also checks signs first,
 * so a negative entry is named as such rather than as a bad sum.
 */
function sumCells(index: SpecialistIndex, generalist: tf.Tensor2D, flat: tf.Tensor1D,
  { cellOfClass, rowCell, layout, entries }: { cellOfClass: tf.Tensor1D; rowCell: tf.Tensor1D; layout: CellLayout;
    entries: EntryMaps }, checkSigns: boolean): [Float32Array, Float32Array] {
  const { batch: B, cells: C } = layout;
  const generalistCells = B * C;
  const rowCells = entries.rows.length * (C + 1) + 1; // + the dump bin of unused rows
  const summary = tf.tidy(() =>
    tf.concat([
      tf.reshape(tf.min(generalist), [1]),
      tf.reshape(flat.size > 0 ? tf.min(flat) : tf.scalar(0), [1]),
      tf.denseBincount(cellOfClass, tf.reshape(generalist, [-1]), generalistCells), // [batch * cells]
      tf.denseBincount(rowCell, flat, rowCells), // [rows * (cells + 1) + 1]
    ])
  );
  let values: Float32Array;
  try {
    values = summary.dataSync() as Float32Array;
  } finally {
    summary.dispose();
  }
  if (checkSigns && !(values[0] >= 0)) {
    throw new Error(`combine: generalist has a negative or non-finite probability (min ${values[0]})`);
  }
  if (checkSigns && !(values[1] >= 0)) {
    throw new Error(
      `combine: specialist probabilities have a negative or non-finite entry (min ${values[1]}): ${
        [...new Set(entries.rows.map((row) => index.specialists[row.specialist].id))].join(', ')
      }`,
    );
  }
  return [values.subarray(2, 2 + generalistCells),
    values.subarray(2 + generalistCells, 2 + generalistCells + rowCells)];
}

/** [L] s_b / rowSum: puts specialist entries in the generalist's raw scale, so one ratio per class serves both. */
function classScale(entries: EntryMaps, assembled: Assembled): Float32Array {
  const scale = new Float32Array(entries.rowOf.length);
  for (let e = 0; e < scale.length; e++) {
    const u = entries.rowOf[e];
    if (u >= 0) scale[e] = assembled.generalistSum[entries.rows[u].example] / assembled.rowSum[u];
  }
  return scale;
}

/** Reused like cells.ts's cell map: the tensor made from it lives only inside combine's output tidy. */
let scratchRatio = new Float32Array(0);

/**
 * [batch * classes] q_i / raw a_i: Q_C / (a_C s_b) for the class's cell, where s_b renormalises the
 * generalist row; exactly 1 for examples with no active specialist, which so return p_g unchanged.
 */
function classRatios(layout: CellLayout, assembled: Assembled, cells: ArrayLike<number>): Float32Array {
  const { batch: B, cells: C, numClasses: N } = layout;
  const perCell = new Float64Array(B * C);
  for (let b = 0; b < B; b++) {
    for (let c = 0; c < C; c++) {
      const i = b * C + c;
      const mass = assembled.mass[i];
      perCell[i] = layout.activeCount[b] === 0 ? 1 : mass > 0 ? cells[i] / (mass * assembled.generalistSum[b]) : 0;
    }
  }
  if (scratchRatio.length < B * N) scratchRatio = new Float32Array(B * N);
  const ratio = scratchRatio.subarray(0, B * N);
  for (let b = 0; b < B; b++) {
    const outside = perCell[b * C];
    for (let i = b * N; i < (b + 1) * N; i++) ratio[i] = outside;
  }
  for (const at of layout.covered) ratio[at] = perCell[layout.cellOfClass[at]];
  return ratio;
}

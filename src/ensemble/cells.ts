import type { SpecialistIndex } from './specialist-index.js';

/**
 * Host bookkeeping for one batch. Each example's active specialists take slots 0..K-1; a class's
 * pattern is the set of slots whose specialist covers it. The objective sees a class only through
 * its pattern (dustbins pool whole patterns), so within a pattern the optimal q is proportional to
 * the class's own mass a_i, and the problem shrinks to one unknown per *cell* (example, pattern).
 * Patterns are numbered per batch, pattern 0 (no active specialist) first, so all examples share
 * one [cells, slots] layout.
 */
export interface CellLayout {
  batch: number;
  numClasses: number;
  /** K: the most specialists active for one example in the batch. */
  slots: number;
  /** C: the distinct patterns occurring in the batch. */
  cells: number;
  /** [C * K] 1 where the pattern's classes lie outside the slot's specialist. */
  outside: Float32Array;
  /** [B * N] b * C + cell of each (example, class), to aggregate per-class tensors into cells. */
  cellOfClass: Int32Array;
  /** Flat (b * N + class) positions of classes in some active specialist, each once; the rest sit in cell 0. */
  covered: Int32Array;
  /** [B * C] classes per cell (0 = an empty cell, which keeps zero mass). */
  cellSize: Int32Array;
  /** [B * S] slot of specialist s for example b, or -1. */
  slotOf: Int32Array;
  /** [B] how many specialists are active for each example. */
  activeCount: Int32Array;
}

/** Patterns are bit sets in an int32 and numbered through a 2^K table; 16 keeps that table at 256 KB. */
export const MAX_ACTIVE = 16;

let scratchCells = new Int32Array(0);

/**
 * The [B * N] cell map reuses one buffer across calls: a fresh 256 KB typed array costs ~75 µs on
 * the 2-core build machine, a third of the host bookkeeping. Safe because combine() is synchronous
 * and disposes the tensor made from it before returning.
 */
function cellMapBuffer(size: number): Int32Array {
  if (scratchCells.length < size) scratchCells = new Int32Array(size);
  return scratchCells.subarray(0, size);
}

export function cellLayout(index: SpecialistIndex, active: readonly (readonly number[])[]): CellLayout {
  const batch = active.length;
  const numClasses = index.numClasses;
  const specialists = index.specialists.length;
  const slots = active.reduce((most, set) => Math.max(most, set.length), 0);
  if (slots > MAX_ACTIVE) {
    throw new Error(
      `combine: ${slots} specialists are active for one example, at most ${MAX_ACTIVE} are supported: lower topK`,
    );
  }
  const slotOf = new Int32Array(batch * specialists).fill(-1);
  const activeCount = new Int32Array(batch);
  let listed = 0;
  for (let b = 0; b < batch; b++) {
    activeCount[b] = active[b].length;
    for (let k = 0; k < active[b].length; k++) {
      slotOf[b * specialists + active[b][k]] = k;
      listed += index.specialists[active[b][k]].classes.length;
    }
  }
  // Pass 1, one example at a time in a scratch row: each covered class's pattern, numbered as met
  // (pattern 0 first). Pass 2 needs the final count C to write b * C + cell.
  const scratch = new Int32Array(numClasses);
  const idOf = new Int32Array(1 << slots).fill(-1);
  idOf[0] = 0;
  const patterns = [0];
  const covered = new Int32Array(listed);
  const coveredId = new Int32Array(listed);
  let n = 0;
  for (let b = 0; b < batch; b++) {
    const first = n;
    for (let k = 0; k < active[b].length; k++) {
      for (const c of index.specialists[active[b][k]].classes) {
        if (scratch[c] === 0) covered[n++] = b * numClasses + c;
        scratch[c] |= 1 << k;
      }
    }
    for (let j = first; j < n; j++) {
      const c = covered[j] - b * numClasses;
      const p = scratch[c];
      if (idOf[p] < 0) {
        idOf[p] = patterns.length;
        patterns.push(p);
      }
      coveredId[j] = idOf[p];
      scratch[c] = 0;
    }
  }
  const cells = patterns.length;
  const outside = new Float32Array(cells * slots);
  patterns.forEach((p, cell) => {
    for (let k = 0; k < slots; k++) outside[cell * slots + k] = (p >> k) & 1 ? 0 : 1;
  });
  const cellOfClass = cellMapBuffer(batch * numClasses);
  const cellSize = new Int32Array(batch * cells);
  for (let b = 0; b < batch; b++) {
    const base = b * numClasses;
    for (let i = 0; i < numClasses; i++) cellOfClass[base + i] = b * cells; // a loop beats fill() on ranges here
    cellSize[b * cells] = numClasses;
  }
  for (let j = 0; j < n; j++) {
    const b = Math.floor(covered[j] / numClasses);
    const cell = b * cells + coveredId[j];
    cellOfClass[covered[j]] = cell;
    cellSize[cell]++;
    cellSize[b * cells]--;
  }
  return { batch, numClasses, slots, cells, outside, cellOfClass, covered: covered.subarray(0, n), cellSize, slotOf,
    activeCount };
}

/** One specialist's probabilities as passed in, with the example of each row. */
export interface SpecialistRows {
  specialist: number;
  rowExamples: ArrayLike<number>;
}

/**
 * Where each entry of the concatenated specialist probabilities goes. A *used row* is one
 * (specialist, example) pair that is active; rows of inactive pairs (when all rows are passed)
 * and their entries go to a dump bin past the end, which is sliced away.
 */
export interface EntryMaps {
  /** Per used row: its specialist (index position), example and slot. */
  rows: { specialist: number; example: number; slot: number }[];
  /** [L] u * (C + 1) + cell for a class entry of used row u, u * (C + 1) + C for its dustbin. */
  rowCell: Int32Array;
  /** [L] b * N + class for class entries of used rows, B * N (dump) otherwise. */
  classOf: Int32Array;
  /** [L] used row of the entry, -1 for unused rows. */
  rowOf: Int32Array;
}

export function entryMaps(index: SpecialistIndex, layout: CellLayout, inputs: readonly SpecialistRows[]): EntryMaps {
  const { numClasses: N, cells: C, batch: B } = layout;
  const S = index.specialists.length;
  const length = inputs.reduce(
    (sum, input) => sum + input.rowExamples.length * (index.specialists[input.specialist].classes.length + 1),
    0,
  );
  const rowCell = new Int32Array(length);
  const classOf = new Int32Array(length);
  const rowOf = new Int32Array(length);
  const rows: EntryMaps['rows'] = [];
  let e = 0;
  for (const { specialist, rowExamples } of inputs) {
    const classes = index.specialists[specialist].classes;
    for (let r = 0; r < rowExamples.length; r++) {
      const b = rowExamples[r];
      const slot = layout.slotOf[b * S + specialist];
      if (slot < 0) {
        const end = e + classes.length + 1;
        rowCell.fill(-1, e, end); // patched to the dump bin once the row count is known
        classOf.fill(B * N, e, end);
        rowOf.fill(-1, e, end);
        e = end;
        continue;
      }
      const u = rows.length;
      rows.push({ specialist, example: b, slot });
      for (const c of classes) {
        rowCell[e] = u * (C + 1) + layout.cellOfClass[b * N + c] - b * C;
        classOf[e] = b * N + c;
        rowOf[e++] = u;
      }
      rowCell[e] = u * (C + 1) + C;
      classOf[e] = B * N;
      rowOf[e++] = u;
    }
  }
  const dump = rows.length * (C + 1);
  for (let i = 0; i < length; i++) if (rowCell[i] < 0) rowCell[i] = dump;
  return { rows, rowCell, classOf, rowOf };
}

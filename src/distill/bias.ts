import { argmaxRows, type Evaluation, scorePredictions } from './evaluate.js';

/** Logits with `delta` added to the given classes' columns: the same as shifting their output biases. */
export function shiftLogits(logits: Float32Array, numClasses: number, classes: readonly number[],
  delta: number): Float32Array {
  const out = logits.slice();
  for (let row = 0; row < out.length; row += numClasses) for (const c of classes) out[row + c] += delta;
  return out;
}

export interface BiasTuning {
  delta: number;
  validationErrors: number;
  /** Validation errors at each candidate, for the report. */
  curve: { delta: number; errors: number }[];
}

/**
 * The output-bias shift for `classes` that minimises validation errors over a grid: the paper
 * raises the bias of the 3s after distilling without them, and lowers those of 7 and 8 after
 * distilling on them alone. Tuned on validation only, never on test.
 *
 * @example
 *   const { delta } = tuneBiasShift(valLogits, valLabels, 10, [3], range(0, 10, 0.25));
 */
export function tuneBiasShift(logits: Float32Array, labels: Int32Array, numClasses: number, classes: readonly number[],
  candidates: readonly number[]): BiasTuning {
  if (candidates.length === 0) throw new Error('tuneBiasShift: no candidate shifts');
  const curve = candidates.map((delta) => ({
    delta,
    errors:
      scorePredictions(argmaxRows(shiftLogits(logits, numClasses, classes, delta), numClasses), labels, numClasses)
        .errors,
  }));
  // Ties go to the smallest |shift|: the least change that reaches the best error.
  const best = curve.reduce((a,
    b) => (b.errors < a.errors || (b.errors === a.errors && Math.abs(b.delta) < Math.abs(a.delta)) ? b : a)
  );
  return { delta: best.delta, validationErrors: best.errors, curve };
}

/** Evaluation of logits after a bias shift. */
export function evaluateShifted(logits: Float32Array, labels: Int32Array, numClasses: number,
  classes: readonly number[], delta: number): Evaluation {
  return scorePredictions(argmaxRows(shiftLogits(logits, numClasses, classes, delta), numClasses), labels, numClasses);
}

/** Evenly spaced values from `start` to `end` inclusive. */
export function grid(start: number, end: number, step: number): number[] {
  const count = Math.round((end - start) / step);
  return Array.from({ length: count + 1 }, (_, i) => Number((start + i * step).toFixed(10)));
}

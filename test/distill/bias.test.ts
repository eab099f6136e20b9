import { describe, expect, it } from 'vitest';
import { evaluateShifted, grid, shiftLogits, tuneBiasShift } from '../../src/distill/index.js';

describe('bias shifts', () => {
  // Three classes; class 2 is under-predicted by 1.5 logits in every row whose label is 2.
  const labels = Int32Array.of(0, 1, 2, 2, 2, 0);
  const logits = Float32Array.of(
    3,
    1,
    0,
    0,
    3,
    1,
    1,
    0,
    0, // label 2 but scored below class 0 by 1
    0,
    1,
    0.5, // label 2, below class 1 by 0.5
    0,
    0.2,
    -0.5, // label 2, below class 1 by 0.7
    2,
    0,
    0.5, // label 0, class 2 behind by 1.5: a larger shift breaks it
  );

  it('shifts only the chosen columns', () => {
    expect(Array.from(shiftLogits(Float32Array.of(1, 2, 3), 3, [1], 0.5))).toEqual([1, 2.5, 3]);
  });

  it('finds the shift that fixes the under-predicted class without breaking the others', () => {
    const tuned = tuneBiasShift(logits, labels, 3, [2], grid(0, 3, 0.25));
    expect(tuned.delta).toBeGreaterThan(1);
    expect(tuned.delta).toBeLessThan(1.5);
    expect(tuned.validationErrors).toBe(0);
    expect(tuned.curve[0]).toEqual({ delta: 0, errors: 3 });
    expect(evaluateShifted(logits, labels, 3, [2], tuned.delta).errors).toBe(0);
    expect(evaluateShifted(logits, labels, 3, [2], 3).errors).toBeGreaterThan(0); // too far: other rows flip to 2
  });

  it('prefers the smallest shift among equally good ones and refuses an empty grid', () => {
    expect(tuneBiasShift(logits, labels, 3, [0], [-0.1, 0, 0.1]).delta).toBe(0);
    expect(() => tuneBiasShift(logits, labels, 3, [0], [])).toThrow(/no candidate/);
    expect(grid(-1, 1, 0.5)).toEqual([-1, -0.5, 0, 0.5, 1]);
  });
});

import { beforeAll, describe, expect, it } from 'vitest';
import { createGaussian, createRng } from '../../src/data/index.js';
import { initEngine } from '../../src/engine/index.js';
import { averageMemberArrays } from '../../src/ensemble/index.js';

beforeAll(async () => {
  await initEngine({ backend: 'auto', log: () => {} });
});

/** Float64 reference: each member's softmax, then the arithmetic or the renormalised geometric mean. */
function reference(members: Float32Array[], classes: number, averaging: 'probabilities' | 'logits'): Float64Array {
  const rows = members[0].length / classes;
  const out = new Float64Array(rows * classes);
  for (let r = 0; r < rows; r++) {
    const pooled = new Float64Array(classes);
    for (const logits of members) {
      const row = Array.from(logits.subarray(r * classes, (r + 1) * classes));
      const max = Math.max(...row);
      const z = row.reduce((s, v) => s + Math.exp(v - max), 0);
      row.forEach((v, j) => {
        const logP = v - max - Math.log(z);
        pooled[j] += averaging === 'probabilities' ? Math.exp(logP) / members.length : logP / members.length;
      });
    }
    const probabilities = averaging === 'probabilities' ? pooled : pooled.map(Math.exp);
    const total = probabilities.reduce((s, v) => s + v, 0);
    probabilities.forEach((p, j) => {
      out[r * classes + j] = Math.log(p / total);
    });
  }
  return out;
}

describe('averageMembers', () => {
  const gaussian = createGaussian(createRng(5));
  const classes = 7;
  // Members that disagree strongly (scale 6), so the two averages differ.
  const members = [0, 1, 2, 3].map(() => Float32Array.from({ length: 9 * classes }, () => 6 * gaussian()));

  it.each(['probabilities', 'logits'] as const)('returns the log of the %s average, as float64 computes it',
    (averaging) => {
      const got = averageMemberArrays(members, classes, averaging);
      const want = reference(members, classes, averaging);
      for (let i = 0; i < want.length; i++) expect(got[i]).toBeCloseTo(want[i], 4);
    });

  it('the two averages differ where a member vetoes a class, and one member is its own log-softmax', () => {
    // Member 2 gives class 0 a probability near e^-30: the geometric mean drops it, the arithmetic keeps ~half.
    const a = Float32Array.from([5, 0, 0]);
    const b = Float32Array.from([-25, 5, 0]);
    const arithmetic = averageMemberArrays([a, b], 3, 'probabilities');
    const geometric = averageMemberArrays([a, b], 3, 'logits');
    expect(Math.exp(arithmetic[0])).toBeGreaterThan(0.45);
    expect(Math.exp(geometric[0])).toBeLessThan(0.01);
    const alone = averageMemberArrays([a], 3);
    const z = Math.log(Math.exp(5) + 2);
    expect(Array.from(alone)).toEqual([5 - z, -z, -z].map((v) => expect.closeTo(v, 5)));
  });

  it('refuses an ensemble of no members', () => {
    expect(() => averageMemberArrays([], 3)).toThrow(/at least one member/);
  });
});

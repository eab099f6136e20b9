import { describe, expect, it } from 'vitest';
import { pairedRelativeError, scoreByCoverage } from '../../src/experiments/specialists.js';

// Reference: the standard error of Σd / G computed from the per-example differences themselves,
// d = ensemble right − generalist right, with their population variance (float64, no shortcut).
function referenceError(differences: number[], generalistCorrect: number): number {
  const n = differences.length;
  const mean = differences.reduce((a, d) => a + d, 0) / n;
  const variance = differences.reduce((a, d) => a + (d - mean) ** 2, 0) / n;
  return Math.sqrt(n * variance) / generalistCorrect;
}

describe('scoreByCoverage', () => {
  it('groups test examples by how many specialists cover their class, with paired standard errors', () => {
    // Classes 0 and 1 covered once, class 2 twice, class 3 never.
    const specialists = [{ classes: [0, 1, 2] }, { classes: [2] }];
    const labels = Int32Array.from([0, 0, 1, 1, 2, 2, 2, 2, 3, 3]);
    const generalist = Int32Array.from([0, 1, 1, 0, 2, 0, 0, 2, 3, 0]);
    const ensemble = Int32Array.from([0, 0, 0, 1, 2, 2, 0, 0, 3, 0]);
    const score = scoreByCoverage(specialists, labels, generalist, ensemble, 4);
    expect(score.byCoverage.map((r) => [r.specialists, r.examples, r.generalistCorrect, r.ensembleCorrect])).toEqual([
      [0, 2, 1, 1], [1, 4, 2, 3], [2, 4, 2, 2],
    ]);
    const once = score.byCoverage[1];
    // Per example in class order: (g, e) = (1,1), (0,1), (1,0), (0,1) → d = 0, 1, −1, 1.
    expect(once.standardError).toBeCloseTo(referenceError([0, 1, -1, 1], 2), 12);
    expect(score.byCoverage[2].standardError).toBeCloseTo(referenceError([0, 1, 0, -1], 2), 12);
    expect(score).toMatchObject({ covered: 8, generalistOnCovered: 4, ensembleOnCovered: 3 });
  });

  it('agrees with the per-example reference on a large random level, and is 0 when nothing changes', () => {
    let state = 7;
    const random = () => (state = (state * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    const n = 5000;
    const labels = new Int32Array(n);
    const generalist = Int32Array.from({ length: n }, () => (random() < 0.8 ? 0 : 1));
    const ensemble = Int32Array.from(generalist, (g) => (random() < 0.1 ? 1 - g : g));
    const [row] = scoreByCoverage([{ classes: [0] }], labels, generalist, ensemble, 1).byCoverage;
    const differences = Array.from(generalist, (g, i) => Number(ensemble[i] === 0) - Number(g === 0));
    expect(row.standardError).toBeCloseTo(referenceError(differences, row.generalistCorrect), 12);
    expect(pairedRelativeError(0, 0, 100, 90)).toBe(0);
  });
});

import { Matrix } from 'ml-matrix';
import { beforeAll, describe, expect, it } from 'vitest';
import { initEngine } from '../../src/engine/index.js';
import { adjustedRandIndex, clusterClasses, ClusteringConfig, predictionCovariance } from
  '../../src/specialists/index.js';

beforeAll(async () => {
  await initEngine({ backend: 'auto', log: () => {} });
});

/** Probabilities where classes hedge only within planted groups: what a generalist would produce. */
function hedgingProbabilities(groups: number[][], classes: number, rows: number, seed = 1): Float32Array {
  let s = seed;
  const random = () => ((s = (s * 16807) % 2147483647) / 2147483647);
  const out = new Float32Array(rows * classes);
  for (let r = 0; r < rows; r++) {
    const group = groups[r % groups.length];
    const split = random();
    out[r * classes + group[0]] = 0.98 * split + 0.01;
    // The rest of the group shares the remainder: every member co-varies with the others.
    for (const c of group.slice(1)) out[r * classes + c] = (0.98 * (1 - split)) / (group.length - 1);
    let sum = 0;
    for (let c = 0; c < classes; c++) sum += out[r * classes + c];
    for (let c = 0; c < classes; c++) out[r * classes + c] += (1 - sum) / classes;
    // rotate the lead class so each class leads sometimes
    groups[r % groups.length] = [...group.slice(1), group[0]];
  }
  return out;
}

describe('prediction covariance', () => {
  it('equals the float64 sample covariance', () => {
    const probs = hedgingProbabilities([[0, 1], [2, 3, 4]], 5, 50);
    const cov = predictionCovariance(probs, 5);
    const n = 50;
    const mean = Array.from({ length: 5 }, (_, c) => {
      let s = 0;
      for (let r = 0; r < n; r++) s += probs[r * 5 + c];
      return s / n;
    });
    for (let i = 0; i < 5; i++) {
      for (let j = 0; j < 5; j++) {
        let s = 0;
        for (let r = 0; r < n; r++) s += (probs[r * 5 + i] - mean[i]) * (probs[r * 5 + j] - mean[j]);
        expect(cov.get(i, j)).toBeCloseTo(s / (n - 1), 5);
      }
    }
  });

  it('rejects fewer than two rows', () => {
    expect(() => predictionCovariance(new Float32Array(5), 5)).toThrow(/at least 2 rows/);
  });
});

describe('clusterClasses', () => {
  const groups = [[0, 1, 2], [3, 4], [5, 6, 7, 8], [9, 10, 11]];
  let cov: Matrix;
  beforeAll(() => {
    cov = predictionCovariance(hedgingProbabilities(groups.map((g) => [...g]), 12, 600), 12);
  });
  const truth = Array.from({ length: 12 }, (_, c) => groups.findIndex((g) => g.includes(c)));

  it('recovers planted groups of confused classes', () => {
    const { clusters, assignment } = clusterClasses(cov, { clusters: 4, seed: 3 });
    expect(adjustedRandIndex(assignment, truth)).toBe(1);
    expect(clusters.map((c) => c.classes).sort((a, b) => a[0] - b[0])).toEqual(groups);
  });

  it('splits clusters above maxSize and drops those below minSize', () => {
    const { clusters } = clusterClasses(cov, { clusters: 4, maxSize: 3, minSize: 3, seed: 3 });
    expect(clusters.every((c) => c.classes.length <= 3 && c.classes.length >= 3)).toBe(true);
    expect(clusters.flatMap((c) => c.classes)).not.toContain(3); // [3, 4] is too small to keep
  });

  it('adds no class to a group it is not confused with, however large the overlap', () => {
    const single = clusterClasses(cov, { clusters: 4, seed: 3 });
    expect(clusterClasses(cov, { clusters: 4, seed: 3, overlap: 3, overlapShare: 0 })).toEqual(single);
  });

  it('lets a class confused with two groups join both, and not a group where it meets one stray confuser', () => {
    // Groups {0,1,2}, {3,4,5,10}, {6,7,8}; class 9 is confused with {0,1,2} and {6,7,8} alike, and class
    // 10 with its own group and a little with class 6 (a 0.06 / 0.96 share, under the 0.2 default).
    const confused = (i: number, j: number) => {
      const group = (c: number) => (c === 10 ? 1 : c === 9 ? -1 : Math.floor(c / 3));
      if (i === j) return 1;
      if ([i, j].includes(9)) return [0, 2].includes(group(i === 9 ? j : i)) ? 0.15 : -0.01;
      if ((i === 6 && j === 10) || (i === 10 && j === 6)) return 0.06;
      return group(i) === group(j) ? 0.3 : -0.01;
    };
    const bridged = new Matrix(Array.from({ length: 11 }, (_, i) => Array.from({ length: 11 }, (_, j) =>
      confused(i, j))));
    const coveringClass = (c: number, overlap: number) => clusterClasses(bridged, { clusters: 3, seed: 3, overlap })
      .clusters.filter((k) => k.classes.includes(c)).map((k) => k.classes.filter((m) => m !== 9 && m !== 10));
    expect(coveringClass(9, 1)).toHaveLength(1);
    expect(coveringClass(9, 2).sort((a, b) => a[0] - b[0])).toEqual([[0, 1, 2], [6, 7, 8]]);
    expect(coveringClass(9, 3)).toHaveLength(2); // no third group holds any of its confusion
    expect(coveringClass(10, 3)).toEqual([[3, 4, 5]]);
    expect(clusterClasses(bridged, { clusters: 3, seed: 3, overlap: 2, overlapShare: 0.05 }).clusters
      .filter((k) => k.classes.includes(10))).toHaveLength(2);
  });

  it('passes over a full group to the next one a class is confused with', () => {
    // Groups {0,1,2,3}, {4,5,6}, {7,8,9}; class 9 puts 0.31 of its confusion in the first, 0.23 in the second.
    const groupOf = (c: number) => (c <= 3 ? 0 : c <= 6 ? 1 : 2);
    const confused = (i: number, j: number) => {
      if (i === j) return 1;
      if (i === 9 || j === 9) return groupOf(i === 9 ? j : i) === 2 ? 0.3 : 0.1;
      return groupOf(i) === groupOf(j) ? 0.3 : -0.01;
    };
    const matrix = new Matrix(Array.from({ length: 10 }, (_, i) => Array.from({ length: 10 }, (_, j) =>
      confused(i, j))));
    const groupsOf9 = (maxSize: number) => clusterClasses(matrix, { clusters: 3, seed: 3, overlap: 2, maxSize })
      .clusters.filter((k) => k.classes.includes(9)).map((k) => k.classes.filter((c) => c !== 9));
    expect(groupsOf9(0)).toEqual([[0, 1, 2, 3], [7, 8]]);
    expect(groupsOf9(4)).toEqual([[7, 8], [4, 5, 6]]); // {0,1,2,3} is full at 4
  });

  it('adds nothing to a parsed config that leaves overlapShare out, so existing runs keep their stage hashes', () => {
    expect(Object.keys(ClusteringConfig.parse({ clusters: 3 })).sort()).toEqual(['clusters', 'maxSize', 'minSize',
      'normalize', 'overlap', 'restarts', 'seed']);
  });

  it('refuses an overlap share outside [0, 1] or not a number', () => {
    for (const overlapShare of [-0.1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, '0.2']) {
      expect(() => clusterClasses(cov, { clusters: 4, overlap: 2, overlapShare } as never)).toThrow();
    }
  });

  it('is deterministic for a seed', () => {
    expect(clusterClasses(cov, { clusters: 3, seed: 9 })).toEqual(clusterClasses(cov, { clusters: 3, seed: 9 }));
  });

  it('accepts a covariance with more clusters requested than classes', () => {
    const tiny = new Matrix([[1, 0.5], [0.5, 1]]);
    expect(clusterClasses(tiny, { clusters: 5, minSize: 1 }).clusters.length).toBeLessThanOrEqual(2);
  });
});

describe('adjustedRandIndex', () => {
  it('matches known values', () => {
    expect(adjustedRandIndex([0, 0, 1, 1], [1, 1, 0, 0])).toBe(1);
    // scikit-learn's documented example: adjusted_rand_score([0, 0, 1, 1], [0, 0, 1, 2]) = 0.5714…
    expect(adjustedRandIndex([0, 0, 1, 1], [0, 0, 1, 2])).toBeCloseTo(4 / 7, 10);
    expect(adjustedRandIndex([0, 0, 0, 0], [0, 1, 2, 3])).toBeCloseTo(0, 10);
    expect(() => adjustedRandIndex([0], [0, 1])).toThrow();
  });
});

describe('column normalisation', () => {
  it('groups confident classes by their confusion pattern, not by their small variance', () => {
    // Two groups hedge strongly, two weakly: raw columns put both weak groups together near zero.
    const groups = [[0, 1], [2, 3], [4, 5], [6, 7]];
    const scale = [1, 1, 0.02, 0.02];
    const cov = new Matrix(8, 8);
    groups.forEach((g, k) => {
      for (const i of g) for (const j of g) cov.set(i, j, scale[k] * (i === j ? 1 : 0.9));
    });
    const truth = [0, 0, 1, 1, 2, 2, 3, 3];
    const unit = clusterClasses(cov, { clusters: 4, seed: 2 });
    const raw = clusterClasses(cov, { clusters: 4, seed: 2, normalize: false });
    expect(adjustedRandIndex(unit.assignment, truth)).toBe(1);
    expect(adjustedRandIndex(raw.assignment, truth)).toBeLessThan(1);
  });
});

import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { createRng } from '../../src/data/random.js';
import { initEngine } from '../../src/engine/index.js';
import { buildSpecialistIndex, combine, type CombineInputs, type CombineOptions, type SpecialistIndex,
  SOLVER_NAMES } from '../../src/ensemble/index.js';
import { type Instance, randomDistribution, randomInstance, referenceProblem, tensorsOf } from './instances.js';
import { objective, referenceSolve, totalVariation } from './reference-solver.js';

beforeAll(async () => {
  await initEngine({ backend: 'auto', log: () => {} });
});

interface Outcome {
  q: Float32Array;
  rows: number[][];
  iterations: number;
  residual: number;
  converged: boolean;
}

/** Runs combine on fresh tensors and returns q on the host; every tensor is disposed. */
function run(index: SpecialistIndex, inputs: () => CombineInputs, options: CombineOptions = {}): Outcome {
  return tf.tidy(() => {
    const result = combine(index, inputs(), options);
    const q = result.q.dataSync() as Float32Array;
    const n = index.numClasses;
    const rows = Array.from({ length: q.length / n }, (_, b) => Array.from(q.subarray(b * n, (b + 1) * n)));
    return { q: Float32Array.from(q), rows, iterations: result.iterations, residual: result.residual,
      converged: result.converged };
  });
}

function runInstance(instance: Instance, options: CombineOptions = {}): Outcome {
  return run(instance.index, () => tensorsOf(instance), options);
}

/** Gradient descent needs more steps than EM's default cap on ill-conditioned rows. */
const SETTINGS: Record<(typeof SOLVER_NAMES)[number], CombineOptions> = {
  em: { solver: 'em', tolerance: 1e-7, maxIterations: 500 },
  gradient: { solver: 'gradient', tolerance: 1e-6, maxIterations: 5000 },
};

function expectDistributions(rows: number[][]): void {
  for (const row of rows) {
    expect(row.every((v) => Number.isFinite(v) && v >= 0)).toBe(true);
    expect(row.reduce((s, v) => s + v, 0)).toBeCloseTo(1, 5);
  }
}

/** The instance every closed-form case below starts from: two specialists covering 10 classes. */
function twoSpecialists(
  dustbin: number,
): { index: SpecialistIndex; pg: Float32Array; pa: Float32Array; pb: Float32Array } {
  const rng = createRng(7);
  const index = buildSpecialistIndex([{ id: 'low', classes: [0, 1, 2, 3, 4, 5] }, { id: 'high',
    classes: [4, 5, 6, 7, 8, 9] }], 10);
  const withDustbin = (n: number) => {
    const p = randomDistribution(rng, n, 1);
    return Float32Array.from([...p.map((v) => v * (1 - dustbin)), dustbin]);
  };
  const rows = (make: () => Float32Array, count: number) =>
    Float32Array.from(Array.from({ length: count }, make).flatMap((r) => [...r]));
  return { index, pg: rows(() => Float32Array.from(randomDistribution(rng, 10, 2)), 3),
    pa: rows(() => withDustbin(6), 3), pb: rows(() => withDustbin(6), 3) };
}

describe('combine: closed forms', () => {
  it.each(SOLVER_NAMES)('returns p_g bit for bit where no specialist is active (%s)', (solver) => {
    const { index, pg, pa } = twoSpecialists(0.2);
    // Nothing active at all, then a batch where only example 1 has a specialist.
    const none = run(index, () => ({ generalist: tf.tensor2d(pg, [3, 10]), specialists: {}, active: [[], []] }), {
      solver,
    });
    expect(Array.from(none.q)).toEqual(Array.from(pg));
    const mixed = run(index, () => ({
      generalist: tf.tensor2d(pg, [3, 10]),
      specialists: { low: tf.tensor2d(pa.subarray(7, 14), [1, 7]) },
      active: [[1], []],
    }), { solver });
    expect(Array.from(mixed.q.subarray(0, 10))).toEqual(Array.from(pg.subarray(0, 10)));
    expect(Array.from(mixed.q.subarray(20, 30))).toEqual(Array.from(pg.subarray(20, 30)));
    expect(totalVariation(mixed.q.subarray(10, 20), pg.subarray(10, 20))).toBeGreaterThan(1e-3);
  });

  it.each(SOLVER_NAMES)('gives the plain average when dustbins are empty and the specialists cover every class (%s)',
    (solver) => {
      const { index, pg, pa, pb } = twoSpecialists(0);
      const result = run(index, () => ({
        generalist: tf.tensor2d(pg, [3, 10]),
        specialists: { low: tf.tensor2d(pa, [3, 7]), high: tf.tensor2d(pb, [3, 7]) },
        active: [[0, 1, 2], [0, 1, 2]],
      }), SETTINGS[solver]);
      for (let b = 0; b < 3; b++) {
        const average = Array.from({ length: 10 }, (_, i) =>
          (pg[b * 10 + i] + (i <= 5 ? pa[b * 7 + i] : 0) + (i >= 4 ? pb[b * 7 + i - 4] : 0)) / 3);
        // EM starts at this average and stops at once; gradient descent starts elsewhere and gets within its tolerance.
        result.rows[b].forEach((v, i) => expect(Math.abs(v - average[i])).toBeLessThan(solver === 'em' ? 1e-7 : 2e-6));
      }
    });

  it.each(SOLVER_NAMES)('pools the dustbin as the one-specialist closed form says (%s)', (solver) => {
    // One specialist: q = (p_g + p_m)/2 on its classes; outside, p_g scaled so the mass is (G_out + d)/2.
    const { index, pg, pa } = twoSpecialists(0.3);
    const result = run(index,
      () => ({ generalist: tf.tensor2d(pg, [3, 10]), specialists: { low: tf.tensor2d(pa, [3, 7]) },
        active: [[0, 1, 2], []] }), SETTINGS[solver]);
    for (let b = 0; b < 3; b++) {
      const outside = [6, 7, 8, 9].reduce((s, i) => s + pg[b * 10 + i], 0);
      const expected = Array.from({ length: 10 }, (_, i) =>
        i <= 5 ? (pg[b * 10 + i] + pa[b * 7 + i]) / 2 : (pg[b * 10 + i] * (outside + pa[b * 7 + 6])) / (2 * outside));
      result.rows[b].forEach((v, i) =>
        expect(Math.abs(v - expected[i])).toBeLessThan(2e-6)
      );
    }
  });
});

const RANDOM_CASES = [{ seed: 11, numClasses: 1000 }, { seed: 12, numClasses: 1000 }, { seed: 13, numClasses: 731 }, {
  seed: 14,
  numClasses: 257,
}, { seed: 15, numClasses: 64 }, { seed: 16, numClasses: 10 }, { seed: 17, numClasses: 3 }, { seed: 18,
  numClasses: 500 }];

function instanceFor({ seed, numClasses }: { seed: number; numClasses: number },
  maxClusterSize = Math.max(2, numClasses >> 2)): Instance {
  return randomInstance(seed, { numClasses, specialists: 10, batch: 4, maxClusterSize, maxActive: 5,
    sharpness: [1, 4, 30] });
}

describe('combine: solvers', () => {
  it('EM never increases the objective', () => {
    // Small clusters leave much of each dustbin to split between cells, so EM takes many steps.
    const instances = [instanceFor({ seed: 21, numClasses: 300 }, 12), instanceFor({ seed: 22, numClasses: 40 }, 3),
      instanceFor({ seed: 23, numClasses: 1000 }, 30)];
    let biggestDrop = 0;
    for (const instance of instances) {
      const problems = Array.from({ length: instance.batch }, (_, b) => referenceProblem(instance, b));
      const trajectories = problems.map((): number[] => []);
      for (let steps = 1; steps <= 12; steps++) {
        const { rows } = runInstance(instance, { solver: 'em', tolerance: 0, maxIterations: steps });
        problems.forEach((problem, b) => trajectories[b].push(objective(problem, rows[b])));
      }
      for (const trajectory of trajectories) {
        // float32 rounding of q moves the float64 objective by ~3e-7 at most.
        trajectory.slice(1).forEach((f, t) => expect(f).toBeLessThanOrEqual(trajectory[t] + 1e-6));
        biggestDrop = Math.max(biggestDrop, trajectory[0] - trajectory[11]);
      }
    }
    expect(biggestDrop).toBeGreaterThan(0.02); // one example really is still descending after many steps
  });

  it.each(RANDOM_CASES.slice(0, 4))('EM and gradient descent agree to 1e-4 ($numClasses classes)', (c) => {
    const instance = instanceFor(c);
    const em = runInstance(instance, SETTINGS.em);
    const gradient = runInstance(instance, SETTINGS.gradient);
    expect(em.converged && gradient.converged).toBe(true);
    em.q.forEach((v, i) => expect(Math.abs(v - gradient.q[i])).toBeLessThan(1e-4));
  });

  it.each(RANDOM_CASES)('both match the float64 reference to 1e-5 in total variation ($numClasses classes, seed $seed)',
    (c) => {
      const instance = instanceFor(c);
      const references = Array.from({ length: instance.batch },
        (_, b) => referenceSolve(referenceProblem(instance, b)));
      for (const solver of SOLVER_NAMES) {
        const { rows, converged } = runInstance(instance, SETTINGS[solver]);
        expect(converged).toBe(true);
        rows.forEach((row, b) => expect(totalVariation(row, references[b])).toBeLessThan(1e-5));
      }
    });

  it('reports a reached cap as converged: false instead of throwing', () => {
    const result = runInstance(instanceFor({ seed: 21, numClasses: 300 }, 12), { solver: 'gradient', tolerance: 1e-9,
      maxIterations: 3 });
    expect(result).toMatchObject({ iterations: 3, converged: false });
    expectDistributions(result.rows);
  });

  it('leaves no tensor behind, on success and on error', () => {
    const instance = instanceFor(RANDOM_CASES[0]);
    const inputs = tensorsOf(instance);
    const before = tf.memory().numTensors;
    for (const solver of SOLVER_NAMES) combine(instance.index, inputs, SETTINGS[solver]).q.dispose();
    const bad = tf.fill([instance.batch, instance.index.numClasses], 0.5) as tf.Tensor2D;
    expect(() => combine(instance.index, { ...inputs, generalist: bad })).toThrow(/sums to/);
    bad.dispose();
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([inputs.generalist, ...Object.values(inputs.specialists)]);
  });
});

describe('combine: input policy', () => {
  const { index, pg, pa, pb } = twoSpecialists(0.25);
  const inputs = (g: Float32Array = pg, a: Float32Array = pa, b: Float32Array = pb) => (): CombineInputs => ({
    generalist: tf.tensor2d(g, [3, 10]),
    specialists: { low: tf.tensor2d(a, [3, 7]), high: tf.tensor2d(b, [3, 7]) },
    active: [[0, 1, 2], [0, 2]],
  });
  const edited = (values: Float32Array, at: number, value: number) =>
    Float32Array.from(values, (v, i) => (i === at ? value : v));
  const scaledRow = (values: Float32Array, width: number, row: number, factor: number) =>
    Float32Array.from(values, (v, i) => (Math.floor(i / width) === row ? v * factor : v));

  it('rejects rows that do not sum to 1 within 1e-3, naming the input and row', () => {
    expect(() => run(index, inputs(scaledRow(pg, 10, 1, 1.002)))).toThrow(
      /generalist row 1 sums to 1\.00200 \(must be 1 within 0\.001\): pass probabilities, not logits/,
    );
    expect(() => run(index, inputs(pg, scaledRow(pa, 7, 2, 0.99)))).toThrow(
      /specialist "low" row for example 2 sums to 0\.990000/,
    );
  });

  it.each(SOLVER_NAMES)('renormalises rows within 1e-3 exactly (%s)', (solver) => {
    const exact = run(index, inputs(), SETTINGS[solver]);
    const off = run(index,
      inputs(scaledRow(pg, 10, 0, 1.0009), scaledRow(pa, 7, 1, 0.9992), scaledRow(pb, 7, 2, 1.0005)), SETTINGS[solver]);
    off.q.forEach((v, i) => expect(Math.abs(v - exact.q[i])).toBeLessThan(1e-6));
  });

  it('rejects negative, NaN and infinite entries', () => {
    expect(() => run(index, inputs(edited(pg, 3, -0.01)))).toThrow(/generalist has a negative or non-finite/);
    // Whether a minimum propagates NaN depends on the backend's kernel; the row sum catches it otherwise.
    expect(() => run(index, inputs(edited(pg, 12, NaN)))).toThrow(/generalist.*non-finite/);
    // The minimum cannot see +Infinity; the row's sum does.
    expect(() => run(index, inputs(pg, edited(pa, 8, Infinity)))).toThrow(
      /specialist "low" row for example 1 has a non-finite entry/,
    );
    expect(() => run(index, inputs(pg, edited(pa, 8, NaN)))).toThrow(/non-finite.*low|low.*non-finite/);
    expect(() => run(index, inputs(pg, pa, edited(pb, 0, -1e-3)))).toThrow(/negative or non-finite/);
  });

  it.each(SOLVER_NAMES)('handles zeros and exact ones without NaN (%s)', (solver) => {
    const oneHot = (n: number, at: number) => Float32Array.from({ length: n }, (_, i) => (i === at ? 1 : 0));
    const rows = (...r: Float32Array[]) => Float32Array.from(r.flatMap((x) => [...x]));
    const zeros = edited(edited(pg, 23, 0), 27, pg[23] + pg[27]); // row 2 with two exact zeros
    const cases: [Float32Array, Float32Array, Float32Array][] = [
      [rows(oneHot(10, 2), oneHot(10, 5), oneHot(10, 9)), pa, pb], // generalist certain
      // all dustbin or certain
      [pg, rows(oneHot(7, 6), oneHot(7, 0), oneHot(7, 6)), rows(oneHot(7, 6), oneHot(7, 6), oneHot(7, 1))],
      [rows(oneHot(10, 0), oneHot(10, 9), oneHot(10, 4)), rows(oneHot(7, 6), oneHot(7, 6), oneHot(7, 6)),
        rows(oneHot(7, 0), oneHot(7, 6), oneHot(7, 6))],
      [zeros, edited(edited(pa, 14, 0), 15, pa[14] + pa[15]), pb],
    ];
    for (const [g, a, b] of cases) expectDistributions(run(index, inputs(g, a, b), SETTINGS[solver]).rows);
  });

  it.each(SOLVER_NAMES)('spreads a dustbin with nowhere else to go evenly over the classes p_g gives zero (%s)',
    (solver) => {
      // p_g certain of class 2; the only specialist covers 0..5 and puts 0.4 on its dustbin. q(6..9)
      // must hold (0 + 0.4)/2 = 0.2, and with p_g zero there, no class is preferred.
      const certain = Float32Array.from({ length: 10 }, (_, i) => (i === 2 ? 1 : 0));
      const specialist = Float32Array.from([0.1, 0.1, 0.2, 0.1, 0.05, 0.05, 0.4]);
      const { rows } = run(index, () => ({
        generalist: tf.tensor2d(certain, [1, 10]),
        specialists: { low: tf.tensor2d(specialist, [1, 7]) },
        active: [[0], []],
      }), SETTINGS[solver]);
      const expected = [0.05, 0.05, 0.6, 0.05, 0.025, 0.025, 0.05, 0.05, 0.05, 0.05];
      rows[0].forEach((v, i) => expect(v).toBeCloseTo(expected[i], 5));
    });

  it('takes all-rows specialist outputs and a mask as well as per-example rows', () => {
    const perExample = run(index, inputs());
    const allRows = run(index, () => ({
      generalist: tf.tensor2d(pg, [3, 10]),
      specialists: { low: tf.tensor2d(pa, [3, 7]), high: tf.tensor2d(pb, [3, 7]) },
      active: tf.tensor2d([1, 1, 1, 0, 1, 1], [3, 2]),
    }));
    // "high" ran on all three rows but is active for 0 and 2 only: row 1 of its output is ignored.
    allRows.q.forEach((v, i) => expect(v).toBeCloseTo(perExample.q[i], 6));
  });

  it('rejects inputs that do not fit the index', () => {
    const bad = (patch: (x: CombineInputs) => CombineInputs) => () => run(index, () => patch(inputs()()));
    expect(bad((x) => ({ ...x, generalist: tf.zeros([3, 9]) as tf.Tensor2D }))).toThrow(
      /generalist must be \[batch, 10\]/,
    );
    expect(bad((x) => ({ ...x, specialists: { ...x.specialists, high: tf.zeros([2, 6]) as tf.Tensor2D } }))).toThrow(
      /"high" probabilities must be/,
    );
    expect(bad((x) => ({ ...x, specialists: { low: x.specialists.low } }))).toThrow(
      /"high" is active for 2 examples but has no probabilities/,
    );
    expect(bad((x) => ({ ...x, specialists: { ...x.specialists, mid: x.specialists.low } }))).toThrow(
      /unknown specialist "mid"/,
    );
    expect(bad((x) => ({ ...x, active: [[0, 2, 1], [0, 2]] }))).toThrow(/ascending integers in 0\.\.2/);
    expect(() => run(index, inputs(), { solver: 'newton' as 'em' })).toThrow();
  });
});

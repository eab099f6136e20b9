import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { createRng, generateSynthetic } from '../../src/data/index.js';
import { predictLogits, shiftLogits, softmaxRowsAt, trainModel } from '../../src/distill/index.js';
import { initEngine } from '../../src/engine/index.js';
import { buildMlp, specialistFromGeneralist } from '../../src/nets/index.js';
import { dustbinOffset, fitDustbinOffset, halfAndHalfSampler, restrictedTeacherLogits, sampledSpecialFraction,
  specialFraction, specialistLabels, specialistSet } from '../../src/specialists/index.js';

beforeAll(async () => {
  await initEngine({ backend: 'auto', log: () => {} });
});

describe('specialist data', () => {
  it('maps special classes to their position and every other class to the dustbin', () => {
    expect(Array.from(specialistLabels(Int32Array.of(3, 7, 1, 5, 7), [5, 7]))).toEqual([2, 1, 2, 0, 1]);
  });

  it('restricts the generalist to the cluster plus pooled dustbin mass', () => {
    const logits = Float32Array.of(1, 2, 3, 0.5, -1);
    const restricted = restrictedTeacherLogits(logits, 5, [1, 3]);
    const p = softmaxRowsAt(logits, 5, 1);
    const q = Array.from(restricted, Math.exp);
    expect(q[0]).toBeCloseTo(p[1], 6);
    expect(q[1]).toBeCloseTo(p[3], 6);
    expect(q[2]).toBeCloseTo(p[0] + p[2] + p[4], 6);
    expect(q.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 6);
  });

  it('samples half special, half others, all special examples every epoch', () => {
    const labels = Int32Array.from({ length: 1000 }, (_, i) => (i % 10 === 0 ? 0 : 1)); // 100 special, dustbin = 1
    const sample = halfAndHalfSampler(labels, 1);
    const rows = sample(0, createRng(1));
    expect(rows.length).toBe(200);
    expect(new Set(rows).size).toBe(200);
    expect(Array.from(rows).filter((r) => labels[r] === 0).length).toBe(100);
    expect(Array.from(sample(1, createRng(2)))).not.toEqual(Array.from(rows));
    expect(() => halfAndHalfSampler(Int32Array.of(1, 1), 1)).toThrow(/no example/);
  });
});

describe('dustbin correction', () => {
  it('is log((1 − f)/f) for a 50/50 sample and zero when the sample is natural', () => {
    expect(dustbinOffset(0.2)).toBeCloseTo(Math.log(4), 12);
    expect(dustbinOffset(0.3, 0.3)).toBeCloseTo(0, 12);
    expect(() => dustbinOffset(0)).toThrow(/strictly between/);
  });

  it('is zero for a cluster holding over half the data: the sampler then draws the natural mix', () => {
    const labels = Int32Array.from({ length: 100 }, (_, i) => (i < 70 ? 0 : 1)); // 70 special, dustbin = 1
    expect(sampledSpecialFraction(labels, 1)).toBeCloseTo(0.7, 12);
    expect(dustbinOffset(specialFraction(labels, 1), sampledSpecialFraction(labels, 1))).toBeCloseTo(0, 12);
    expect(sampledSpecialFraction(Int32Array.from({ length: 100 }, (_, i) => (i < 20 ? 0 : 1)), 1)).toBe(0.5);
  });

  it('fitted on natural rows, recovers the closed form for a model biased by a 50/50 sample', () => {
    // A known logistic model: the natural dustbin log-odds of row r are a·x_r + c; a specialist
    // trained on hard labels from a 50/50 sample has them lowered by dustbinOffset(f) (Bayes).
    const rng = createRng(3);
    const rows = 20_000;
    const x = Float64Array.from({ length: rows }, () => rng() * 4 - 2);
    const natural = (v: number) => 1.5 * v + 1.2;
    const labels = Int32Array.from(x, (v) => (rng() < 1 / (1 + Math.exp(-natural(v))) ? 2 : rng() < 0.5 ? 0 : 1));
    const f = specialFraction(labels, 2);
    const shift = dustbinOffset(f);
    // Two special classes of equal logit, so the margin against their logsumexp is logit − log 2.
    const logits = Float32Array.from({ length: rows * 3 },
      (_, k) => (k % 3 === 2 ? natural(x[Math.floor(k / 3)]) - shift + Math.log(2) : 0));
    // Standard error of an intercept fitted on 20,000 rows is ≈ 0.02; 0.08 is four of them.
    expect(fitDustbinOffset(logits, 3, labels)).toBeCloseTo(shift, 1);
    expect(Math.abs(fitDustbinOffset(logits, 3, labels) - shift)).toBeLessThan(0.08);
    expect(fitDustbinOffset(logits, 3, Int32Array.from(labels, () => 2))).toBe(30);
  });
});

describe('dustbin calibration of trained specialists', () => {
  // Overlapping classes, so probabilities are genuinely uncertain and the prior matters.
  const data = generateSynthetic({ superclasses: 5, finePerSuperclass: 4, inputSize: 16, trainPerClass: 150,
    validationPerClass: 100, testPerClass: 100, fineSeparation: 1.5, superSeparation: 3, seed: 5 });
  const generalistConfig = { kind: 'mlp' as const, hidden: [32], inputDropout: 0, hiddenDropout: 0, maxNorm: 0,
    seed: 1 };
  const quiet = { log: () => {} };
  let generalist: tf.LayersModel;
  let generalistLogits: Float32Array;

  beforeAll(async () => {
    generalist = buildMlp(generalistConfig, 16, data.numClasses);
    await trainModel(generalist, { x: data.train.x, n: data.train.n, features: 16, labels: data.train.y }, {
      x: data.validation.x,
      n: data.validation.n,
      features: 16,
      labels: data.validation.y,
    }, { epochs: 5, batchSize: 64, optimizer: { kind: 'adam', learningRate: 0.01 } }, quiet);
    generalistLogits = predictLogits(generalist, data.train.x, data.train.n);
  });

  /**
   * Trains a specialist on `classes` (hard labels, or soft targets alone), fits its offset on the
   * validation split and measures, on the test split (natural prior, never fitted on), the mean
   * dustbin probability against the true dustbin share. The test split has 2,000 rows, so the
   * share's sampling error is ≈ √(0.8·0.2/2000) ≈ 0.009: 0.03 allows three of them.
   */
  async function calibrate(classes: number[], soft: boolean) {
    const specialist = specialistFromGeneralist(generalist, generalistConfig, 16, classes);
    const train = specialistSet(data.train, classes, soft ? generalistLogits : undefined, data.numClasses);
    const validation = specialistSet(data.validation, classes);
    const loss = soft ? { temperature: 2, softWeight: 1, hardWeight: 0 } : undefined;
    await trainModel(specialist, train, validation, { epochs: 12, batchSize: 64,
      optimizer: { kind: 'adam', learningRate: 0.003 }, ...(loss ? { loss } : {}) }, { ...quiet,
      sampler: halfAndHalfSampler(train.labels, classes.length) });
    const width = classes.length + 1;
    const offset = fitDustbinOffset(predictLogits(specialist, validation.x, validation.n), width, validation.labels);
    const test = specialistSet(data.test, classes);
    const meanDustbin = (delta: number) => {
      const probs = softmaxRowsAt(
        shiftLogits(predictLogits(specialist, test.x, test.n), width, [classes.length], delta),
        width,
        1,
      );
      let sum = 0;
      for (let r = 0; r < test.n; r++) sum += probs[r * width + classes.length];
      return sum / test.n;
    };
    const result = {
      offset,
      closedForm: dustbinOffset(specialFraction(train.labels, classes.length),
        sampledSpecialFraction(train.labels, classes.length)),
      actual: 1 - specialFraction(test.labels, classes.length),
      before: meanDustbin(0),
      after: meanDustbin(offset),
      withClosedForm: meanDustbin(
        dustbinOffset(specialFraction(train.labels, classes.length),
          sampledSpecialFraction(train.labels, classes.length)),
      ),
    };
    tf.dispose(specialist.weights.map((w) => w.read()));
    return result;
  }

  it('hard labels: the fitted offset is near the closed form and calibrates unseen natural data', async () => {
    const hard = await calibrate([0, 1, 2, 3], false);
    expect(Math.abs(hard.after - hard.actual)).toBeLessThan(0.03);
    // the 50/50 sample had biased it
    expect(Math.abs(hard.before - hard.actual)).toBeGreaterThan(Math.abs(hard.after - hard.actual));
    expect(hard.offset).toBeGreaterThan(0.5 * hard.closedForm);
    expect(hard.offset).toBeLessThan(1.5 * hard.closedForm);
  });

  it('soft targets alone: calibrated with an offset near zero, far below the hard-label closed form', async () => {
    const soft = await calibrate([0, 1, 2, 3], true);
    expect(Math.abs(soft.after - soft.actual)).toBeLessThan(0.03);
    expect(Math.abs(soft.before - soft.actual)).toBeLessThan(0.05); // needed no correction to begin with
    expect(Math.abs(soft.offset)).toBeLessThan(0.3 * soft.closedForm);
    // What the pipeline did before: the hard-label correction on a soft-trained specialist overshoots.
    expect(soft.withClosedForm - soft.actual).toBeGreaterThan(0.05);
  });

  it('a cluster over half the data: closed form 0, fitted offset near 0, calibrated', async () => {
    const big = await calibrate(Array.from({ length: 12 }, (_, i) => i), false);
    expect(big.closedForm).toBe(0);
    expect(Math.abs(big.after - big.actual)).toBeLessThan(0.03);
    expect(Math.abs(big.offset)).toBeLessThan(0.5);
  });
});

describe('specialistFromGeneralist', () => {
  it("starts with the generalist's logits for its classes and a dustbin near their log-sum-exp", () => {
    const config = { kind: 'mlp' as const, hidden: [8], inputDropout: 0, hiddenDropout: 0, maxNorm: 0, seed: 4 };
    const generalist = buildMlp(config, 6, 5);
    const specialist = specialistFromGeneralist(generalist, config, 6, [1, 3]);
    const x = Float32Array.from({ length: 18 }, (_, i) => Math.sin(i));
    const g = predictLogits(generalist, x, 3);
    const s = predictLogits(specialist, x, 3);
    for (let r = 0; r < 3; r++) {
      expect(s[r * 3]).toBeCloseTo(g[r * 5 + 1], 5);
      expect(s[r * 3 + 1]).toBeCloseTo(g[r * 5 + 3], 5);
      const others = [0, 2, 4].map((c) => g[r * 5 + c]);
      const mean = others.reduce((a, b) => a + b, 0) / 3;
      expect(s[r * 3 + 2]).toBeCloseTo(mean + Math.log(3), 4); // by construction: mean logit + log(N − |S|)
    }
    expect(() => specialistFromGeneralist(generalist, config, 6, [5])).toThrow(/must be ids/);
  });
});

import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { createRng, generateSynthetic } from '../../src/data/index.js';
import { predictLogits, softmaxRowsAt, trainModel } from '../../src/distill/index.js';
import { initEngine } from '../../src/engine/index.js';
import { buildMlp, specialistFromGeneralist } from '../../src/nets/index.js';
import {
  applyDustbinOffset, dustbinOffset, halfAndHalfSampler, restrictedTeacherLogits, specialFraction, specialistLabels, specialistSet,
} from '../../src/specialists/index.js';

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

  it('calibrates: mean dustbin probability on natural data matches the non-special fraction within 2 points', async () => {
    // Overlapping classes, so probabilities are genuinely uncertain and the prior matters.
    const data = generateSynthetic({ superclasses: 5, finePerSuperclass: 4, inputSize: 16, trainPerClass: 150, validationPerClass: 100, testPerClass: 10, fineSeparation: 1.5, superSeparation: 3, seed: 5 });
    const classes = [0, 1, 2, 3];
    const generalistConfig = { kind: 'mlp' as const, hidden: [32], inputDropout: 0, hiddenDropout: 0, maxNorm: 0, seed: 1 };
    const generalist = buildMlp(generalistConfig, 16, data.numClasses);
    const quiet = { log: () => {} };
    await trainModel(generalist, { x: data.train.x, n: data.train.n, features: 16, labels: data.train.y }, { x: data.validation.x, n: data.validation.n, features: 16, labels: data.validation.y },
      { epochs: 5, batchSize: 64, optimizer: { kind: 'adam', learningRate: 0.01 } }, quiet);
    const specialist = specialistFromGeneralist(generalist, generalistConfig, 16, classes);
    const train = specialistSet(data.train, classes);
    const validation = specialistSet(data.validation, classes);
    await trainModel(specialist, train, validation, { epochs: 12, batchSize: 64, optimizer: { kind: 'adam', learningRate: 0.003 } },
      { ...quiet, sampler: halfAndHalfSampler(train.labels, classes.length) });

    const meanDustbin = () => {
      const probs = softmaxRowsAt(predictLogits(specialist, validation.x, validation.n), classes.length + 1, 1);
      let sum = 0;
      for (let r = 0; r < validation.n; r++) sum += probs[r * (classes.length + 1) + classes.length];
      return sum / validation.n;
    };
    const actual = 1 - specialFraction(validation.labels, classes.length); // 0.8
    const before = meanDustbin();
    applyDustbinOffset(specialist, dustbinOffset(specialFraction(train.labels, classes.length)));
    const after = meanDustbin();
    expect(Math.abs(after - actual)).toBeLessThan(0.02);
    expect(Math.abs(before - actual)).toBeGreaterThan(Math.abs(after - actual)); // the 50/50 sample had biased it
    tf.dispose([...generalist.weights, ...specialist.weights].map((w) => w.read()));
  });
});

describe('specialistFromGeneralist', () => {
  it('starts with the generalist\'s logits for its classes and a dustbin near their log-sum-exp', () => {
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

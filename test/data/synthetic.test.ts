import { describe, expect, it } from 'vitest';
import { classCounts, type Dataset, generateSynthetic, type Split, SyntheticConfigSchema } from
  '../../src/data/index.js';

const SMALL = { superclasses: 6, finePerSuperclass: 5, inputSize: 16, trainPerClass: 60, validationPerClass: 10,
  testPerClass: 40 };

/** Nearest class mean, from the training split: a stand-in for a generalist. */
function nearestMeanPredictions(data: Dataset, split: Split): Int32Array {
  const { numClasses: k } = data;
  const f = data.train.features;
  const means = new Float64Array(k * f);
  const counts = classCounts(data.train.y, k);
  for (let i = 0; i < data.train.n; i++) {
    for (let j = 0; j < f; j++) means[data.train.y[i] * f + j] += data.train.x[i * f + j] / counts[data.train.y[i]];
  }
  const predictions = new Int32Array(split.n);
  for (let i = 0; i < split.n; i++) {
    let best = Infinity;
    for (let c = 0; c < k; c++) {
      let d = 0;
      for (let j = 0; j < f; j++) d += (split.x[i * f + j] - means[c * f + j]) ** 2;
      if (d < best) [best, predictions[i]] = [d, c];
    }
  }
  return predictions;
}

describe('generateSynthetic', () => {
  const data = generateSynthetic({ ...SMALL, seed: 3 });

  it('has S × F classes, the sizes asked for, and every class equally often', () => {
    expect(data).toMatchObject({ name: 'synthetic', inputShape: [16], numClasses: 30 });
    expect(data.classNames.slice(0, 6)).toEqual(['s0.f0', 's0.f1', 's0.f2', 's0.f3', 's0.f4', 's1.f0']);
    for (const [split, perClass] of [[data.train, 60], [data.validation, 10], [data.test, 40]] as const) {
      expect(split).toMatchObject({ n: 30 * perClass, features: 16 });
      expect(split.x).toHaveLength(30 * perClass * 16);
      expect([...classCounts(split.y, 30)]).toEqual(Array(30).fill(perClass));
      expect(split.x.every(Number.isFinite)).toBe(true);
    }
  });

  it('returns each class its ground-truth superclass', () => {
    expect([...data.superclassOf!]).toEqual(Array.from({ length: 30 }, (_, c) => Math.floor(c / 5)));
  });

  it('is deterministic per seed, whichever split is read first', () => {
    const again = generateSynthetic({ ...SMALL, seed: 3 });
    expect(again.test.x).toEqual(data.test.x); // test first this time
    expect(again.train.x).toEqual(data.train.x);
    expect(generateSynthetic({ ...SMALL, seed: 4 }).train.x).not.toEqual(data.train.x);
    expect(data.train.x).not.toEqual(data.test.x.subarray(0, data.train.x.length));
  });

  it('makes fine classes of a superclass confusable, superclasses not', () => {
    const predictions = nearestMeanPredictions(data, data.test);
    const superOf = data.superclassOf!;
    let fineErrors = 0;
    let superErrors = 0;
    for (let i = 0; i < data.test.n; i++) {
      if (predictions[i] !== data.test.y[i]) fineErrors++;
      if (superOf[predictions[i]] !== superOf[data.test.y[i]]) superErrors++;
    }
    expect(fineErrors / data.test.n).toBeGreaterThan(0.03);
    expect(fineErrors / data.test.n).toBeLessThan(0.5);
    expect(superErrors).toBeLessThanOrEqual(fineErrors * 0.02);
  });

  it('makes classes of several modes when asked', () => {
    const modes = generateSynthetic({ ...SMALL, modesPerClass: 3, seed: 3 });
    expect(modes.train.n).toBe(data.train.n);
    expect(modes.train.x).not.toEqual(data.train.x);
  });

  it('spreads a bridging class over the superclasses it spans and leaves every other example as it was', () => {
    const plain = generateSynthetic({ ...SMALL, modesPerClass: 3, seed: 3 });
    const bridged = generateSynthetic({ ...SMALL, modesPerClass: 3, bridgeSpans: [2, 3], seed: 3 });
    const bridging = (c: number) => c % 5 < 2;
    const f = plain.train.features;
    // Superclass centres from the classes that stay home, measured on the plain data.
    const centres = Array.from({ length: 6 }, (_, s) => {
      const rows = [...plain.train.y.keys()].filter((i) => Math.floor(plain.train.y[i] / 5) === s);
      return Array.from({ length: f }, (_, j) => rows.reduce((t, i) => t + plain.train.x[i * f + j], 0) / rows.length);
    });
    const nearestSuperclass = (x: Float32Array, i: number) => centres.map((c, s) => ({ s,
      d: c.reduce((t, v, j) => t + (x[i * f + j] - v) ** 2, 0) })).sort((a, b) => a.d - b.d)[0].s;
    const reached = new Map<number, Set<number>>();
    for (let i = 0; i < bridged.train.n; i++) {
      const c = bridged.train.y[i];
      const row = (x: Float32Array) => [...x.subarray(i * f, (i + 1) * f)];
      if (!bridging(c)) expect(row(bridged.train.x)).toEqual(row(plain.train.x));
      else reached.set(c, (reached.get(c) ?? new Set()).add(nearestSuperclass(bridged.train.x, i)));
    }
    // Superclass 4's class f0 spans 4 and 5; its f1 spans 4, 0 (4 + 2) and 2 (4 + 4), modulo 6.
    expect([...reached.get(20)!].sort()).toEqual([4, 5]);
    expect([...reached.get(21)!].sort()).toEqual([0, 2, 4]);
    expect(bridged.superclassOf).toEqual(plain.superclassOf);
  });

  it('leaves bridgeSpans out of a parsed config that leaves it out, so existing runs keep their stage hashes', () => {
    expect(SyntheticConfigSchema.partial().parse({ superclasses: 4 })).toEqual({ superclasses: 4 });
  });

  it('refuses bridges the classes cannot make', () => {
    expect(() => generateSynthetic({ ...SMALL, modesPerClass: 2, bridgeSpans: [3] })).toThrow(
      /fine class 0 spans 3 superclasses.*2 modes per class/,
    );
    // Class f1 steps 2 superclasses a mode: 0, 2, 0 of 4 reaches two, not three.
    expect(() => generateSynthetic({ ...SMALL, superclasses: 4, modesPerClass: 3, bridgeSpans: [2, 3] }))
      .toThrow(/fine class 1 spans 3 superclasses/);
    expect(() => generateSynthetic({ ...SMALL, bridgeSpans: [2, 2, 2, 2, 2, 2] })).toThrow(/6 classes per superclass/);
    for (const bridgeSpans of [[1], [Number.NaN], [Number.POSITIVE_INFINITY], [2.5], [1e9], 'x', [null]]) {
      expect(() => generateSynthetic({ ...SMALL, modesPerClass: 3, bridgeSpans } as never)).toThrow();
    }
    // Empty: no bridges.
    expect(generateSynthetic({ ...SMALL, bridgeSpans: [], seed: 3 }).train.x).toEqual(data.train.x);
  });

  it('refuses more than 10,000 classes and invalid knobs', () => {
    expect(() => generateSynthetic({ superclasses: 101, finePerSuperclass: 100 })).toThrow(
      /10100 classes, at most 10000/,
    );
    expect(() => generateSynthetic({ inputSize: 0 })).toThrow();
    expect(() => generateSynthetic({ fineSeparation: -1 })).toThrow();
  });

  it('draws 10,000 classes lazily', () => {
    const many = generateSynthetic({ superclasses: 100, finePerSuperclass: 100, inputSize: 8, trainPerClass: 2,
      validationPerClass: 1, testPerClass: 1 });
    expect(many.numClasses).toBe(10000);
    expect(many.test.n).toBe(10000);
    expect(many.superclassOf![9999]).toBe(99);
  });
});

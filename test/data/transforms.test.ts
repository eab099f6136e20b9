import { describe, expect, it } from 'vitest';
import { classCounts, createRng, dropClasses, generateSynthetic, jitter, jitterBatches, keepClasses, randomFraction,
  type Split } from '../../src/data/index.js';

const data = generateSynthetic({ superclasses: 2, finePerSuperclass: 5, inputSize: 8, trainPerClass: 50,
  validationPerClass: 1, testPerClass: 1, seed: 9 });
const train = data.train;

describe('dropClasses and keepClasses', () => {
  it('drops the named classes and keeps the rest in order, rows intact', () => {
    const noThrees = dropClasses(train, [3]);
    expect(noThrees.n).toBe(450);
    expect(noThrees.y.includes(3)).toBe(false);
    const firstKept = train.y.findIndex((label) => label !== 3);
    expect(noThrees.ids[0]).toBe(train.ids[firstKept]);
    expect(noThrees.x.subarray(0, 8)).toEqual(train.x.subarray(firstKept * 8, firstKept * 8 + 8));
  });

  it('keeps only the named classes, labels unchanged', () => {
    const sevensAndEights = keepClasses(train, [7, 8]);
    expect(sevensAndEights.n).toBe(100);
    expect(new Set(sevensAndEights.y)).toEqual(new Set([7, 8]));
    expect(train.n).toBe(500); // the input is untouched
  });

  it('refuses what is not a class id', () => {
    expect(() => dropClasses(train, [1.5])).toThrow(/1.5 is not a class id/);
  });
});

describe('randomFraction', () => {
  it('keeps round(fraction · n) rows, stratified, in their original order', () => {
    const small = randomFraction(train, 0.1, { seed: 1 });
    expect(small.n).toBe(50);
    expect([...classCounts(small.y, 10)]).toEqual(Array(10).fill(5));
    expect(small.ids.every((id, i) => i === 0 || id > small.ids[i - 1])).toBe(true);
  });

  it('is deterministic per seed, stratified or not', () => {
    expect(randomFraction(train, 0.03, { seed: 1 }).ids).toEqual(randomFraction(train, 0.03, { seed: 1 }).ids);
    expect(randomFraction(train, 0.03, { seed: 1 }).ids).not.toEqual(randomFraction(train, 0.03, { seed: 2 }).ids);
    const plain = randomFraction(train, 0.37, { seed: 5, stratified: false });
    expect(plain.n).toBe(185);
    expect(plain.ids).toEqual(randomFraction(train, 0.37, { seed: 5, stratified: false }).ids);
    expect(new Set(plain.ids).size).toBe(185);
  });

  it('handles the ends and refuses a fraction outside [0, 1]', () => {
    expect(randomFraction(train, 0, { seed: 1 }).n).toBe(0);
    expect(randomFraction(train, 1, { seed: 1 }).ids).toEqual(train.ids);
    expect(() => randomFraction(train, 1.5, { seed: 1 })).toThrow(/outside \[0, 1\]/);
  });
});

/** n images of h × w, each one bright pixel at (row, col), as a split. */
function dots(n: number, h: number, w: number, row: number, col: number): Split {
  const x = new Float32Array(n * h * w);
  for (let i = 0; i < n; i++) x[i * h * w + row * w + col] = 1;
  return { x, y: new Int32Array(n), ids: Int32Array.from({ length: n }, (_, i) => i), n, features: h * w };
}

/** Where each image's bright pixel went, as [dy, dx] from (row, col). */
function shifts(split: Split, w: number, row: number, col: number): [number, number][] {
  return Array.from({ length: split.n }, (_, i) => {
    const at = split.x.subarray(i * split.features, (i + 1) * split.features).indexOf(1);
    return [Math.floor(at / w) - row, (at % w) - col];
  });
}

describe('jitter', () => {
  it('shifts each image by up to ±2 pixels, every shift occurring', () => {
    const moved = jitter(dots(400, 9, 9, 4, 4), { inputShape: [9, 9, 1], seed: 1 });
    const seen = shifts(moved, 9, 4, 4);
    expect(seen.every(([dy, dx]) => Math.abs(dy) <= 2 && Math.abs(dx) <= 2)).toBe(true);
    expect(new Set(seen.map((s) => s.join(','))).size).toBe(25);
    expect(moved.x.reduce((a, b) => a + b, 0)).toBe(400); // nothing lost away from the border
  });

  it('fills with background what is shifted in, and drops what is shifted out', () => {
    const moved = jitter(dots(200, 5, 5, 0, 0), { inputShape: [5, 5], seed: 2 });
    const kept = moved.x.reduce((a, b) => a + b, 0);
    expect(kept).toBeGreaterThan(0);
    expect(kept).toBeLessThan(200); // the dot left the frame whenever it moved up or left
  });

  it('is deterministic per seed and leaves the input untouched', () => {
    const input = dots(50, 7, 7, 3, 3);
    const copy = input.x.slice();
    const a = jitter(input, { inputShape: [7, 7, 1], seed: 3 });
    expect(jitter(input, { inputShape: [7, 7, 1], seed: 3 }).x).toEqual(a.x);
    expect(jitter(input, { inputShape: [7, 7, 1], seed: 4 }).x).not.toEqual(a.x);
    expect(input.x).toEqual(copy);
    expect(a.y).toBe(input.y);
  });

  it('moves all channels of a pixel together', () => {
    const input: Split = { x: new Float32Array(5 * 5 * 2), y: new Int32Array(1), ids: new Int32Array(1), n: 1,
      features: 50 };
    input.x[(2 * 5 + 2) * 2] = 1;
    input.x[(2 * 5 + 2) * 2 + 1] = 0.5;
    const moved = jitter(input, { inputShape: [5, 5, 2], seed: 7 });
    const at = moved.x.indexOf(1);
    expect(at % 2).toBe(0);
    expect(moved.x[at + 1]).toBe(0.5);
  });

  it('honours maxShift and refuses a shape that does not fit', () => {
    const still = jitter(dots(20, 6, 6, 3, 3), { inputShape: [6, 6], seed: 1, maxShift: 0 });
    expect(shifts(still, 6, 3, 3).every(([dy, dx]) => dy === 0 && dx === 0)).toBe(true);
    expect(() => jitter(train, { inputShape: [8], seed: 1 })).toThrow(/does not describe images/);
    expect(() => jitter(train, { inputShape: [2, 2], seed: 1 })).toThrow(/does not describe images of 8 features/);
  });
});

describe('jitterBatches', () => {
  it('moves each image of a batch by at most maxShift, the same way for the same generator', () => {
    // Three 5×5 images, each one lit pixel in the centre.
    const batch = new Float32Array(3 * 25);
    for (let i = 0; i < 3; i++) batch[i * 25 + 12] = i + 1;
    const augment = jitterBatches([5, 5], 1);
    const once = augment(batch, 3, createRng(4));
    expect(Array.from(augment(batch, 3, createRng(4)))).toEqual(Array.from(once));
    for (let i = 0; i < 3; i++) {
      const lit = [...once.subarray(i * 25, (i + 1) * 25)].flatMap((v, p) => (v !== 0 ? [[p, v]] : []));
      expect(lit).toHaveLength(1);
      const [p, v] = lit[0];
      expect(v).toBe(i + 1);
      expect(Math.abs(Math.floor(p / 5) - 2)).toBeLessThanOrEqual(1);
      expect(Math.abs((p % 5) - 2)).toBeLessThanOrEqual(1);
    }
    expect(batch[12]).toBe(1); // the batch itself is left alone
  });
});

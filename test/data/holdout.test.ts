import { describe, expect, it } from 'vitest';
import { holdOut, range, stratifiedQuotas, uniqueRows } from '../../src/data/holdout.js';
import { createRng } from '../../src/data/random.js';

describe('stratifiedQuotas', () => {
  it('is proportional and sums exactly to the total', () => {
    expect([...stratifiedQuotas([5, 3, 2], 5)]).toEqual([3, 1, 1]);
    expect([...stratifiedQuotas([7000, 7000], 10000)]).toEqual([5000, 5000]);
    const quotas = stratifiedQuotas([5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949], 5000);
    expect(quotas.reduce((a, b) => a + b, 0)).toBe(5000);
    expect(quotas[1]).toBe(562); // 6742 / 60000 · 5000 = 561.8
  });

  it('refuses more than there is', () => {
    expect(() => stratifiedQuotas([1, 1], 3)).toThrow(/cannot hold out 3 of 2/);
  });
});

describe('holdOut', () => {
  const labels = Int32Array.from({ length: 100 }, (_, i) => i % 4);

  it('holds out a stratified sample and keeps the rest in order', () => {
    const { kept, held } = holdOut(labels, 4, range(100), 20, createRng(1));
    expect(held).toHaveLength(20);
    expect(kept).toHaveLength(80);
    expect([...kept].every((row, i) => i === 0 || row > kept[i - 1])).toBe(true);
    for (let c = 0; c < 4; c++) expect([...held].filter((r) => labels[r] === c)).toHaveLength(5);
    expect(new Set([...kept, ...held]).size).toBe(100);
  });

  it('depends only on its inputs and the seed', () => {
    const a = holdOut(labels, 4, range(100), 20, createRng(1));
    expect(holdOut(labels, 4, range(100), 20, createRng(1))).toEqual(a);
    expect(holdOut(labels, 4, range(100), 20, createRng(2)).held).not.toEqual(a.held);
  });

  it('draws only eligible rows, and says when a class has too few', () => {
    const eligible = Uint8Array.from({ length: 100 }, (_, i) => (i < 50 ? 1 : 0));
    const { held } = holdOut(labels, 4, range(100), 20, createRng(1), eligible);
    expect([...held].every((r) => r < 50)).toBe(true);
    expect(() => holdOut(labels, 4, range(100), 80, createRng(1), eligible)).toThrow(
      /class 0 needs 20 eligible rows, has 13/,
    );
  });
});

describe('uniqueRows', () => {
  it('marks every copy of a duplicate, wherever it is', () => {
    const images = Uint8Array.from([1, 2, 3, 4, 1, 2, 5, 6, 3, 4]);
    expect([...uniqueRows(images, 2)]).toEqual([0, 0, 0, 1, 0]);
  });
});

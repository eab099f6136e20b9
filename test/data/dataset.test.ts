import { describe, expect, it } from 'vitest';
import { classCounts, concatRows, featuresOf, generateSynthetic, sliceRows, splitChecksum,
  takeRows } from '../../src/data/index.js';

const options = { superclasses: 2, finePerSuperclass: 2, inputSize: 12, trainPerClass: 5, validationPerClass: 1,
  testPerClass: 1, seed: 1 };
const data = generateSynthetic(options);

describe('sliceRows and takeRows', () => {
  it('slices without copying and gathers with a copy', () => {
    const slice = sliceRows(data.train, 2, 5);
    expect(slice.n).toBe(3);
    expect(slice.x.buffer).toBe(data.train.x.buffer);
    expect(slice.x[0]).toBe(data.train.x[2 * 12]);
    const gathered = takeRows(data.train, [4, 1]);
    expect(gathered.x.buffer).not.toBe(data.train.x.buffer);
    expect([...gathered.ids]).toEqual([data.train.ids[4], data.train.ids[1]]);
    expect(gathered.x.subarray(12)).toEqual(data.train.x.subarray(12, 24));
  });

  it('refuses rows outside the split', () => {
    expect(() => sliceRows(data.train, 10, 30)).toThrow(/outside a split of 20 rows/);
    expect(() => takeRows(data.train, [20])).toThrow(/row 20 is outside/);
  });
});

describe('concatRows', () => {
  it('puts the rows of the splits one after another, in a copy', () => {
    const all = concatRows(data.train, data.validation);
    expect(all.n).toBe(data.train.n + data.validation.n);
    expect([...all.ids]).toEqual([...data.train.ids, ...data.validation.ids]);
    expect([...all.y]).toEqual([...data.train.y, ...data.validation.y]);
    expect(all.x.subarray(data.train.n * 12)).toEqual(data.validation.x);
    expect(all.x.buffer).not.toBe(data.train.x.buffer);
  });

  it('refuses splits of different widths', () => {
    const narrow = generateSynthetic({ ...options, inputSize: 6 });
    expect(() => concatRows(data.train, narrow.train)).toThrow(/different numbers of features/);
  });
});

describe('splitChecksum', () => {
  it('identifies the rows of each split, not their pixels', () => {
    const checksum = splitChecksum(data);
    expect(checksum).toMatch(/^[0-9a-f]{64}$/);
    expect(splitChecksum(generateSynthetic({ ...options, seed: 2 }))).toBe(checksum); // same ids, other data
    expect(splitChecksum(generateSynthetic({ ...options, testPerClass: 2 }))).not.toBe(checksum);
  });
});

describe('helpers', () => {
  it('counts classes and features', () => {
    expect([...classCounts(Int32Array.of(0, 2, 2), 3)]).toEqual([1, 0, 2]);
    expect(featuresOf([28, 28, 1])).toBe(784);
  });
});

import { describe, expect, it } from 'vitest';
import { classCounts, FASHION_CLASS_NAMES, fashionSplitRows, loadFashionMnist, readFashionBytes,
  splitChecksum } from '../../src/data/index.js';
import { overlap, pixelRange, rowKeys } from './splits.js';

// Converts the package's JSON into the repo's .cache/ on the first run ever; later runs read the cache.
const fashion = loadFashionMnist();

describe('loadFashionMnist', () => {
  it('splits the 70,000 images 55k / 5k / 10k, 784 pixels in [0, 1]', () => {
    expect(fashion).toMatchObject({ name: 'fashion-mnist', inputShape: [28, 28, 1], numClasses: 10,
      classNames: FASHION_CLASS_NAMES });
    for (const [split, n] of [[fashion.train, 55000], [fashion.validation, 5000], [fashion.test, 10000]] as const) {
      expect(split).toMatchObject({ n, features: 784 });
      expect(split.x).toHaveLength(n * 784);
      expect(pixelRange(split)).toEqual([0, 1]);
      expect(split.y.every((label) => label >= 0 && label <= 9)).toBe(true);
    }
    const ids = new Set([...fashion.train.ids, ...fashion.validation.ids, ...fashion.test.ids]);
    expect(ids.size).toBe(70000);
    expect(Math.min(...ids)).toBe(0);
    expect(Math.max(...ids)).toBe(69999);
  });

  it('is stratified: 5,500 / 500 / 1,000 of every class', () => {
    expect([...classCounts(fashion.train.y, 10)]).toEqual(Array(10).fill(5500));
    expect([...classCounts(fashion.validation.y, 10)]).toEqual(Array(10).fill(500));
    expect([...classCounts(fashion.test.y, 10)]).toEqual(Array(10).fill(1000));
  });

  it('has a fixed split that never changes, pinned by its checksum', () => {
    expect(splitChecksum(fashion)).toBe('48bf49b6877c17b84911b5183430085761a86a8ec54159b88b94f57445f05859');
    const rows = fashionSplitRows(readFashionBytes());
    expect(rows.train).toEqual(fashion.train.ids);
    expect(rows.validation).toEqual(fashion.validation.ids);
    expect(rows.test).toEqual(fashion.test.ids);
  });

  it('puts no image on two sides, though the package repeats some', () => {
    const train = rowKeys(fashion.train);
    const validation = rowKeys(fashion.validation);
    const test = rowKeys(fashion.test);
    expect(train.size).toBeLessThan(55000); // the duplicates all sit in train
    expect(validation.size).toBe(5000);
    expect(test.size).toBe(10000);
    expect(overlap(train, validation) + overlap(train, test) + overlap(validation, test)).toBe(0);
  });

  it('shuffles each split, since the package is sorted by class', () => {
    const firstHundred = new Set(fashion.train.y.subarray(0, 100));
    expect(firstHundred.size).toBe(10);
    expect(new Set(fashion.test.y.subarray(0, 100)).size).toBe(10);
  });

  it('maps labels to the classes of Fashion-MNIST', () => {
    // Trousers (1) are two legs: the centre column is darker than the legs; bags (8) are filled there.
    const meanAt = (label: number, pixel: number) => {
      let sum = 0;
      let n = 0;
      for (let i = 0; i < fashion.test.n; i++) {
        if (fashion.test.y[i] !== label) continue;
        sum += fashion.test.x[i * 784 + pixel];
        n++;
      }
      return sum / n;
    };
    const centreBottom = 24 * 28 + 14;
    expect(meanAt(1, centreBottom)).toBeLessThan(meanAt(1, 24 * 28 + 10));
    expect(meanAt(8, centreBottom)).toBeGreaterThan(0.3);
  });

  it('shares decoded splits between callers', () => {
    expect(loadFashionMnist().test.x).toBe(fashion.test.x);
  });
});

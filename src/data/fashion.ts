import { type Dataset, once, type Split, sharedWeakly, splitFromBytes, withLazySplits } from './dataset.js';
import { DEFAULT_CACHE_DIR, type FashionBytes, fashionSourceDir, readFashionBytes } from './fashion-cache.js';
import { holdOut, range, SPLIT_SEED, uniqueRows } from './holdout.js';
import { createRng, shuffleInPlace } from './random.js';

export const FASHION_CLASS_NAMES = ['T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker',
  'Bag', 'Ankle boot'];
/** The sizes of the original Fashion-MNIST test and training sets, which the package merges. */
export const FASHION_TEST_SIZE = 10000;
/** As for MNIST: held out of the 60,000 training images. */
export const FASHION_VALIDATION_SIZE = 5000;

const FEATURES = 28 * 28;

export interface FashionRows {
  train: Int32Array;
  validation: Int32Array;
  test: Int32Array;
}

/**
 * The fixed split of the package's 70,000 images: test 10,000 (1,000 per class), then validation
 * 5,000 (500 per class) from the rest, then train 55,000. Held-out rows are drawn only from images
 * that occur exactly once in the package, so every copy of a duplicate lands in train and no image
 * sits on two sides. The source files are sorted by class, so each split is shuffled. One seeded
 * stream drives it all: the result is pinned by a checksum in the tests and must never change.
 *
 * @example
 *   const rows = fashionSplitRows(readFashionBytes()); // rows.test.length === 10000
 */
export function fashionSplitRows(data: FashionBytes, seed = SPLIT_SEED): FashionRows {
  const rng = createRng(seed);
  const unique = uniqueRows(data.images, FEATURES);
  const { kept: rest, held: test } = holdOut(data.labels, 10, range(data.n), FASHION_TEST_SIZE, rng, unique);
  const { kept: train, held: validation } = holdOut(data.labels, 10, rest, FASHION_VALIDATION_SIZE, rng, unique);
  return { train: shuffleInPlace(train, rng), validation: shuffleInPlace(validation, rng),
    test: shuffleInPlace(test, rng) };
}

export interface FashionOptions {
  /** Folder with the package's `0.json` … `9.json`; defaults to the installed fashion-mnist. */
  sourceDir?: string;
  /** Where the binary cache lives; defaults to the repo's git-ignored `.cache/`. */
  cacheDir?: string;
}

type SplitName = keyof FashionRows;
const cache = new Map<string, Record<SplitName, () => Split>>();

function sharedSplits(sourceDir: string, cacheDir: string): Record<SplitName, () => Split> {
  const key = JSON.stringify([sourceDir, cacheDir]);
  const hit = cache.get(key);
  if (hit) return hit;
  // The bytes and the split rows are needed only while a split decodes; held weakly, they are
  // freed once all three are decoded, and re-read from the cache if a split is needed again.
  const source = sharedWeakly(() => {
    const data = readFashionBytes({ sourceDir, cacheDir });
    return { data, rows: fashionSplitRows(data) };
  });
  const decode = (name: SplitName) =>
    sharedWeakly(() => {
      const { data, rows } = source();
      return splitFromBytes(data.images, data.labels, rows[name], FEATURES);
    });
  const splits = { train: decode('train'), validation: decode('validation'), test: decode('test') };
  cache.set(key, splits);
  return splits;
}

/**
 * Fashion-MNIST from the fashion-mnist package, with the fixed split of `fashionSplitRows`. A
 * split's `ids` are rows of the package's images in source order (0.json first). Splits decode on
 * first access and are shared while anyone holds them.
 *
 * @example
 *   const fashion = loadFashionMnist();
 *   fashion.classNames[fashion.test.y[0]]; // e.g. 'Sneaker'
 */
export function loadFashionMnist(options: FashionOptions = {}): Dataset {
  const splits = sharedSplits(options.sourceDir ?? fashionSourceDir(), options.cacheDir ?? DEFAULT_CACHE_DIR);
  return withLazySplits({ name: 'fashion-mnist', inputShape: [28, 28, 1], numClasses: 10,
    classNames: [...FASHION_CLASS_NAMES] }, { train: once(splits.train), validation: once(splits.validation),
    test: once(splits.test) });
}

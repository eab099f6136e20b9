import { createHash } from 'node:crypto';

/**
 * One split of a dataset, row-major: example i is x[i*features .. (i+1)*features). Splits are never
 * mutated after they are made, which is what lets slices and tensors share their memory.
 */
export interface Split {
  /** [n, features], pixels scaled to [0, 1] (synthetic data: unbounded real features). */
  x: Float32Array;
  /** [n], class ids in [0, numClasses). */
  y: Int32Array;
  /** [n], each row's position in the dataset's source (e.g. its index in the MNIST training file). */
  ids: Int32Array;
  n: number;
  features: number;
}

export interface Dataset {
  name: string;
  /** One example's shape: [28, 28, 1] for the image sets (height, width, channels), [d] for synthetic. */
  inputShape: number[];
  numClasses: number;
  classNames: string[];
  /** Decoded on first access: a caller that only evaluates never pays for the training set. */
  readonly train: Split;
  /** Held out from training for early stopping and bias tuning; never the test set. */
  readonly validation: Split;
  readonly test: Split;
  /** Ground-truth superclass of each class, where the data has a hierarchy (synthetic). */
  superclassOf?: Int32Array;
}

/**
 * Numbers per example of a shape.
 *
 * @example
 *   featuresOf([28, 28, 1]); // 784
 */
export function featuresOf(inputShape: readonly number[]): number {
  return inputShape.reduce((a, b) => a * b, 1);
}

/**
 * Rows [start, end) as a split that shares the parent's memory: batches cost no copy.
 *
 * @example
 *   const batch = sliceRows(dataset.train, 0, 128); // batch.n === 128
 */
export function sliceRows(split: Split, start: number, end: number): Split {
  if (start < 0 || end > split.n || start > end) {
    throw new Error(`sliceRows: [${start}, ${end}) is outside a split of ${split.n} rows`);
  }
  const f = split.features;
  return {
    x: split.x.subarray(start * f, end * f),
    y: split.y.subarray(start, end),
    ids: split.ids.subarray(start, end),
    n: end - start,
    features: f,
  };
}

/**
 * The given rows of a row-major matrix `width` wide, in the given order, copied into `out` (a new
 * array unless given): shuffled batches, subsets, the engine's GatherV2. Rows are not checked.
 *
 * @example
 *   gatherRows(Float32Array.of(1, 2, 3, 4, 5, 6), 2, [2, 0]); // Float32Array [5, 6, 1, 2]
 */
export function gatherRows(source: Float32Array, width: number, rows: ArrayLike<number>,
  out: Float32Array = new Float32Array(rows.length * width)): Float32Array {
  for (let i = 0; i < rows.length; i++) out.set(source.subarray(rows[i] * width, (rows[i] + 1) * width), i * width);
  return out;
}

/**
 * The given rows, in the given order, copied into a new split (a gather: shuffled batches, subsets).
 *
 * @example
 *   const firstTwo = takeRows(dataset.test, Int32Array.of(0, 1));
 */
export function takeRows(split: Split, rows: ArrayLike<number>): Split {
  const n = rows.length;
  const y = new Int32Array(n);
  const ids = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const r = rows[i];
    if (!(r >= 0 && r < split.n)) throw new Error(`takeRows: row ${r} is outside a split of ${split.n} rows`);
    y[i] = split.y[r];
    ids[i] = split.ids[r];
  }
  return { x: gatherRows(split.x, split.features, rows), y, ids, n, features: split.features };
}

/**
 * Several splits' rows one after another, copied into a new split.
 *
 * @example
 *   const all = concatRows(mnist.train, mnist.validation); // the 60,000 training images
 */
export function concatRows(...splits: Split[]): Split {
  const features = splits[0]?.features ?? 0;
  if (splits.some((split) => split.features !== features)) {
    throw new Error('concatRows: the splits have different numbers of features');
  }
  const n = splits.reduce((sum, split) => sum + split.n, 0);
  const out: Split = { x: new Float32Array(n * features), y: new Int32Array(n), ids: new Int32Array(n), n, features };
  let row = 0;
  for (const split of splits) {
    out.x.set(split.x.subarray(0, split.n * features), row * features);
    out.y.set(split.y.subarray(0, split.n), row);
    out.ids.set(split.ids.subarray(0, split.n), row);
    row += split.n;
  }
  return out;
}

/**
 * Examples per class, [numClasses].
 *
 * @example
 *   classCounts(mnist.validation.y, 10); // Int32Array [494, 562, …]
 */
export function classCounts(y: Int32Array, numClasses: number): Int32Array {
  const counts = new Int32Array(numClasses);
  for (const label of y) counts[label]++;
  return counts;
}

/**
 * sha256 of the ids of train, validation and test in order: the identity of a split, for pinning
 * in tests and recording in bundles. Decodes every split.
 *
 * @example
 *   splitChecksum(loadMnist()); // '3f1c…' (64 hex digits), fixed across versions
 */
export function splitChecksum(dataset: Dataset): string {
  const hash = createHash('sha256');
  for (const split of [dataset.train, dataset.validation, dataset.test]) {
    // Little-endian on every platform, so the checksum does not depend on the host.
    const bytes = Buffer.alloc(split.n * 4);
    for (let i = 0; i < split.n; i++) bytes.writeInt32LE(split.ids[i], i * 4);
    hash.update(bytes);
  }
  return hash.digest('hex');
}

/**
 * Memoises a large value weakly: while anyone holds it, every caller gets the same object (no
 * second 188 MB copy); once nobody does, the garbage collector may reclaim it and the next call
 * rebuilds it.
 */
export function sharedWeakly<T extends object>(make: () => T): () => T {
  let ref: WeakRef<T> | undefined;
  return () => {
    const alive = ref?.deref();
    if (alive) return alive;
    const value = make();
    ref = new WeakRef(value);
    return value;
  };
}

/**
 * A dataset whose splits are getters: each maker runs when its split is first read, so a caller
 * that only evaluates never decodes the training set.
 *
 * @example
 *   return withLazySplits({ name, inputShape, numClasses, classNames }, { train: once(decodeTrain), … });
 */
export function withLazySplits<T extends Omit<Dataset, 'train' | 'validation' | 'test'>>(info: T,
  splits: { train: () => Split; validation: () => Split; test: () => Split }): T & Dataset {
  return Object.defineProperties(info, {
    train: { get: splits.train, enumerable: true },
    validation: { get: splits.validation, enumerable: true },
    test: { get: splits.test, enumerable: true },
  }) as T & Dataset;
}

/** Runs `make` on first call and returns the same value after. */
export function once<T>(make: () => T): () => T {
  let done = false;
  let value: T;
  return () => {
    if (!done) {
      value = make();
      done = true;
    }
    return value;
  };
}

/**
 * Decodes the given rows of a uint8 image array into a float32 split scaled to [0, 1], writing each
 * pixel once: the only full-size float copy of the data is the one the split holds.
 */
export function splitFromBytes(images: Uint8Array, labels: Uint8Array, rows: Int32Array, features: number): Split {
  const n = rows.length;
  const x = new Float32Array(n * features);
  const y = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const src = rows[i] * features;
    const dst = i * features;
    for (let j = 0; j < features; j++) x[dst + j] = images[src + j] / 255;
    y[i] = labels[rows[i]];
  }
  return { x, y, ids: Int32Array.from(rows), n, features };
}

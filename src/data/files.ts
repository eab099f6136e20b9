import { z } from 'zod';
import { type Dataset, featuresOf, type Split, takeRows } from './dataset.js';
import { holdOut, range, SPLIT_SEED } from './holdout.js';
import { createRng } from './random.js';
import { DataFileError, type RawSplit, readBytes } from './raw.js';
import { FileSourceSchema, readSource } from './sources.js';

/** A dataset from the user's own files: each split in any of the formats of FileSourceSchema. */
export const FilesConfigSchema = z.object({
  name: z.literal('files'),
  /** What reports and bundles call the dataset; default "files". */
  title: z.string().min(1).optional(),
  train: FileSourceSchema,
  test: FileSourceSchema,
  /** A given validation set; without one, `validationFraction` of train is held out, stratified by class. */
  validation: FileSourceSchema.optional(),
  validationFraction: z.number().gt(0).lt(1).default(0.1),
  /** Seeds the held-out draw, so a config always makes the same split. */
  seed: z.int().min(0).default(SPLIT_SEED),
  /** One example's shape, e.g. [28, 28, 1]; default the files' own (without the row dimension). */
  inputShape: z.array(z.int().positive()).min(1).optional(),
  /**
   * Class names by id. Default: a file of one name per line (`classNamesFile`), the labels themselves when they are
   * strings, else "0", "1", ….
   */
  classNames: z.array(z.string().min(1)).min(2).optional(),
  classNamesFile: z.string().min(1).optional(),
});
export type FilesConfig = z.infer<typeof FilesConfigSchema>;

/** Splits as arrays, in memory or read from files: what datasetFromArrays checks and splits. */
export interface ArraysInput {
  train: RawSplit;
  test: RawSplit;
  validation?: RawSplit;
}
export type ArraysOptions = Omit<FilesConfig, 'name' | 'train' | 'test' | 'validation' | 'classNamesFile'>;

/** The class names and every split's labels as class ids; throws naming the file and row of a bad label. */
function resolveClasses(splits: RawSplit[], given: string[] | undefined): { names: string[]; ids: Int32Array[] } {
  const [train] = splits;
  const byName = splits.map((s) => !(s.labels instanceof Int32Array));
  if (byName.some((b) => b !== byName[0])) {
    throw new DataFileError(splits[byName.indexOf(!byName[0])].labelsFile,
      "has labels of another kind than the training set's: use class ids (integers) everywhere, or names everywhere");
  }
  const largest = byName[0] ? -1 : (train.labels as Int32Array).reduce((max, label) => Math.max(max, label), -1);
  const names = given ??
    (byName[0] ?
      [...new Set(train.labels as string[])].sort((a, b) => a.localeCompare(b, 'en', { numeric: true })) :
      Array.from({ length: largest + 1 }, (_, i) => String(i)));
  if (names.length < 2) {
    throw new DataFileError(train.labelsFile, `has ${names.length} class: a classifier needs at least 2`);
  }
  const index = new Map(names.map((name, i) => [name, i]));
  const ids = splits.map((split) =>
    Int32Array.from(split.labels as ArrayLike<number | string>, (label, row) => {
      const id = typeof label === 'number' ? label : index.get(label);
      if (id === undefined || id >= names.length) {
        throw new DataFileError(split.labelsFile,
          `row ${row} has label ${JSON.stringify(label)}, which is not one of the ${names.length} classes (${
            given ? 'the class names given' : 'the labels of the training set'
          })`);
      }
      return id;
    })
  );
  return { names, ids };
}

function checkFinite(split: RawSplit, features: number): void {
  for (let i = 0; i < split.x.length; i++) {
    if (!Number.isFinite(split.x[i])) {
      throw new DataFileError(split.featuresFile,
        `row ${Math.floor(i / features)}, feature ${i % features} is ${split.x[i]}: features must be finite`);
    }
  }
}

function everyClassTrained(y: Int32Array, names: string[], file: string, after: string): void {
  const seen = new Uint8Array(names.length);
  for (const label of y) seen[label] = 1;
  const missing = names.filter((_, c) => seen[c] === 0);
  if (missing.length > 0) {
    throw new DataFileError(file, `class ${
      missing.slice(0, 5).map((m) => JSON.stringify(m)).join(', ')
    }${missing.length > 5 ? ', …' : ''} has no training example${after}`);
  }
}

const asSplit = (raw: RawSplit, y: Int32Array, features: number): Split => ({ x: raw.x, y, ids: range(raw.n), n: raw.n,
  features });

/**
 * A dataset from arrays, checked as the file loader checks them: features finite and of one width,
 * labels in range, every class trained on. Without a validation split, one is held out of train,
 * stratified and seeded; a split's `ids` are rows of its source.
 *
 * @example
 *   const data = datasetFromArrays({ train, test }, { validationFraction: 0.1, seed: 1 });
 */
export function datasetFromArrays(input: ArraysInput, options: Partial<ArraysOptions> = {}): Dataset {
  const splits = [input.train, input.test, ...(input.validation ? [input.validation] : [])];
  const features = featuresOf(input.train.shape);
  for (const split of splits) {
    if (split.n === 0) throw new DataFileError(split.featuresFile, 'has no rows: every split needs examples');
    if (featuresOf(split.shape) !== features) {
      throw new DataFileError(split.featuresFile,
        `has ${featuresOf(split.shape)} features per row; the training set has ${features}`);
    }
    checkFinite(split, features);
  }
  const inputShape = options.inputShape ?? input.train.shape;
  if (featuresOf(inputShape) !== features) {
    throw new Error(
      `inputShape [${inputShape.join(', ')}] holds ${featuresOf(inputShape)} features; the files have ${features}`,
    );
  }
  const { names, ids } = resolveClasses(splits, options.classNames);
  everyClassTrained(ids[0], names, input.train.labelsFile, '');
  const all = asSplit(input.train, ids[0], features);
  let train = all;
  let validation: Split;
  if (input.validation) {
    validation = asSplit(input.validation, ids[2], features);
  } else {
    const size = Math.max(1, Math.round((options.validationFraction ?? 0.1) * all.n));
    const { kept, held } = holdOut(all.y, names.length, range(all.n), size, createRng(options.seed ?? SPLIT_SEED));
    [train, validation] = [takeRows(all, kept), takeRows(all, held)];
    everyClassTrained(train.y, names, input.train.labelsFile,
      ' left once the validation rows are held out: give it more examples, or a validation file');
  }
  return { name: options.title ?? 'files', inputShape, numClasses: names.length, classNames: names, train, validation,
    test: asSplit(input.test, ids[1], features) };
}

/** The names in a class-names file: one per line, blank lines ignored. */
function readClassNames(file: string): string[] {
  return readBytes(file).toString('utf8').split(/\r?\n/).map((line) => line.trim()).filter(Boolean);
}

/**
 * The dataset a `files` config names, read and checked before anything trains: every problem is an
 * error naming the file, the row or entry, and what was expected. `log` gets a line per file read.
 */
export function loadFiles(config: FilesConfig, log: (line: string) => void = () => {}): Dataset {
  const read = (split: string, source: FilesConfig['train']) => {
    const started = performance.now();
    const raw = readSource(source);
    const mb = (raw.x.byteLength / 2 ** 20).toFixed(1);
    log(
      `dataset: ${split} from ${raw.featuresFile}: ${raw.n.toLocaleString('en')} rows × ${
        featuresOf(raw.shape)
      } features (${mb} MB as float32) in ${((performance.now() - started) / 1000).toFixed(1)} s`,
    );
    return raw;
  };
  const input = { train: read('train', config.train), test: read('test', config.test),
    validation: config.validation && read('validation', config.validation) };
  const classNames = config.classNames ?? (config.classNamesFile ? readClassNames(config.classNamesFile) : undefined);
  return datasetFromArrays(input, { ...config, classNames });
}

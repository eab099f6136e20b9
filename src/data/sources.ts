import { type CsvError, parse as parseCsv } from 'csv-parse/sync';
import { unzipSync } from 'fflate';
import { type NpyArray, parse as parseNpy } from 'npyjs';
import { z } from 'zod';
import { parseIdx } from './idx.js';
import { readImageFolder } from './images.js';
import { DataFileError, type RawSplit, readBytes } from './raw.js';

// One file-backed split as read, before labels become class ids: the formats people already have.

export const FileSourceSchema = z.discriminatedUnion('format', [
  /** numpy's own format: features [n, …] float32, float64 or uint8; labels [n] integers or strings. */
  z.object({ format: z.literal('npy'), features: z.string().min(1), labels: z.string().min(1) }),
  /** np.savez / savez_compressed: the two arrays by key. */
  z.object({ format: z.literal('npz'), path: z.string().min(1), features: z.string().min(1).default('x'),
    labels: z.string().min(1).default('y') }),
  /** A header row; the label column by name; the feature columns by name, default every other column. */
  z.object({ format: z.literal('csv'), path: z.string().min(1), label: z.string().min(1).default('label'),
    features: z.array(z.string().min(1)).min(1).optional() }),
  /** LeCun's IDX, as MNIST ships: unsigned-byte features [n, …] and labels [n]. */
  z.object({ format: z.literal('idx'), features: z.string().min(1), labels: z.string().min(1) }),
  /** One sub-folder per class of PNG or JPEG files, each resized to height × width, grey (1 channel) or RGB (3). */
  z.object({ format: z.literal('images'), dir: z.string().min(1), height: z.int().positive(), width: z.int().positive(),
    channels: z.union([z.literal(1), z.literal(3)]).default(1) }),
]);
export type FileSource = z.infer<typeof FileSourceSchema>;

/** Features in float32 whatever the stored type: float64 rounds once, uint8 (pixels) scales to [0, 1]. */
function toFeatures(array: NpyArray, file: string): Float32Array {
  const data = array.data;
  if (data instanceof Float32Array) return data;
  if (data instanceof Float64Array) return Float32Array.from(data);
  if (data instanceof Uint8Array && array.dtype === 'u1') return Float32Array.from(data, (v) => v / 255);
  throw new DataFileError(file,
    `features of dtype ${array.dtype}: expected float32 (<f4), float64 (<f8) or uint8 (|u1)`);
}

function toLabels(array: NpyArray, file: string): Int32Array | string[] {
  if (array.shape.length !== 1) {
    throw new DataFileError(file, `labels of shape [${array.shape.join(', ')}]: expected one label per row, shape [n]`);
  }
  const data = array.data as unknown as ArrayLike<number | bigint | string>;
  if (array.dtype.startsWith('U')) return Array.from(data as ArrayLike<string>);
  if (!/^[iu][1248]$/.test(array.dtype)) {
    throw new DataFileError(file, `labels of dtype ${array.dtype}: expected integers or strings`);
  }
  const labels = new Int32Array(array.shape[0]);
  for (let i = 0; i < labels.length; i++) {
    const value = Number(data[i]);
    if (value < 0 || value > 2 ** 31 - 1) {
      throw new DataFileError(file, `row ${i} has label ${value}: labels are class ids from 0`);
    }
    labels[i] = value;
  }
  return labels;
}

function npy(bytes: Uint8Array, file: string): NpyArray {
  let array: NpyArray;
  try {
    array = parseNpy(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer);
  } catch (error) {
    throw new DataFileError(file, `is not a readable .npy array (${(error as Error).message})`);
  }
  if (array.fortranOrder && array.shape.length > 1) {
    throw new DataFileError(file, 'is stored in Fortran order: save it C-ordered (np.ascontiguousarray)');
  }
  return array;
}

function fromArrays(features: NpyArray, labels: NpyArray, featuresFile: string, labelsFile: string): RawSplit {
  if (features.shape.length < 2) {
    throw new DataFileError(featuresFile,
      `features of shape [${features.shape.join(', ')}]: expected [rows, features…]`);
  }
  const raw = { x: toFeatures(features, featuresFile), n: features.shape[0], shape: features.shape.slice(1),
    labels: toLabels(labels, labelsFile), featuresFile, labelsFile };
  if (raw.labels.length !== raw.n) {
    throw new DataFileError(labelsFile, `has ${raw.labels.length} labels for the ${raw.n} rows of ${featuresFile}`);
  }
  return raw;
}

function readNpz(path: string, featuresKey: string, labelsKey: string): RawSplit {
  let entries: Record<string, Uint8Array>;
  try {
    entries = unzipSync(readBytes(path));
  } catch (error) {
    if (error instanceof DataFileError) throw error;
    throw new DataFileError(path, `is not a readable .npz (zip) archive (${(error as Error).message})`);
  }
  const entry = (key: string) => {
    const bytes = entries[`${key}.npy`];
    if (!bytes) {
      throw new DataFileError(path, `has no array "${key}" (it holds ${
        Object.keys(entries).map((k) => k.replace(/\.npy$/, '')).join(', ')
      })`);
    }
    return npy(bytes, `${path}[${key}]`);
  };
  return fromArrays(entry(featuresKey), entry(labelsKey), `${path}[${featuresKey}]`, `${path}[${labelsKey}]`);
}

function readIdxPair(featuresFile: string, labelsFile: string): RawSplit {
  const features = parseIdx(readBytes(featuresFile), featuresFile);
  const labels = parseIdx(readBytes(labelsFile), labelsFile, [features.dims[0]]);
  const asNpy = (data: Uint8Array, shape: number[]): NpyArray => ({ data, shape, dtype: 'u1', fortranOrder: false });
  return fromArrays(asNpy(features.data, features.dims), asNpy(labels.data, labels.dims), featuresFile, labelsFile);
}

/**
 * A header row, then one example per row. Rows are converted as the parser yields them (csv-parse's
 * on_record), so memory is the file's bytes and the features as float32, never every cell as a string.
 */
function readCsv(path: string, labelColumn: string, featureColumns: string[] | undefined): RawSplit {
  let header: string[] | undefined;
  let labelIndex = -1;
  let featureIndices: number[] = [];
  let x = new Float32Array(0);
  let n = 0;
  const labels: string[] = [];
  const column = (name: string) => {
    const index = header!.indexOf(name);
    if (index < 0) {
      throw new DataFileError(path,
        `has no column "${name}" (its header: ${header!.slice(0, 8).join(', ')}${header!.length > 8 ? ', …' : ''})`);
    }
    return index;
  };
  const addRow = (record: string[], line: number) => {
    const width = featureIndices.length;
    if ((n + 1) * width > x.length) {
      const grown = new Float32Array(Math.max(1024, 2 * x.length, (n + 1) * width));
      grown.set(x);
      x = grown;
    }
    featureIndices.forEach((c, f) => {
      const text = record[c];
      const value = text === '' ? Number.NaN : Number(text);
      if (Number.isNaN(value) && text !== 'NaN') {
        throw new DataFileError(path,
          `line ${line}, column "${header![c]}": ${text === '' ? 'empty' : `"${text}" is not a number`}`);
      }
      x[n * width + f] = value;
    });
    if (record[labelIndex] === '') {
      throw new DataFileError(path, `line ${line}: the label column "${labelColumn}" is empty`);
    }
    labels.push(record[labelIndex]);
    n++;
  };
  try {
    parseCsv(readBytes(path), {
      skip_empty_lines: true,
      trim: true,
      on_record: (record: string[], info: { lines: number }) => {
        if (header) addRow(record, info.lines);
        else {
          header = record;
          labelIndex = column(labelColumn);
          featureIndices = featureColumns ?
            featureColumns.map(column) :
            header.map((_, i) => i).filter((i) => i !== labelIndex);
        }
        return null; // nothing kept by the parser
      },
    });
  } catch (error) {
    if (error instanceof DataFileError) throw error;
    const csv = error as CsvError;
    throw new DataFileError(path, csv.code === 'CSV_RECORD_INCONSISTENT_FIELDS_LENGTH' ?
      `line ${csv.lines}: ${csv.message.replace(/^Invalid Record Length: /, '')}` :
      csv.message);
  }
  if (!header) throw new DataFileError(path, 'is empty: expected a header row, then one row per example');
  const numeric = labels.every((label) => /^\d+$/.test(label));
  return {
    x: x.slice(0, n * featureIndices.length),
    n,
    shape: [featureIndices.length],
    labels: numeric ? Int32Array.from(labels, Number) : labels,
    featuresFile: path,
    labelsFile: path,
  };
}

/** Reads one split's files; every problem is a DataFileError naming the file and, where it can, the row. */
export function readSource(source: FileSource): RawSplit {
  switch (source.format) {
    case 'npy':
      return fromArrays(npy(readBytes(source.features), source.features), npy(readBytes(source.labels), source.labels),
        source.features, source.labels);
    case 'npz':
      return readNpz(source.path, source.features, source.labels);
    case 'idx':
      return readIdxPair(source.features, source.labels);
    case 'csv':
      return readCsv(source.path, source.label, source.features);
    case 'images':
      return readImageFolder(source.dir, source.height, source.width, source.channels);
  }
}

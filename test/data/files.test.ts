import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { zipSync } from 'fflate';
import { encode as encodeJpeg } from 'jpeg-js';
import { dump } from 'npyjs';
import { PNG } from 'pngjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Dataset, datasetFromArrays, loadDataset, type RawSplit, type Split } from '../../src/data/index.js';
import { trainModel } from '../../src/distill/index.js';
import { initEngine } from '../../src/engine/index.js';
import { buildMlp } from '../../src/nets/index.js';

// One small dataset as uint8 "pixels" (the one element type every format here can hold exactly),
// written in each format; every reader must give back the very same splits.
const FEATURES = 6;
const CLASSES = 3;
function arrays(n: number, seed: number): { pixels: Uint8Array; labels: Uint8Array } {
  const pixels = Uint8Array.from({ length: n * FEATURES }, (_, i) => (i * 37 + seed * 11) % 256);
  const labels = Uint8Array.from({ length: n }, (_, i) => (i * 7 + seed) % CLASSES);
  return { pixels, labels };
}
const TRAIN = arrays(60, 1);
const TEST = arrays(15, 2);

let dir: string;
const path = (name: string) => join(dir, name);
const npy = (data: Uint8Array | Float32Array | Int32Array | string[], shape: number[]) =>
  new Uint8Array(dump(data as never, shape));

function idx(data: Uint8Array, dims: number[]): Uint8Array {
  const header = new DataView(new ArrayBuffer(4 + 4 * dims.length));
  header.setUint8(2, 0x08);
  header.setUint8(3, dims.length);
  dims.forEach((d, i) => header.setUint32(4 + 4 * i, d, false));
  return new Uint8Array([...new Uint8Array(header.buffer), ...data]);
}

function csv(part: typeof TRAIN, labelOf: (label: number) => string = String): string {
  const header = [...Array.from({ length: FEATURES }, (_, f) => `f${f}`), 'label'].join(',');
  const rows = Array.from(part.labels,
    (label, r) =>
      [...Array.from(part.pixels.subarray(r * FEATURES, (r + 1) * FEATURES), (v) => String(Math.fround(v / 255))),
        labelOf(label)].join(','));
  return `${header}\n${rows.join('\n')}\n`;
}

beforeAll(async () => {
  await initEngine({ backend: 'cpu', log: () => {} });
  dir = mkdtempSync(join(tmpdir(), 'files-data-'));
  for (const [name, part] of [['train', TRAIN], ['test', TEST]] as const) {
    const n = part.labels.length;
    writeFileSync(path(`${name}-x.npy`), npy(part.pixels, [n, FEATURES]));
    writeFileSync(path(`${name}-x-f4.npy`), npy(Float32Array.from(part.pixels, (v) => v / 255), [n, FEATURES]));
    writeFileSync(path(`${name}-y.npy`), npy(part.labels, [n]));
    writeFileSync(path(`${name}.npz`),
      zipSync({ 'x.npy': npy(part.pixels, [n, FEATURES]), 'y.npy': npy(part.labels, [n]) }));
    writeFileSync(path(`${name}-x.idx`), idx(part.pixels, [n, FEATURES]));
    writeFileSync(path(`${name}-y.idx`), idx(part.labels, [n]));
    writeFileSync(path(`${name}.csv`), csv(part));
  }
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const SOURCES = {
  npy: (s: string) => ({ format: 'npy', features: path(`${s}-x.npy`), labels: path(`${s}-y.npy`) }),
  'npy float32': (s: string) => ({ format: 'npy', features: path(`${s}-x-f4.npy`), labels: path(`${s}-y.npy`) }),
  npz: (s: string) => ({ format: 'npz', path: path(`${s}.npz`) }),
  csv: (s: string) => ({ format: 'csv', path: path(`${s}.csv`) }),
  idx: (s: string) => ({ format: 'idx', features: path(`${s}-x.idx`), labels: path(`${s}-y.idx`) }),
} as const;

const filesDataset = (format: keyof typeof SOURCES, extra: Record<string, unknown> = {}) =>
  loadDataset(
    { name: 'files', train: SOURCES[format]('train'), test: SOURCES[format]('test'), validationFraction: 0.2, seed: 5,
      ...extra } as never,
  );

function inMemory(): Dataset {
  const raw = (part: typeof TRAIN, file: string): RawSplit => ({
    x: Float32Array.from(part.pixels, (v) => v / 255),
    n: part.labels.length,
    shape: [FEATURES],
    labels: Int32Array.from(part.labels),
    featuresFile: file,
    labelsFile: file,
  });
  return datasetFromArrays({ train: raw(TRAIN, 'train'), test: raw(TEST, 'test') }, { validationFraction: 0.2,
    seed: 5 });
}

const bytes = (
  split: Split,
) => [Buffer.from(split.x.buffer, split.x.byteOffset, split.x.byteLength),
  Buffer.from(split.y.buffer, split.y.byteOffset, split.y.byteLength),
  Buffer.from(split.ids.buffer, split.ids.byteOffset, split.ids.byteLength)];

describe('datasets from files', () => {
  it.each(Object.keys(SOURCES) as (keyof typeof SOURCES)[])("%s gives the in-memory run's splits, bit for bit",
    (format) => {
      const expected = inMemory();
      const data = filesDataset(format);
      expect([data.name, data.inputShape, data.numClasses, data.classNames]).toEqual(['files', [FEATURES], CLASSES, [
        '0',
        '1',
        '2',
      ]]);
      for (const name of ['train', 'validation', 'test'] as const) {
        expect(data[name].n, name).toBe(expected[name].n);
        bytes(data[name]).forEach((b, i) =>
          expect(b.equals(bytes(expected[name])[i]), `${format} ${name} part ${i}`).toBe(true)
        );
      }
      expect(expected.validation.n).toBe(12); // 20% of 60, stratified
    });

  it('says what it read, a line per file', () => {
    const lines: string[] = [];
    loadDataset({ name: 'files', train: SOURCES.npy('train'), test: SOURCES.csv('test') } as never,
      (line) => lines.push(line));
    expect(lines).toEqual([
      expect.stringMatching(
        /^dataset: train from .*train-x\.npy: 60 rows × 6 features \(0\.0 MB as float32\) in \d+\.\d s$/,
      ),
      expect.stringMatching(/^dataset: test from .*test\.csv: 15 rows × 6 features/),
    ]);
  });

  it('trains the identical model from a file as from memory (same seeds)', async () => {
    const train = async (data: Dataset) => {
      const model = buildMlp({ kind: 'mlp', hidden: [8], inputDropout: 0, hiddenDropout: 0, maxNorm: 0, seed: 3 },
        FEATURES, CLASSES);
      const set = (s: Split) => ({ x: s.x, n: s.n, features: s.features, labels: s.y });
      await trainModel(model, set(data.train), set(data.validation), { epochs: 2, batchSize: 8,
        optimizer: { kind: 'adam', learningRate: 0.01 }, seed: 3 });
      const weights = model.getWeights().map((w) => Array.from(w.dataSync()));
      model.dispose();
      return weights;
    };
    expect(await train(filesDataset('csv'))).toEqual(await train(inMemory()));
  });

  it('takes class names from string labels, from a names file, or as given; and a validation file when there is ' +
    'one', () => {
    writeFileSync(path('named.csv'), csv(TRAIN, (label) => ['cat', 'dog', 'emu'][label]));
    writeFileSync(path('named-test.csv'), csv(TEST, (label) => ['cat', 'dog', 'emu'][label]));
    const named = loadDataset({ name: 'files', title: 'pets', train: { format: 'csv', path: path('named.csv') },
      test: { format: 'csv', path: path('named-test.csv') } });
    expect([named.name, named.classNames]).toEqual(['pets', ['cat', 'dog', 'emu']]);
    expect(Array.from(named.test.y)).toEqual(Array.from(TEST.labels));
    writeFileSync(path('names.txt'), 'zero\none\n\ntwo\n');
    expect(filesDataset('npy', { classNamesFile: path('names.txt') }).classNames).toEqual(['zero', 'one', 'two']);
    const given = filesDataset('npz', { validation: SOURCES.npz('test'), inputShape: [2, 3, 1] });
    expect([given.validation.n, given.train.n, given.inputShape]).toEqual([15, 60, [2, 3, 1]]);
  });
});

describe('bad files: a clear error naming the file, the row and what was expected, before any training', () => {
  const write = (name: string, content: Uint8Array | string) => {
    writeFileSync(path(name), content);
    return path(name);
  };
  const npySplit = (features: string, labels: string) => ({ format: 'npy' as const, features, labels });
  const load = (train: object, more: Record<string, unknown> = {}) => () =>
    loadDataset({ name: 'files', train, test: SOURCES.npy('test'), ...more } as never);

  it('wrong dtype or shape', () => {
    expect(load(npySplit(write('int-x.npy', npy(Int32Array.from(TRAIN.pixels), [60, FEATURES])), path('train-y.npy'))))
      .toThrow(/int-x\.npy: features of dtype i4: expected float32/);
    expect(load(npySplit(write('flat-x.npy', npy(TRAIN.pixels, [360])), path('train-y.npy')))).toThrow(
      /flat-x\.npy: features of shape \[360\]: expected \[rows, features…\]/,
    );
    expect(load(npySplit(path('train-x.npy'), write('wide-y.npy', npy(Uint8Array.from(TRAIN.labels), [30, 2])))))
      .toThrow(/wide-y\.npy: labels of shape \[30, 2\]: expected one label per row/);
    expect(load(npySplit(path('train-x.npy'), path('test-y.npy')))).toThrow(
      /test-y\.npy: has 15 labels for the 60 rows of .*train-x\.npy/,
    );
    expect(
      load(SOURCES.npy('train'), {
        test: { format: 'npy', features: write('narrow-x.npy', npy(TEST.pixels.subarray(0, 15 * 5), [15, 5])),
          labels: path('test-y.npy') },
      }),
    ).toThrow(/narrow-x\.npy: has 5 features per row; the training set has 6/);
    expect(load({ format: 'npz', path: path('train.npz'), labels: 'labels' })).toThrow(
      /train\.npz: has no array "labels" \(it holds x, y\)/,
    );
  });

  it('NaN or infinite features', () => {
    const x = Float32Array.from(TRAIN.pixels);
    x[3 * FEATURES + 2] = Number.NaN;
    expect(load(npySplit(write('nan-x.npy', npy(x, [60, FEATURES])), path('train-y.npy')))).toThrow(
      /nan-x\.npy: row 3, feature 2 is NaN: features must be finite/,
    );
    x[3 * FEATURES + 2] = Number.POSITIVE_INFINITY;
    expect(load(npySplit(write('inf-x.npy', npy(x, [60, FEATURES])), path('train-y.npy')))).toThrow(
      /inf-x\.npy: row 3, feature 2 is Infinity/,
    );
  });

  it('labels out of range, missing, of mixed kinds, or a class with no training example', () => {
    expect(load(SOURCES.npy('train'), { classNames: ['a', 'b'] })).toThrow(
      /train-y\.npy: row \d+ has label 2, which is not one of the 2 classes \(the class names given\)/,
    );
    const holes = write('hole.csv', csv(TRAIN).replace(/\n(([^,\n]*,){6})0\n/, '\n$1\n'));
    expect(load({ format: 'csv', path: holes })).toThrow(/hole\.csv: line \d+: the label column "label" is empty/);
    expect(load({ format: 'csv', path: write('cats.csv', csv(TRAIN, (l) => `c${l}`)) })).toThrow(
      /test-y\.npy: has labels of another kind than the training set's/,
    );
    expect(load(SOURCES.npy('train'), { classNames: ['a', 'b', 'c', 'd'] })).toThrow(
      /train-y\.npy: class "d" has no training example/,
    );
    const rare = Uint8Array.from(TRAIN.labels, (l, i) => (i === 0 ? 3 : l));
    expect(
      load(npySplit(path('train-x.npy'), write('rare-y.npy', npy(rare, [60]))), { validationFraction: 0.9,
        classNames: ['a', 'b', 'c', 'd'] }),
    ).toThrow(/rare-y\.npy: class "d" has no training example left once the validation rows are held out/);
  });

  it('a ragged or non-numeric CSV row, an unreadable or unparsable file', () => {
    const lines = csv(TRAIN).split('\n');
    lines[3] = lines[3].split(',').slice(1).join(',');
    expect(load({ format: 'csv', path: write('ragged.csv', lines.join('\n')) })).toThrow(/ragged\.csv: line 4: .*/);
    expect(load({ format: 'csv', path: write('word.csv', csv(TRAIN).replace(/\n[^,\n]*,/, '\nabc,')) })).toThrow(
      /word\.csv: line 2, column "f0": "abc" is not a number/,
    );
    expect(load({ format: 'csv', path: path('train.csv'), label: 'class' })).toThrow(
      /train\.csv: has no column "class"/,
    );
    expect(load({ format: 'csv', path: write('empty.csv', '') })).toThrow(
      /empty\.csv: is empty: expected a header row/,
    );
    expect(load({ format: 'csv', path: write('huge.csv', csv(TRAIN).replace(/\n[^,\n]*,/, '\n1e400,')) })).toThrow(
      /huge\.csv: row 0, feature 0 is Infinity: features must be finite/,
    );
    expect(
      load(
        npySplit(write('none-x.npy', npy(new Float32Array(0), [0, FEATURES])),
          write('none-y.npy', npy(new Uint8Array(0), [0]))),
      ),
    ).toThrow(/none-x\.npy: has no rows: every split needs examples/);
    expect(load(npySplit(path('train-x.npy'), write('one-y.npy', npy(new Uint8Array(60), [60]))))).toThrow(
      /one-y\.npy: has 1 class: a classifier needs at least 2/,
    );
    expect(load(npySplit(path('missing.npy'), path('train-y.npy')))).toThrow(/missing\.npy: cannot be read \(ENOENT\)/);
    expect(load(npySplit(write('junk.npy', 'not numpy'), path('train-y.npy')))).toThrow(
      /junk\.npy: is not a readable \.npy array/,
    );
    expect(load({ format: 'npz', path: write('junk.npz', 'not a zip') })).toThrow(
      /junk\.npz: is not a readable \.npz \(zip\) archive/,
    );
    expect(load({ format: 'idx', features: write('junk.idx', 'xx'), labels: path('train-y.idx') })).toThrow(
      /junk\.idx: only 2 bytes/,
    );
  });
});

describe('image folders', () => {
  const png = (width: number, height: number, value: (x: number, y: number) => number) => {
    const image = new PNG({ width, height });
    for (let i = 0; i < width * height; i++) {
      const v = value(i % width, Math.floor(i / width));
      image.data.set([v, v, v, 255], 4 * i);
    }
    return PNG.sync.write(image);
  };
  const folder = (name: string, classes: Record<string, Record<string, Buffer | string>>) => {
    for (const [label, files] of Object.entries(classes)) {
      mkdirSync(path(`${name}/${label}`), { recursive: true });
      for (const [file, content] of Object.entries(files)) writeFileSync(path(`${name}/${label}/${file}`), content);
    }
    return { format: 'images' as const, dir: path(name), height: 4, width: 4 };
  };

  it('reads one sub-folder per class, PNG exactly and JPEG closely, resizing to the declared shape', () => {
    const gradient = (x: number, y: number) => 16 * (x + 4 * y);
    const jpeg = Buffer.from(
      encodeJpeg({ width: 4, height: 4, data: PNG.sync.read(png(4, 4, () => 200)).data }, 100).data,
    );
    const train = folder('pics', { cat: { 'a.png': png(4, 4, gradient), 'b.jpg': jpeg },
      dog: { 'big.png': png(8, 8, () => 255) }, '10': { 'c.png': png(4, 4, () => 0) },
      '9': { 'd.png': png(4, 4, () => 0) } });
    const data = loadDataset({ name: 'files', train, test: train, validation: train, inputShape: [4, 4, 1] });
    expect(data.classNames).toEqual(['9', '10', 'cat', 'dog']); // numbers in numeric order
    expect(data.inputShape).toEqual([4, 4, 1]);
    const row = (label: string) => Array.from(data.test.y).indexOf(data.classNames.indexOf(label));
    const pixels = (r: number) => Array.from(data.test.x.subarray(r * 16, (r + 1) * 16));
    // grey: luma of r = g = b
    pixels(row('cat')).forEach((v, i) => expect(v).toBeCloseTo(gradient(i % 4, Math.floor(i / 4)) / 255, 6));
    const jpegRow = Array.from(data.test.y).lastIndexOf(data.classNames.indexOf('cat'));
    pixels(jpegRow).forEach((v) => expect(v).toBeCloseTo(200 / 255, 1));
    pixels(row('dog')).forEach((v) => expect(v).toBeCloseTo(1, 5)); // 8 × 8 resized to 4 × 4
  });

  it('names the file that is not an image, or cannot be decoded', () => {
    const text = folder('notes', { a: { 'x.png': png(4, 4, () => 1), 'readme.txt': 'hello' },
      b: { 'y.png': png(4, 4, () => 2) } });
    expect(() => loadDataset({ name: 'files', train: text, test: text })).toThrow(
      /readme\.txt: is not a \.png, \.jpg or \.jpeg file/,
    );
    const broken = folder('broken', { a: { 'x.png': 'not a png' }, b: { 'y.png': png(4, 4, () => 2) } });
    expect(() => loadDataset({ name: 'files', train: broken, test: broken })).toThrow(
      /x\.png: cannot be decoded as PNG/,
    );
    expect(() =>
      loadDataset({ name: 'files', train: { format: 'images', dir: path('nowhere'), height: 4, width: 4 }, test: text })
    ).toThrow(/nowhere: cannot be read \(ENOENT\)/);
  });
});

import { readManifest, type Manifest } from '../src/bundle/index.js';
import { DatasetConfigSchema, featuresOf, loadDataset, type Split } from '../src/data/index.js';

// Request bodies from the real test split of the bundle's own dataset: the load is what users
// send, and the A/B answers can be scored against the labels.

export interface TestData {
  manifest: Manifest;
  split: Split;
  /** Values per instance, as the server checks them. */
  inputSize: number;
}

/**
 * The bundle's test split, regenerated from the dataset config its manifest records. Fails when
 * the data no longer matches the bundle (another class list or input size).
 *
 * @example
 *   const { split } = await loadTestData('models/default'); // MNIST: 10,000 rows of 784
 */
export async function loadTestData(bundleDir: string): Promise<TestData> {
  const manifest = await readManifest(bundleDir);
  const recorded = manifest.dataset.config ?? { name: manifest.dataset.name };
  const config = DatasetConfigSchema.safeParse(recorded);
  if (!config.success) {
    throw new Error(
      `${bundleDir}: the manifest's dataset config cannot be regenerated (${
        config.error.issues[0]?.message
      }); rebuild the bundle with npm run pipeline`,
    );
  }
  const dataset = loadDataset(config.data);
  const inputSize = featuresOf(manifest.dataset.inputShape);
  const same = dataset.classNames.length === manifest.dataset.classNames.length &&
    dataset.classNames.every((name, i) => name === manifest.dataset.classNames[i]);
  if (!same || featuresOf(dataset.inputShape) !== inputSize) {
    throw new Error(
      `${bundleDir}: its dataset ${manifest.dataset.name} no longer has the classes or input size the bundle was ` +
        `trained on; rebuild the bundle`,
    );
  }
  return { manifest, split: dataset.test, inputSize };
}

/** Row i of a split as plain numbers: float32 values print and parse back exactly. */
export function row(split: Split, i: number): number[] {
  return Array.from(split.x.subarray(i * split.features, (i + 1) * split.features));
}

/**
 * `count` single-row Open Inference Protocol v2 requests: FP32 numbers in JSON, or (binary tensor
 * data extension) a constant JSON header followed by the row's 4-byte little-endian floats. The
 * binary ones need `Inference-Header-Content-Length: headerBytes`.
 */
export function v2Bodies(split: Split, count: number,
  encoding: 'json' | 'binary'): { bodies: Buffer[]; headerBytes?: number } {
  if (split.n === 0) throw new Error('the test split is empty: nothing to send');
  const tensor = { name: 'input', shape: [1, split.features], datatype: 'FP32' };
  if (encoding === 'json') {
    return { bodies: Array.from({ length: count }, (_, i) =>
      Buffer.from(JSON.stringify({ inputs: [{ ...tensor, data: row(split, i % split.n) }] }))) };
  }
  const header = Buffer.from(
    JSON.stringify({ inputs: [{ ...tensor, parameters: { binary_data_size: split.features * 4 } }] }),
  );
  const bodies = Array.from({ length: count }, (_, i) => {
    const r = i % split.n;
    const floats = Buffer.alloc(split.features * 4);
    split.x.subarray(r * split.features, (r + 1) * split.features).forEach((v, j) => floats.writeFloatLE(v, j * 4));
    return Buffer.concat([header, floats]);
  });
  return { bodies, headerBytes: header.length };
}

/**
 * `count` predict bodies of `rows` instances each, rows taken in order and wrapped around the split.
 *
 * @example
 *   const bodies = predictBodies(split, 1000); // bodies[0]: {"instances":[[0,0,…]]}
 */
export function predictBodies(split: Split, count: number, rows = 1): Buffer[] {
  if (split.n === 0) throw new Error('the test split is empty: nothing to send');
  return Array.from({ length: count }, (_, i) => Buffer.from(JSON.stringify({
    instances: Array.from({ length: rows }, (_, j) => row(split, (i * rows + j) % split.n)) })));
}

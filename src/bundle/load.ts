import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { useExactMaxNorm } from '../nets/index.js';
import { summarizeModel } from './architecture.js';
import { modelEntries, parseManifest } from './check.js';
import { BundleError, fieldPath } from './errors.js';
import { exists, listFiles, sha256 } from '../files/index.js';
import { recoverInterrupted, swapInProgress } from './files.js';
import { decodeArtifacts, fromArtifacts } from './artifacts.js';
import { type Architecture, MANIFEST_FILE, type Manifest, MODEL_FILE } from './manifest.js';
import { checkShapes } from './shapes.js';

export interface LoadedBundle {
  dir: string;
  manifest: Manifest;
  generalist: tf.LayersModel;
  /** By specialist id; `manifest.specialists` has each one's classes and dustbin offset. */
  specialists: Map<string, tf.LayersModel>;
  student?: tf.LayersModel;
  /** The members besides the generalist, by id, in the manifest's order (`manifest.members`). */
  members: Map<string, tf.LayersModel>;
  /** Frees every model's weights. */
  dispose(): void;
}

// A writer mid-swap holds the bundle aside for two renames; a loader waits this long for it.
const SWAP_WAIT_MS = 2000;

/** Makes sure a bundle is at `dir`, rolling back a killed writer's half-finished swap first. */
async function locate(folder: string): Promise<void> {
  const dir = resolve(folder);
  if (await exists(dir)) return;
  if (await recoverInterrupted(dir)) return;
  for (let waited = 0; waited < SWAP_WAIT_MS && (await swapInProgress(dir)); waited += 20) {
    await new Promise((done) => setTimeout(done, 20));
    if (await exists(dir)) return;
  }
  if (!(await exists(dir))) {
    throw new BundleError('MISSING_FILE', dir, undefined,
      'no bundle here: build one first (see docs/data-and-bundles.md)');
  }
}

/**
 * manifest.json, checked against the schema and the dataset's classes, without reading the models.
 *
 * @example
 *   const { dataset, specialists } = await readManifest('models/mnist');
 */
export async function readManifest(dir: string): Promise<Manifest> {
  await locate(dir);
  let text: string;
  try {
    text = await readFile(join(dir, MANIFEST_FILE), 'utf8');
  } catch (error) {
    throw new BundleError('MISSING_FILE', MANIFEST_FILE, undefined,
      `cannot be read in ${dir}: not a bundle, or a damaged one`, { cause: error });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new BundleError('NOT_JSON', MANIFEST_FILE, undefined, `does not parse as JSON: ${(error as Error).message}`, {
      cause: error,
    });
  }
  return parseManifest(json);
}

/**
 * The manifest and every file's bytes, each checked against the size and sha256 the manifest
 * recorded; a file the manifest does not list is an error too, since it means two bundles mixed.
 *
 * @example
 *   await verifyBundle('models/mnist'); // throws BundleError naming the first bad file
 */
export async function verifyBundle(dir: string): Promise<{ manifest: Manifest; contents: Map<string, Uint8Array> }> {
  const manifest = await readManifest(dir);
  for (const path of await listFiles(dir)) {
    if (path !== MANIFEST_FILE && !manifest.files[path]) {
      throw new BundleError('UNLISTED_FILE', path, 'files',
        'is in the bundle folder but not in manifest.json: the folder mixes two bundles, or was edited');
    }
  }
  const contents = new Map<string, Uint8Array>();
  for (const [path, entry] of Object.entries(manifest.files)) {
    let bytes: Uint8Array;
    try {
      bytes = await readFile(join(dir, path));
    } catch (error) {
      throw new BundleError('MISSING_FILE', path, fieldPath(['files', path]), 'is listed in manifest.json but missing',
        { cause: error });
    }
    if (bytes.length < entry.bytes) {
      throw new BundleError('TRUNCATED', path, fieldPath(['files', path, 'bytes']),
        `has ${bytes.length} bytes, manifest.json says ${entry.bytes}: the file is truncated`);
    }
    const actual = sha256(bytes);
    if (bytes.length !== entry.bytes || actual !== entry.sha256) {
      throw new BundleError('CHECKSUM', path, fieldPath(['files', path, 'sha256']),
        `sha256 is ${actual} (${bytes.length} bytes), manifest.json says ${entry.sha256} (${entry.bytes} bytes)`);
    }
    contents.set(path, bytes);
  }
  return { manifest, contents };
}

async function loadModel(contents: Map<string, Uint8Array>, folder: string): Promise<tf.LayersModel> {
  const file = `${folder}/${MODEL_FILE}`;
  const read = async (path: string): Promise<Uint8Array> => {
    const bytes = contents.get(`${folder}/${path}`);
    if (!bytes) {
      throw new BundleError('MISSING_FILE', `${folder}/${path}`, 'files',
        `is named by ${file} but not listed in manifest.json`);
    }
    return bytes;
  };
  const artifacts = await decodeArtifacts(contents.get(file) ?? new Uint8Array(), folder, read);
  try {
    useExactMaxNorm();
    return await tf.loadLayersModel(fromArtifacts(artifacts));
  } catch (error) {
    throw new BundleError('INVALID_MODEL', file, undefined, `tfjs cannot build it: ${(error as Error).message}`, {
      cause: error,
    });
  }
}

/**
 * A verified bundle with its models built: checksums first, then each model.json and its weights,
 * then each model's input and output against the dataset and its specialist's classes. Every
 * failure is a BundleError naming the file and the field.
 *
 * @example
 *   const bundle = await loadBundle('models/mnist');
 *   try { bundle.generalist.predict(xs); } finally { bundle.dispose(); }
 */
export async function loadBundle(dir: string): Promise<LoadedBundle> {
  const { manifest, contents } = await verifyBundle(dir);
  const models = new Map<string, tf.LayersModel>();
  const dispose = () => models.forEach((model) => model.dispose());
  try {
    const architectures = new Map<string, Architecture>();
    const files = new Map<string, string>();
    for (const [field, entry] of modelEntries(manifest)) {
      const model = await loadModel(contents, entry.path);
      models.set(field, model);
      const loaded = summarizeModel(model, entry.architecture.kind);
      const file = `${entry.path}/${MODEL_FILE}`;
      if (loaded.parameters !== entry.architecture.parameters) {
        throw new BundleError('SHAPE', file, `${field}.architecture.parameters`,
          `the model has ${loaded.parameters} parameters, manifest.json says ${entry.architecture.parameters}`);
      }
      architectures.set(field, loaded);
      files.set(field, file);
    }
    checkShapes(manifest, architectures, (field) => files.get(field) ?? MANIFEST_FILE);
  } catch (error) {
    dispose();
    throw error;
  }
  // Every entry of modelEntries was loaded above, so these lookups cannot miss.
  const model = (field: string) => models.get(field) as tf.LayersModel;
  const specialists = new Map(manifest.specialists.map((s, i) => [s.id, model(`specialists[${i}]`)]));
  const members = new Map((manifest.members?.models ?? []).map((m, i) => [m.id, model(`members.models[${i}]`)]));
  return { dir, manifest, generalist: model('generalist'), specialists, student: models.get('student'), members,
    dispose };
}

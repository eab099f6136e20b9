import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { BundleError } from './errors.js';
import { isBundlePath, MODEL_FILE, WEIGHTS_FILE } from './manifest.js';

/** A model as the two files of the TF.js Layers format. */
export interface EncodedModel {
  /** model.json, UTF-8: topology, training config, and a manifest of the weights in weights.bin. */
  modelJson: Uint8Array;
  /** weights.bin: every weight's bytes, concatenated in weightsManifest order. */
  weights: Uint8Array;
}

/**
 * Model artifacts (what `model.save` hands a handler) as model.json + one weights.bin shard, the
 * layout tfjs-node's `file://` handler writes and `tf.loadLayersModel` reads in Node and browsers.
 */
export function encodeArtifacts(artifacts: tf.io.ModelArtifacts): EncodedModel {
  if (!artifacts.modelTopology || artifacts.modelTopology instanceof ArrayBuffer) {
    throw new Error('encodeArtifacts: only Layers models (JSON topology) are supported');
  }
  const weights = new Uint8Array(tf.io.CompositeArrayBuffer.join(artifacts.weightData ?? new ArrayBuffer(0)));
  const modelJson: tf.io.ModelJSON = {
    modelTopology: artifacts.modelTopology,
    format: artifacts.format,
    generatedBy: artifacts.generatedBy,
    convertedBy: artifacts.convertedBy,
    trainingConfig: artifacts.trainingConfig,
    weightsManifest: [{ paths: [WEIGHTS_FILE], weights: artifacts.weightSpecs ?? [] }],
    signature: artifacts.signature,
    userDefinedMetadata: artifacts.userDefinedMetadata,
    modelInitializer: artifacts.modelInitializer,
    initializerSignature: artifacts.initializerSignature,
  };
  return { modelJson: new TextEncoder().encode(JSON.stringify(modelJson)), weights };
}

const DTYPE_BYTES: Record<string, number> = { float32: 4, int32: 4, bool: 1, complex64: 8, uint8: 1, uint16: 2,
  float16: 2 };

/** Bytes the weight specs need, or undefined when a string weight makes the size data-dependent. */
export function expectedWeightBytes(specs: readonly tf.io.WeightsManifestEntry[]): number | undefined {
  let total = 0;
  for (const spec of specs) {
    const dtype = spec.quantization?.dtype ?? spec.dtype;
    const size = DTYPE_BYTES[dtype];
    if (size === undefined) return undefined;
    total += size * spec.shape.reduce((a, b) => a * b, 1);
  }
  return total;
}

/**
 * Parses model.json and gathers its weight shards through `read`, checking the shards hold exactly
 * the bytes the weight specs need: a truncated weights file gets TRUNCATED naming it, not a tfjs
 * error about a DataView offset. `folder` prefixes file names in errors.
 */
export async function decodeArtifacts(modelJson: Uint8Array, folder: string,
  read: (path: string) => Promise<Uint8Array>): Promise<tf.io.ModelArtifacts> {
  const file = `${folder}/${MODEL_FILE}`;
  let json: tf.io.ModelJSON;
  try {
    json = JSON.parse(new TextDecoder().decode(modelJson)) as tf.io.ModelJSON;
  } catch (error) {
    throw new BundleError('NOT_JSON', file, undefined, `does not parse as JSON: ${(error as Error).message}`, {
      cause: error,
    });
  }
  if (typeof json !== 'object' || json === null || typeof json.modelTopology !== 'object' ||
    json.modelTopology === null) {
    throw new BundleError('INVALID_MODEL', file, 'modelTopology', 'is missing: not a TF.js Layers model.json');
  }
  if (!Array.isArray(json.weightsManifest)) {
    throw new BundleError('INVALID_MODEL', file, 'weightsManifest', 'is missing or not an array');
  }
  const specs = tf.io.getWeightSpecs(json.weightsManifest);
  const shards: Uint8Array[] = [];
  for (const group of json.weightsManifest) {
    for (const path of group.paths) {
      if (!isBundlePath(path)) {
        throw new BundleError('INVALID_MODEL', file, 'weightsManifest',
          `weight path "${path}" leaves the model folder`);
      }
      shards.push(await read(path));
    }
  }
  const weights = new Uint8Array(shards.reduce((n, s) => n + s.length, 0));
  let offset = 0;
  for (const shard of shards) {
    weights.set(shard, offset);
    offset += shard.length;
  }
  const expected = expectedWeightBytes(specs);
  const shardNames = json.weightsManifest.flatMap((group) => group.paths.map((p) => `${folder}/${p}`)).join(' + ');
  if (expected !== undefined && weights.length < expected) {
    throw new BundleError('TRUNCATED', shardNames, undefined,
      `holds ${weights.length} bytes, but ${file} weightsManifest needs ${expected}: the file is truncated`);
  }
  if (expected !== undefined && weights.length > expected) {
    throw new BundleError('INVALID_MODEL', shardNames, undefined,
      `holds ${weights.length} bytes, but ${file} weightsManifest needs only ${expected}`);
  }
  return tf.io.getModelArtifactsForJSONSync(json, specs, weights.buffer);
}

/**
 * A tfjs IO handler for a folder on disk, with no tfjs-node: `model.save(fileSystem(dir))` writes
 * model.json + weights.bin, `tf.loadLayersModel(fileSystem(dir))` reads them (or any model.json
 * whose weight shards sit beside it). Writing is not atomic on its own; bundles are, via saveBundle.
 *
 * @example
 *   await model.save(fileSystem('runs/teacher'));
 *   const again = await tf.loadLayersModel(fileSystem('runs/teacher'));
 */
export function fileSystem(dir: string): tf.io.IOHandler {
  return {
    async save(artifacts) {
      const encoded = encodeArtifacts(artifacts);
      await mkdir(dir, { recursive: true });
      // Weights first: a reader that finds model.json also finds the weights it points to.
      await writeFile(join(dir, WEIGHTS_FILE), encoded.weights);
      await writeFile(join(dir, MODEL_FILE), encoded.modelJson);
      return { modelArtifactsInfo: tf.io.getModelArtifactsInfoForJSON(artifacts) };
    },
    async load() {
      const readOrFail = async (name: string): Promise<Uint8Array> => {
        try {
          return await readFile(join(dir, name));
        } catch (error) {
          throw new BundleError('MISSING_FILE', join(dir, name), undefined, 'cannot be read', { cause: error });
        }
      };
      return decodeArtifacts(await readOrFail(MODEL_FILE), dir, readOrFail);
    },
  };
}

/** A handler that serves artifacts already in memory, so verified bytes are not read twice. */
export function fromArtifacts(artifacts: tf.io.ModelArtifacts): tf.io.IOHandler {
  return { load: async () => artifacts };
}

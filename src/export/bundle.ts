import { createRequire } from 'node:module';
import type * as tf from '@tensorflow/tfjs';
import { type LoadedBundle, loadBundle, type Manifest, publishFolder, writeFiles } from '../bundle/index.js';
import { featuresOf } from '../data/index.js';
import { sha256 } from '../files/index.js';
import { mlpToOnnx, ONNX_NAMES, ONNX_OPSET } from './onnx.js';
import { TRITON_LABELS_FILE, tritonConfig } from './triton.js';

const { version } = createRequire(import.meta.url)('../../package.json') as { version: string };

/** The sidecar's name: what another runtime reads to rebuild the generalist → specialists path. */
export const SIDECAR_FILE = 'ensemble.json';
/** Triton's dynamic batcher merges requests up to this many rows, the serve config's maximum batch. */
const TRITON_MAX_BATCH = 4096;

/** One exported model: where its ONNX file is and which bundle model it came from. */
export interface ExportedModel {
  role: 'generalist' | 'student' | 'specialist' | 'member';
  /** The specialist's or member's id, or the role. */
  id: string;
  file: string;
  model: tf.LayersModel;
  dustbinOffset?: number;
}

/**
 * The bundle's models with the file each is exported to, the specialists under specialists/, the members under
 * members/.
 */
export function exportedModels(bundle: LoadedBundle): ExportedModel[] {
  const models: ExportedModel[] = [{ role: 'generalist', id: 'generalist', file: 'generalist.onnx',
    model: bundle.generalist }];
  if (bundle.student) models.push({ role: 'student', id: 'student', file: 'student.onnx', model: bundle.student });
  for (const s of bundle.manifest.specialists) {
    models.push({ role: 'specialist', id: s.id, file: `specialists/${s.id}.onnx`, model: bundle.specialists.get(s.id)!,
      dustbinOffset: s.dustbinOffset });
  }
  for (const [id, model] of bundle.members) models.push({ role: 'member', id, file: `members/${id}.onnx`, model });
  return models;
}

function docString(model: ExportedModel, manifest: Manifest): string {
  const where = `bundle ${manifest.name} (${manifest.createdAt}), dataset ${manifest.dataset.name}`;
  if (model.role === 'member') {
    return `Member ${model.id} of ${where}, pooled with the generalist as ${SIDECAR_FILE} says. probabilities = ` +
      `softmax(logits).`;
  }
  if (model.role !== 'specialist') {
    return `The ${model.role} of ${where}. probabilities = softmax(logits); for temperature T use softmax(logits / T).`;
  }
  return `Specialist ${model.id} of ${where}: outputs are its classes in ${SIDECAR_FILE}, then the dustbin. ` +
    `probabilities = softmax(logits + dustbin offset ${model.dustbinOffset}).`;
}

/** What another runtime needs besides the graphs: classes, clusters, dustbin offsets, combiner settings. */
function sidecar(manifest: Manifest, files: Map<string, Uint8Array>, triton: string | null) {
  const features = featuresOf(manifest.dataset.inputShape);
  const { student } = manifest;
  return {
    format: 'distill-serve/onnx-export',
    formatVersion: 1,
    producerVersion: version,
    bundle: { name: manifest.name, createdAt: manifest.createdAt, dataset: manifest.dataset.name },
    opset: ONNX_OPSET,
    input: { name: ONNX_NAMES.input, datatype: 'FP32', shape: [-1, features],
      datasetShape: manifest.dataset.inputShape },
    outputs: {
      [ONNX_NAMES.logits]: "the model's logits, [-1, outputs]; a specialist's without its dustbin offset",
      [ONNX_NAMES.probabilities]:
        "softmax(logits) at T = 1 (a specialist's: softmax(logits + dustbinOffset on the last output)); for " +
          "temperature T use softmax(logits / T)",
    },
    classNames: manifest.dataset.classNames,
    generalist: { file: 'generalist.onnx', metrics: manifest.generalist.metrics },
    student: student ?
      { file: 'student.onnx', teacher: student.teacher, temperature: student.temperature,
        hardWeight: student.hardWeight, metrics: student.metrics } :
      null,
    specialists: manifest.specialists.map((s) => ({ id: s.id, file: `specialists/${s.id}.onnx`, classes: s.classes,
      dustbinOffset: s.dustbinOffset, cluster: s.cluster.index })
    ),
    // The generalist is the first member; pool softmax(logits) of all of them as `averaging` says.
    members: manifest.members ?
      { averaging: manifest.members.averaging, files: ['generalist.onnx', ...manifest.members.models.map((m) =>
        `members/${m.id}.onnx`
      )] } :
      null,
    clustering: manifest.clustering ?? null,
    combiner: manifest.combiner ?? null,
    triton,
    files: Object.fromEntries(
      [...files].map(([path, bytes]) => [path, { sha256: sha256(bytes), bytes: bytes.length }]),
    ),
  };
}

/** The student as a Triton model repository entry: config.pbtxt, labels.txt and 1/model.onnx. */
function tritonFiles(manifest: Manifest, onnxBytes: Uint8Array): [string, Uint8Array][] {
  const text = new TextEncoder();
  const classes = manifest.dataset.classNames;
  const config = tritonConfig('student', featuresOf(manifest.dataset.inputShape), classes.length, TRITON_MAX_BATCH);
  return [['triton/student/config.pbtxt', text.encode(config)], [`triton/student/${TRITON_LABELS_FILE}`,
    text.encode(`${classes.map((name) => name.replace(/\s*\n\s*/g, ' ')).join('\n')}\n`)], [
    'triton/student/1/model.onnx',
    onnxBytes,
  ]];
}

/**
 * Exports a bundle's models to ONNX under `out`, with the sidecar and, when it has a student, a
 * Triton model repository for it. The folder is published atomically: a reader sees the previous
 * export or this one, never a mix.
 *
 * @example
 *   const files = await exportBundle('models/default', 'exported'); // ['generalist.onnx', …]
 */
export async function exportBundle(bundleDir: string, out: string): Promise<string[]> {
  const bundle = await loadBundle(bundleDir);
  try {
    const files = new Map<string, Uint8Array>();
    for (const model of exportedModels(bundle)) {
      files.set(model.file,
        mlpToOnnx(model.model, { name: model.id, docString: docString(model, bundle.manifest),
          dustbinOffset: model.dustbinOffset, producerVersion: version }));
    }
    const triton = files.has('student.onnx') ? tritonFiles(bundle.manifest, files.get('student.onnx')!) : [];
    const side = sidecar(bundle.manifest, files, triton.length > 0 ? 'triton' : null);
    const all: [string, Uint8Array][] = [...files, ...triton, [SIDECAR_FILE,
      new TextEncoder().encode(`${JSON.stringify(side, null, 2)}\n`)]];
    await publishFolder(out, (temp) => writeFiles(temp, all));
    return all.map(([path]) => path);
  } finally {
    bundle.dispose();
  }
}

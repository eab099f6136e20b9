import { basename, resolve } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { engineInfo } from '../engine/index.js';
import { summarizeModel } from './architecture.js';
import { modelEntries, parseManifest } from './check.js';
import { BundleError } from './errors.js';
import { sha256 } from '../files/index.js';
import { publishFolder, writeFiles } from './files.js';
import { type EncodedModel, encodeArtifacts } from './artifacts.js';
import { type Architecture, type Clustering, type Combiner, type DatasetInfo, type EngineRecord, type FileEntry,
  FolderId, FORMAT_VERSION, isBundlePath, MANIFEST_FILE, type Manifest, type MemberEntry, type Members, MODEL_FILE,
  type ModelEntry, type SpecialistEntry, type StudentEntry, WEIGHTS_FILE } from './manifest.js';
import { checkShapes } from './shapes.js';

export interface ModelDraft {
  model: tf.LayersModel;
  /** The nets/ family ('mlp', 'cnn'), recorded in the architecture summary. */
  kind?: string;
  config?: ModelEntry['config'];
  training?: ModelEntry['training'];
  metrics?: ModelEntry['metrics'];
}
export type SpecialistDraft = ModelDraft & Pick<SpecialistEntry, 'id' | 'classes' | 'dustbinOffset' | 'cluster'>;
export type StudentDraft = ModelDraft & Pick<StudentEntry, 'teacher' | 'temperature' | 'hardWeight'>;
export type MemberDraft = ModelDraft & Pick<MemberEntry, 'id'>;

/** What a pipeline hands saveBundle: models plus what they are; paths, summaries and checksums are derived. */
export interface BundleDraft {
  /** Defaults to the folder's name. */
  name?: string;
  dataset: DatasetInfo;
  generalist: ModelDraft;
  specialists?: SpecialistDraft[];
  student?: StudentDraft;
  /** More nets like the generalist, pooled with it into one distribution. */
  members?: { averaging: Members['averaging']; models: MemberDraft[] };
  clustering?: Clustering;
  combiner?: Combiner;
  metrics?: Manifest['metrics'];
  /** Other files to carry (a config, a report), by path relative to the bundle. */
  extraFiles?: Record<string, Uint8Array | string>;
}

/** Points a save passes, in order; `file` repeats once per file written to the temporary folder. */
export type SaveStep = 'file' | 'manifest' | 'moved-old' | 'renamed-new' | 'done';

export interface SaveOptions {
  /** Progress; awaited, so a caller can also pause a save at a step (the crash tests do). */
  onStep?: (step: SaveStep, detail: string) => void | Promise<void>;
  /** Defaults to the engine initEngine chose. */
  engine?: EngineRecord;
}

async function encodeModel(model: tf.LayersModel): Promise<EncodedModel> {
  let encoded: EncodedModel | undefined;
  await model.save(tf.io.withSaveHandler(async (artifacts) => {
    encoded = encodeArtifacts(artifacts);
    return { modelArtifactsInfo: tf.io.getModelArtifactsInfoForJSON(artifacts) };
  }));
  if (!encoded) throw new Error(`saveBundle: tfjs did not hand over the artifacts of ${model.name}`);
  return encoded;
}

function currentEngine(): EngineRecord {
  const info = engineInfo();
  return { backend: info.backend, blasLibrary: info.blasLibrary, tfjsVersion: tf.version.tfjs };
}

/** An id becomes a folder name, so it is checked before it is used as one. */
function checkFolderId(field: string, id: string): void {
  if (!FolderId.safeParse(id).success) {
    throw new BundleError('INVALID_MANIFEST', MANIFEST_FILE, field,
      `"${id}" cannot name a folder: use letters, digits, _ or -`);
  }
}

/** Encodes every model and builds the manifest, all in memory: nothing touches disk until it validates. */
async function prepare(dir: string, draft: BundleDraft,
  engine: EngineRecord): Promise<{ manifest: Manifest; contents: Map<string, Uint8Array> }> {
  const contents = new Map<string, Uint8Array>();
  const entry = async (path: string, { model, kind, config, training, metrics }: ModelDraft): Promise<ModelEntry> => {
    const encoded = await encodeModel(model);
    contents.set(`${path}/${MODEL_FILE}`, encoded.modelJson);
    contents.set(`${path}/${WEIGHTS_FILE}`, encoded.weights);
    return { path, architecture: summarizeModel(model, kind), config, training, metrics: metrics ?? {} };
  };
  const generalist = await entry('generalist', draft.generalist);
  const specialists: SpecialistEntry[] = [];
  for (const [i, s] of (draft.specialists ?? []).entries()) {
    checkFolderId(`specialists[${i}].id`, s.id);
    specialists.push({ ...(await entry(`specialists/${s.id}`, s)), id: s.id, classes: s.classes,
      dustbinOffset: s.dustbinOffset, cluster: s.cluster });
  }
  const student = draft.student && {
    ...(await entry('student', draft.student)),
    teacher: draft.student.teacher,
    temperature: draft.student.temperature,
    hardWeight: draft.student.hardWeight,
  };
  const members = draft.members && { averaging: draft.members.averaging, models: [] as MemberEntry[] };
  for (const [i, m] of (draft.members?.models ?? []).entries()) {
    checkFolderId(`members.models[${i}].id`, m.id);
    members!.models.push({ ...(await entry(`members/${m.id}`, m)), id: m.id });
  }
  for (const [path, content] of Object.entries(draft.extraFiles ?? {})) {
    if (!isBundlePath(path) || path === MANIFEST_FILE || contents.has(path)) {
      throw new Error(`saveBundle: extra file "${path}" is not a free relative path in the bundle`);
    }
    contents.set(path, typeof content === 'string' ? new TextEncoder().encode(content) : content);
  }
  const files: Record<string, FileEntry> = {};
  for (const [path, bytes] of [...contents].sort(([a], [b]) => (a < b ? -1 : 1))) {
    files[path] = { sha256: sha256(bytes), bytes: bytes.length };
  }
  // parseManifest, as on load: a bad id, class or path fails here with the field named, before any write.
  const manifest = parseManifest({
    formatVersion: FORMAT_VERSION,
    name: draft.name ?? basename(dir),
    createdAt: new Date().toISOString(),
    engine,
    dataset: draft.dataset,
    generalist,
    specialists,
    clustering: draft.clustering,
    student,
    members,
    combiner: draft.combiner,
    metrics: draft.metrics ?? {},
    files,
  });
  // The models' files do not exist yet, so a shape error points at the manifest being built.
  const architectures = new Map(
    modelEntries(manifest).map(([field, e]): [string, Architecture] => [field, e.architecture]),
  );
  checkShapes(manifest, architectures, () => MANIFEST_FILE);
  return { manifest, contents };
}

/**
 * Writes a bundle atomically: every file into a hidden temporary folder beside `dir`, manifest.json
 * last, fsynced, then renamed into place; an existing bundle is moved aside for the instant between
 * the two renames and then deleted. A crash at any point leaves the old bundle or the new one, never
 * a mix (one killed between the renames is rolled back by the next save or load). One writer per
 * bundle at a time.
 *
 * @example
 *   await saveBundle('models/mnist', {
 *     dataset: { name: 'mnist', inputShape: [28, 28, 1], classNames: MNIST_CLASS_NAMES },
 *     generalist: { model: teacher, kind: 'mlp', metrics: { testErrors: 67 } },
 *   });
 */
export async function saveBundle(folder: string, draft: BundleDraft, options: SaveOptions = {}): Promise<Manifest> {
  // Absolute and without a trailing slash, so the siblings and renames below name the same folder.
  const dir = resolve(folder);
  const step = options.onStep ?? (() => {});
  const { manifest, contents } = await prepare(dir, draft, options.engine ?? currentEngine());
  await publishFolder(dir, async (temp) => {
    await writeFiles(temp, contents, (path) => step('file', path));
    await writeFiles(temp, [[MANIFEST_FILE, new TextEncoder().encode(`${JSON.stringify(manifest, null, 2)}\n`)]]);
    await step('manifest', MANIFEST_FILE);
  }, step);
  await step('done', dir);
  return manifest;
}

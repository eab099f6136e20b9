import { appendFile, cp, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initEngine } from '../../src/engine/index.js';
import { BundleError, loadBundle, type Manifest, saveBundle, sha256 } from './exports.js';
import { draft, predict, tempDir } from './helpers.js';

let base: string;
let pristine: string;
let expected: Record<string, number[]>;

beforeAll(async () => {
  await initEngine({ backend: 'auto', log: () => {} });
  base = await tempDir();
  pristine = join(base, 'pristine');
  const d = draft(1);
  expected = {
    generalist: predict(d.generalist.model),
    s0: predict(d.specialists![0].model),
    s1: predict(d.specialists![1].model),
    student: predict(d.student!.model),
  };
  await saveBundle(pristine, d);
});
afterAll(async () => rm(base, { recursive: true, force: true }));

let copies = 0;
/** A fresh copy of the pristine bundle to damage. */
async function copy(): Promise<string> {
  const dir = join(base, `copy-${copies++}`);
  await cp(pristine, dir, { recursive: true });
  return dir;
}

async function editManifest(dir: string, edit: (manifest: Manifest & Record<string, unknown>) => void): Promise<void> {
  const path = join(dir, 'manifest.json');
  const manifest = JSON.parse(await readFile(path, 'utf8'));
  edit(manifest);
  await writeFile(path, JSON.stringify(manifest));
}

/** The BundleError loadBundle throws for `dir`. */
async function failure(dir: string): Promise<BundleError> {
  const error = await loadBundle(dir).then((bundle) => {
    bundle.dispose();
    throw new Error('loadBundle succeeded on a damaged bundle');
  }, (e: unknown) => e);
  expect(error).toBeInstanceOf(BundleError);
  return error as BundleError;
}

describe('loadBundle', () => {
  it('rebuilds every model with the weights it was saved with', async () => {
    const bundle = await loadBundle(pristine);
    try {
      expect(predict(bundle.generalist)).toEqual(expected.generalist);
      expect([...bundle.specialists.keys()]).toEqual(['s0', 's1']);
      expect(predict(bundle.specialists.get('s0')!)).toEqual(expected.s0);
      expect(predict(bundle.specialists.get('s1')!)).toEqual(expected.s1);
      expect(predict(bundle.student!)).toEqual(expected.student);
      expect(bundle.manifest.specialists[0].dustbinOffset).toBeCloseTo(Math.log(0.4));
    } finally {
      bundle.dispose();
    }
  });

  it('names a truncated weights file, distinctly', async () => {
    const dir = await copy();
    await truncate(join(dir, 'generalist/weights.bin'), 100);
    const error = await failure(dir);
    expect(error).toMatchObject({ code: 'TRUNCATED', file: 'generalist/weights.bin',
      field: 'files["generalist/weights.bin"].bytes' });
    expect(error.message).toMatch(/has 100 bytes, manifest\.json says \d+: the file is truncated/);
  });

  it('names a truncated weights file even when the manifest was rewritten to match it', async () => {
    const dir = await copy();
    const path = join(dir, 'student/weights.bin');
    await truncate(path, 40);
    const bytes = await readFile(path);
    await editManifest(dir, (m) => (m.files['student/weights.bin'] = { sha256: sha256(bytes), bytes: bytes.length }));
    const error = await failure(dir);
    expect(error).toMatchObject({ code: 'TRUNCATED', file: 'student/weights.bin' });
    expect(error.message).toMatch(/student\/model\.json weightsManifest needs \d+/);
  });

  it('refuses a manifest from a newer format version, distinctly', async () => {
    const dir = await copy();
    await editManifest(dir, (m) => {
      (m as Record<string, unknown>).formatVersion = 2;
      m.somethingNew = { required: true };
      delete (m as Partial<Manifest>).combiner;
    });
    const error = await failure(dir);
    expect(error).toMatchObject({ code: 'NEWER_FORMAT', file: 'manifest.json', field: 'formatVersion' });
    expect(error.message).toMatch(/format version 2 is newer than this build reads \(1\)/);
  });

  it('refuses specialists that name classes the dataset does not have, distinctly', async () => {
    const dir = await copy();
    await editManifest(dir, (m) => (m.specialists[1].classes = [2, 3, 9]));
    const error = await failure(dir);
    expect(error).toMatchObject({ code: 'UNKNOWN_CLASS', file: 'manifest.json', field: 'specialists[1].classes[2]' });
    expect(error.message).toMatch(/specialist "s1" names class 9, but dataset "toy" has 5 classes \(ids 0–4\)/);
  });

  it('names a file whose bytes changed', async () => {
    const dir = await copy();
    const path = join(dir, 'specialists/s1/weights.bin');
    const bytes = await readFile(path);
    bytes[10] ^= 0xff;
    await writeFile(path, bytes);
    expect(await failure(dir)).toMatchObject({ code: 'CHECKSUM', file: 'specialists/s1/weights.bin',
      field: 'files["specialists/s1/weights.bin"].sha256' });
    await appendFile(path, 'x');
    expect(await failure(dir)).toMatchObject({ code: 'CHECKSUM', file: 'specialists/s1/weights.bin' });
  });

  it('names a missing file and a file the manifest does not list', async () => {
    const missing = await copy();
    await rm(join(missing, 'specialists/s0/model.json'));
    expect(await failure(missing)).toMatchObject({ code: 'MISSING_FILE', file: 'specialists/s0/model.json',
      field: 'files["specialists/s0/model.json"]' });
    const stray = await copy();
    await writeFile(join(stray, 'student/weights-old.bin'), 'x');
    expect(await failure(stray)).toMatchObject({ code: 'UNLISTED_FILE', file: 'student/weights-old.bin' });
  });

  it('names the field that breaks the schema', async () => {
    const dir = await copy();
    await editManifest(dir, (m) => m.student && (m.student.temperature = -1));
    expect(await failure(dir)).toMatchObject({ code: 'INVALID_MANIFEST', field: 'student.temperature' });
    await editManifest(dir, (m) => {
      m.student!.temperature = 1;
      m.generalist.path = '../elsewhere';
    });
    expect(await failure(dir)).toMatchObject({ code: 'INVALID_MANIFEST', field: 'generalist.path' });
    await writeFile(join(dir, 'manifest.json'), '{ not json');
    expect(await failure(dir)).toMatchObject({ code: 'NOT_JSON', file: 'manifest.json' });
  });

  it('names a model whose outputs do not fit the dataset', async () => {
    const dir = await copy();
    await editManifest(dir, (m) => m.dataset.classNames.push('f'));
    expect(await failure(dir)).toMatchObject({ code: 'SHAPE', file: 'generalist/model.json',
      field: 'generalist.architecture.outputSize' });
    await editManifest(dir, (m) => {
      m.dataset.classNames.pop();
      m.dataset.inputShape = [2, 3];
    });
    const error = await failure(dir);
    expect(error).toMatchObject({ code: 'SHAPE', field: 'generalist.architecture.inputShape' });
    expect(error.message).toMatch(/reads \[4\] \(4 features\), but dataset\.inputShape \[2, 3\] has 6/);
  });

  it('names a model.json that tfjs cannot build', async () => {
    const dir = await copy();
    const path = join(dir, 'student/model.json');
    const modelJson = JSON.parse(await readFile(path, 'utf8'));
    modelJson.modelTopology.config.layers[0].class_name = 'NoSuchLayer';
    const bytes = Buffer.from(JSON.stringify(modelJson));
    await writeFile(path, bytes);
    await editManifest(dir, (m) => (m.files['student/model.json'] = { sha256: sha256(bytes), bytes: bytes.length }));
    expect(await failure(dir)).toMatchObject({ code: 'INVALID_MODEL', file: 'student/model.json' });
  });
});

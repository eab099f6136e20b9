import { spawn } from 'node:child_process';
import { readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BundleError, loadBundle, readManifest, saveBundle, sha256 } from './exports.js';
import { initEngine } from '../../src/engine/index.js';
import { draft, tempDir } from './helpers.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const WRITER = join(ROOT, 'test/fixtures/bundle-writer.ts');
let base: string;

beforeAll(async () => {
  await initEngine({ backend: 'auto', log: () => {} });
  base = await tempDir();
});
afterAll(async () => rm(base, { recursive: true, force: true }));

describe('saveBundle', () => {
  it('writes the layout of DESIGN.md with a checksum for every file', async () => {
    const dir = join(base, 'layout');
    const manifest = await saveBundle(dir, draft(1));
    const files = (await readdir(dir, { recursive: true })).filter((f) => f.includes('.')).sort();
    expect(files).toEqual(['generalist/model.json', 'generalist/weights.bin', 'manifest.json',
      'specialists/s0/model.json', 'specialists/s0/weights.bin', 'specialists/s1/model.json',
      'specialists/s1/weights.bin', 'student/model.json', 'student/weights.bin']);
    expect(Object.keys(manifest.files).sort()).toEqual(files.filter((f) => f !== 'manifest.json'));
    for (const [path, entry] of Object.entries(manifest.files)) {
      const bytes = await readFile(join(dir, path));
      expect(entry).toEqual({ sha256: sha256(bytes), bytes: bytes.length });
    }
    expect(await readManifest(dir)).toEqual(manifest);
    expect(manifest.generalist.architecture).toMatchObject({ kind: 'mlp', inputShape: [4], outputSize: 5,
      sizes: [4, 8, 5], parameters: 4 * 8 + 8 + 8 * 5 + 5 });
    expect(manifest.specialists.map((s) => [s.id, s.path, s.classes])).toEqual([['s0', 'specialists/s0', [0, 1]], ['s1',
      'specialists/s1', [2, 3, 4]]]);
    expect(manifest.student).toMatchObject({ path: 'student', teacher: 'ensemble', temperature: 20, hardWeight: 0.1 });
    expect(manifest.engine.backend).toMatch(/\w/);
  });

  it('writes model.json in the standard TF.js Layers format', async () => {
    const dir = join(base, 'format');
    await saveBundle(dir, draft(1));
    const modelJson = JSON.parse(await readFile(join(dir, 'generalist/model.json'), 'utf8'));
    expect(modelJson.format).toBe('layers-model');
    expect(modelJson.modelTopology.class_name).toBe('Sequential');
    expect(modelJson.weightsManifest).toEqual([{ paths: ['weights.bin'], weights: expect.any(Array) }]);
  });

  it('replaces an existing bundle and leaves nothing else behind', async () => {
    const dir = join(base, 'replace');
    await saveBundle(dir, draft(1));
    await saveBundle(dir, draft(2), { onStep: () => {} });
    expect((await readManifest(dir)).metrics.version).toBe(2);
    expect((await readdir(base)).filter((name) => name.startsWith('.replace'))).toEqual([]);
  });

  it('carries extra files under their checksums', async () => {
    const dir = join(base, 'extra');
    const manifest = await saveBundle(dir, { ...draft(1), extraFiles: { 'reports/clusters.json': '{"k":2}' } });
    expect(manifest.files['reports/clusters.json'].bytes).toBe(7);
    await expect(saveBundle(dir, { ...draft(1), extraFiles: { '../escape.txt': 'x' } })).rejects.toThrow(/escape/);
  });

  it('refuses a bad bundle before writing anything', async () => {
    const dir = join(base, 'refused');
    const bad = draft(1);
    bad.specialists![0].classes = [0, 7];
    await expect(saveBundle(dir, bad)).rejects.toMatchObject({ code: 'UNKNOWN_CLASS',
      field: 'specialists[0].classes[1]' });
    const wrongHead = draft(1);
    wrongHead.specialists![0].classes = [0, 1, 2];
    await expect(saveBundle(dir, wrongHead)).rejects.toMatchObject({ code: 'SHAPE',
      field: 'specialists[0].architecture.outputSize' });
    const badId = draft(1);
    badId.specialists![1].id = '../s1';
    await expect(saveBundle(dir, badId)).rejects.toMatchObject({ code: 'INVALID_MANIFEST',
      field: 'specialists[1].id' });
    expect((await readdir(base)).filter((name) => name.includes('refused'))).toEqual([]);
  });
});

/** Runs the writer fixture until it pauses at `step` (or finishes), then SIGKILLs it. */
function killWriterAt(dir: string, version: number, step: string, occurrence = 1): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', WRITER, dir, String(version), step, String(occurrence)], {
      cwd: ROOT,
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      if (out.includes('PAUSED') || out.includes('SAVED')) child.kill('SIGKILL');
    });
    child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
    child.on('error', reject);
    child.on('exit',
      (_code,
        signal) => (signal === 'SIGKILL' && out.includes('PAUSED') ?
          resolve(out.trim()) :
          reject(new Error(`writer ended without pausing: ${out} ${err}`))));
  });
}

describe('a writer killed midway', () => {
  // [pause point, occurrence, which bundle must be at the path afterwards, what the kill leaves on disk]
  const CASES: [string, number, 'old' | 'new', string][] = [
    ['file', 1, 'old', 'bundle+tmp'], // one file of the new bundle written
    ['file', 5, 'old', 'bundle+tmp'], // half of them
    ['manifest', 1, 'old', 'bundle+tmp'], // all written, not yet swapped
    ['moved-old', 1, 'old', 'old+tmp'], // old bundle moved aside, new one not yet renamed in: no bundle at the path
    ['renamed-new', 1, 'new', 'bundle+old'], // swapped, old bundle not yet deleted
  ];

  it.each(CASES)('at %s #%i leaves the %s bundle, whole', { timeout: 60_000 },
    async (step, occurrence, expected, onDisk) => {
      const name = `killed-${step}-${occurrence}`;
      const dir = join(base, name);
      await saveBundle(dir, draft(1));
      const paused = await killWriterAt(dir, 2, step, occurrence);
      expect(paused).toMatch(new RegExp(`^PAUSED ${step}`));
      const state = (await readdir(base)).filter((entry) => entry === name || entry.startsWith(`.${name}.`)).map((
        entry,
      ) => (entry === name ? 'bundle' : entry.slice(name.length + 2, name.length + 5))).sort();
      expect(state.join('+')).toBe(onDisk);
      const bundle = await loadBundle(dir); // verifies every checksum and shape
      try {
        expect(bundle.manifest.metrics.version).toBe(expected === 'old' ? 1 : 2);
      } finally {
        bundle.dispose();
      }
      // The next save clears what the killed writer left.
      await saveBundle(dir, draft(3));
      expect((await readdir(base)).filter((entry) => entry.startsWith(`.${name}.`))).toEqual([]);
      expect((await readManifest(dir)).metrics.version).toBe(3);
    });
});

describe('BundleError', () => {
  it('is thrown for a missing bundle, naming the folder', async () => {
    const missing = join(base, 'nothing-here');
    const error = await loadBundle(missing).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BundleError);
    expect(error).toMatchObject({ code: 'MISSING_FILE', file: missing });
  });
});

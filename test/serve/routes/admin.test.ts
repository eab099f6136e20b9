import { createHash } from 'node:crypto';
import { cpSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { initEngine } from '../../../src/engine/index.js';
import { createApp, type ServeApp } from '../../../src/serve/index.js';
import { json, post } from '../../fixtures/serve-client.js';
import { buildServeBundles, rows, type ServeBundles, TINY_CLASSES, TINY_INPUT } from '../../fixtures/serve-bundle.js';

const TOKEN = 'reload-token-for-tests';
const AUTH = { authorization: `Bearer ${TOKEN}` };
let bundles: ServeBundles;
let served: ServeApp;

beforeAll(async () => {
  await initEngine({ backend: 'auto', log: () => {} });
  bundles = await buildServeBundles();
  // A long queue delay keeps a request in flight while the reload happens.
  served = await createApp({ bundleDir: bundles.tiny, logLevel: 'silent', adminToken: TOKEN,
    batching: { maxQueueDelayMs: 400 } });
});
afterAll(async () => {
  await served?.shutdown();
  rmSync(bundles.root, { recursive: true, force: true });
});

const reload = (body?: unknown, headers: Record<string, string> = AUTH) =>
  json<{ bundle: string; name: string; error: string; details: { code?: string; file?: string } }>(
    body === undefined ?
      served.app.request('/v1/admin/reload', { method: 'POST', headers }) :
      post(served.app, '/v1/admin/reload', body, headers),
  );
const inputSize =
  async () => ((await json<{ inputs: { shape: number[] }[] }>(served.app.request('/v2/models/student'))).body.inputs[0]
    .shape[1]);

describe('POST /v1/admin/reload', () => {
  it('is off without a configured token, and needs the right bearer token', async () => {
    const noToken = await createApp({ bundleDir: bundles.tiny, logLevel: 'silent' });
    expect((await json(noToken.app.request('/v1/admin/reload', { method: 'POST' }))).status).toBe(403);
    await noToken.shutdown();
    const missing = await reload(undefined, {});
    expect(missing.status).toBe(401);
    expect(missing.headers.get('www-authenticate')).toBe('Bearer');
    expect((await reload(undefined, { authorization: 'Bearer wrong-token-of-some-length' })).status).toBe(401);
    expect((await reload(undefined, { authorization: TOKEN })).status).toBe(401);
  });

  it('validates its body', async () => {
    expect((await reload({ bundle: 5 })).status).toBe(400);
    expect((await json(post(served.app, '/v1/admin/reload', 'x', { ...AUTH, 'content-type': 'text/plain' }))).status)
      .toBe(415);
  });

  it('swaps bundles while a request in flight finishes on the old models, then frees them', async () => {
    const baseline = tf.memory().numTensors;
    const inFlight = json<{ predictions: { topK: unknown[] }[] }>(
      post(served.app, '/v1/models/ensemble/predict', { instances: rows(2), topK: TINY_CLASSES }),
    );
    await new Promise((r) => setTimeout(r, 50));
    const swapped = await reload({ bundle: bundles.other });
    expect(swapped).toMatchObject({ status: 200, body: { bundle: bundles.other } });
    const old = await inFlight;
    expect(old.status).toBe(200);
    expect(old.body.predictions[0].topK).toHaveLength(TINY_CLASSES);
    expect(await inputSize()).toBe(4);
    const fresh = await json<{ predictions: { label: string }[] }>(
      post(served.app, '/v1/models/student/predict', { instances: rows(1, 4) }),
    );
    expect(fresh.status).toBe(200);
    expect(['a', 'b', 'c', 'd', 'e']).toContain(fresh.body.predictions[0].label);
    expect((await json(post(served.app, '/v1/models/student/predict', { instances: rows(1) }))).status).toBe(400);

    // Back to the first bundle: once the other is freed, the tensor count is where it started.
    expect((await reload({ bundle: bundles.tiny })).status).toBe(200);
    await vi.waitFor(() => expect(tf.memory().numTensors).toBe(baseline), { timeout: 3000, interval: 20 });
  });

  it('keeps the old bundle serving when the new one fails to load', async () => {
    const failed = await reload({ bundle: bundles.broken });
    expect(failed.status).toBe(422);
    expect(failed.body.details).toMatchObject({ code: 'TRUNCATED', file: 'student/weights.bin' });
    expect((await reload({ bundle: `${bundles.root}/missing` })).status).toBe(422);
    expect(await inputSize()).toBe(TINY_INPUT);
    expect((await json(post(served.app, '/v1/models/student/predict', { instances: rows(1) }))).status).toBe(200);
  });

  it('refuses a bundle whose checksums match but whose weights are NaN: its canary prediction fails, the old one ' +
    'serves', async () => {
    const nan = join(bundles.root, 'nan-weights');
    cpSync(bundles.tiny, nan, { recursive: true });
    const weights = join(nan, 'student', 'weights.bin');
    writeFileSync(weights, Buffer.from(new Float32Array(readFileSync(weights).byteLength / 4).fill(Number.NaN).buffer));
    const manifest = JSON.parse(readFileSync(join(nan, 'manifest.json'), 'utf8'));
    manifest.files['student/weights.bin'].sha256 = createHash('sha256').update(readFileSync(weights)).digest('hex');
    writeFileSync(join(nan, 'manifest.json'), JSON.stringify(manifest));
    const failed = await reload({ bundle: nan });
    expect(failed.status).toBe(422);
    expect(failed.body.details).toMatchObject({ code: 'CANARY_FAILED',
      problems: [expect.stringMatching(/^student: its answer is not a distribution/)] });
    expect((await json(post(served.app, '/v1/models/student/predict', { instances: rows(1) }))).status).toBe(200);
  });

  it('refuses bundles outside the bundle root, symlinks included, and never echoes file content', async () => {
    const outside = mkdtempSync(join(tmpdir(), 'outside-'));
    try {
      cpSync(bundles.tiny, join(outside, 'copy'), { recursive: true });
      writeFileSync(join(outside, 'copy', 'manifest.json'), 'root:x:0:0:root:/root:/bin/bash');
      expect((await reload({ bundle: join(outside, 'copy') })).status).toBe(403);
      symlinkSync(join(outside, 'copy'), join(bundles.root, 'link-out'));
      const linked = await reload({ bundle: join(bundles.root, 'link-out') });
      expect(linked.status).toBe(403);
      expect((await reload({ bundle: '/etc' })).status).toBe(403);
      expect((await reload({ bundel: bundles.tiny })).status).toBe(400); // a misspelt field is not ignored
      const file = await reload({ bundle: join(bundles.tiny, 'manifest.json') });
      expect([file.status, file.body.details]).toEqual([422, { code: 'NOT_A_FOLDER' }]);
      // A folder inside the root whose manifest links to a file outside it.
      cpSync(bundles.tiny, join(bundles.root, 'file-link'), { recursive: true });
      rmSync(join(bundles.root, 'file-link', 'manifest.json'));
      symlinkSync(join(outside, 'copy', 'manifest.json'), join(bundles.root, 'file-link', 'manifest.json'));
      const fileLink = await reload({ bundle: join(bundles.root, 'file-link') });
      expect(fileLink.status).toBe(403);
      expect(fileLink.body.details).toMatchObject({ file: 'manifest.json' });
      expect(JSON.stringify(fileLink.body)).not.toMatch(/root:x/);
      // Inside the root, a manifest that is not JSON is named, not quoted.
      cpSync(join(outside, 'copy'), join(bundles.root, 'garbled'), { recursive: true });
      const garbled = await reload({ bundle: join(bundles.root, 'garbled') });
      expect(garbled.status).toBe(422);
      expect(JSON.stringify(garbled.body)).not.toMatch(/root:x|[0-9a-f]{64}/);
    } finally {
      rmSync(outside, { recursive: true, force: true });
    }
  });

  it('reloads the serving folder when no bundle is named, one reload at a time', async () => {
    const [a, b] = await Promise.all([reload(), reload()]);
    expect([a.status, b.status].sort()).toEqual([200, 409]);
    expect(await inputSize()).toBe(TINY_INPUT);
  });
});

import { rmSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { initEngine } from '../../src/engine/index.js';
import { createApp, type ServeApp } from '../../src/serve/index.js';
import { JSON_HEADERS, post } from '../fixtures/serve-client.js';
import { buildServeBundles, rows, type ServeBundles, TINY_INPUT } from '../fixtures/serve-bundle.js';

const TOKEN = 'leak-test-admin-token';
let bundles: ServeBundles;

beforeAll(async () => {
  await initEngine({ backend: 'auto', log: () => {} });
  bundles = await buildServeBundles();
});
afterAll(() => rmSync(bundles.root, { recursive: true, force: true }));

/** One request of each kind, valid and not, cycling through every endpoint. */
function requestFor(served: ServeApp, i: number, receipts: string[]): Promise<Response> {
  const x = rows(1 + (i % 3), TINY_INPUT, i);
  const models = ['student', 'generalist', 'ensemble'];
  const model = models[i % 3];
  const v2 = (data: unknown, shape = [x.length, TINY_INPUT]) => ({
    inputs: [{ name: 'input', shape, datatype: 'FP32', data }],
  });
  const kinds: (() => Response | Promise<Response>)[] = [
    () => post(served.app, `/v1/models/${model}/predict`, { instances: x, topK: 3 }),
    // The playground's views: the ensemble explained by its specialists (run outside the batcher), the others at a
    // temperature.
    () =>
      post(served.app, `/v1/models/${model}/predict`,
        model === 'ensemble' ? { instances: x, explain: true } : { instances: x, temperature: 3 }),
    () => post(served.app, `/v1/models/${model}/predict`, { instances: [x[0].slice(1)] }),
    () => post(served.app, `/v1/models/${model}/predict`, '{"instances": [[0.1,'),
    () => post(served.app, `/v1/models/${model}/predict`, { instances: rows(40) }),
    // Rows that overflow the models: the per-request 422 path and the batch's rerun in halves.
    () =>
      post(served.app, `/v1/models/${model}/predict`, {
        instances: [Array.from({ length: TINY_INPUT }, (_, j) => (j % 2 ? 1e38 : -1e38))],
      }),
    () => served.app.request(`/v1/models/${model}/predict`, { method: 'POST', body: 'x' }),
    () => post(served.app, '/v1/ab/predict', { instances: x }, { 'x-ab-key': `k${i % 17}` }),
    () =>
      post(served.app, '/v1/ab/feedback', { receipt: receipts[i % Math.max(1, receipts.length)] ?? 'none', label: 0 }),
    () => served.app.request('/v1/ab/report'),
    () => post(served.app, `/v2/models/${model}/infer`, v2(x.flat())),
    () => post(served.app, `/v2/models/${model}/infer`, v2(x)),
    () => post(served.app, `/v2/models/${model}/infer`, v2(x.flat(), [x.length, TINY_INPUT + 1])),
    () => served.app.request(`/v2/models/${model}`),
    () => served.app.request(`/v2/models/${model}/ready`),
    () => served.app.request('/v2/health/ready'),
    () => served.app.request('/v2/health/live'),
    () => served.app.request(i % 50 === 0 ? '/metrics' : '/no/such/route'),
  ];
  return Promise.resolve(kinds[i % kinds.length]());
}

describe('tensor hygiene', () => {
  it('keeps tf.memory().numTensors flat through thousands ' +
    'of valid and invalid requests on every endpoint', async () => {
    const beforeApp = tf.memory().numTensors;
    // A small queue so that concurrent waves also take the 503 path, and shadow runs for the A/B path.
    const served = await createApp({ bundleDir: bundles.tiny, logLevel: 'silent', adminToken: TOKEN, shadow: true,
      limits: { maxInstances: 32 }, batching: { maxQueueSize: 2 } });
    const warm = await post(served.app, '/v1/models/ensemble/predict', { instances: rows(2) });
    expect(warm.status).toBe(200);
    const baseline = tf.memory().numTensors;
    const statuses = new Map<number, number>();
    const receipts: string[] = [];
    // A few A/B answers taken one at a time, so feedback has receipts to label (and relabel: 409)
    // however many of the concurrent A/B requests the tiny queue turns away.
    for (let k = 0; k < 3; k++) {
      const res = await post(served.app, '/v1/ab/predict', { instances: rows(1) }, { 'x-ab-key': `seed${k}` });
      expect(res.status).toBe(200);
      receipts.push(((await res.json()) as { receipt: string }).receipt);
    }
    const total = 3200;
    const wave = 40;
    for (let start = 0; start < total; start += wave) {
      const responses = await Promise.all(
        Array.from({ length: wave }, (_, k) => requestFor(served, start + k, receipts)),
      );
      for (const res of responses) {
        statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
        const body = (await res.json().catch(() => ({}))) as { receipt?: string };
        if (res.status === 200 && body.receipt) receipts.push(body.receipt);
      }
      if (start === total / 2) {
        const reloaded = await served.app.request('/v1/admin/reload', { method: 'POST',
          headers: { ...JSON_HEADERS, authorization: `Bearer ${TOKEN}` }, body: '{}' });
        expect(reloaded.status).toBe(200);
      }
    }
    for (const status of [200, 400, 404, 409, 413, 415, 503]) {
      expect(statuses.get(status), `status ${status}`).toBeGreaterThan(0);
    }
    await served.context.registry.current.idle();
    await vi.waitFor(() => expect(tf.memory().numTensors).toBe(baseline), { timeout: 5000, interval: 20 });
    await served.shutdown();
    expect(tf.memory().numTensors).toBe(beforeApp);
  });
});

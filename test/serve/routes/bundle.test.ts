import { cpSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadDataset } from '../../../src/data/index.js';
import { initEngine } from '../../../src/engine/index.js';
import { createApp, type ServeApp } from '../../../src/serve/index.js';
import { BundleResponse, ClustersResponse, ExamplesResponse } from '../../../src/serve/schemas.js';
import { json, post } from '../../fixtures/serve-client.js';
import { buildServeBundles, SERVE_TINY, type ServeBundles, TINY_CLASSES,
  TINY_INPUT } from '../../fixtures/serve-bundle.js';

let bundles: ServeBundles;
let served: ServeApp;
/** The bundle tests' hand-made draft: no clusters.json, no dataset config. */
let draft: ServeApp;

beforeAll(async () => {
  await initEngine({ backend: 'auto', log: () => {} });
  bundles = await buildServeBundles();
  served = await createApp({ bundleDir: bundles.tiny, logLevel: 'silent' });
  draft = await createApp({ bundleDir: bundles.other, logLevel: 'silent' });
});
afterAll(async () => {
  await served?.shutdown();
  await draft?.shutdown();
  rmSync(bundles.root, { recursive: true, force: true });
});

type Examples = { dataset: string; split: string; inputShape: number[];
  examples: { row: number; class: number; label: string; x: number[] }[] };
const examples = (app: ServeApp, query = '') =>
  json<Examples & { error: string; details: { path: string }[] }>(app.app.request(`/v1/examples${query}`));

describe('GET /v1/bundle', () => {
  it('summarises the manifest: dataset, models, specialists, clustering', async () => {
    const { status, body } = await json(served.app.request('/v1/bundle'));
    expect(status).toBe(200);
    const bundle = BundleResponse.parse(body);
    expect(bundle.name).toBe('tiny');
    expect(bundle.dataset).toMatchObject({ name: 'synthetic', inputShape: [TINY_INPUT], inputSize: TINY_INPUT,
      image: null });
    expect(bundle.dataset.classNames).toHaveLength(TINY_CLASSES);
    expect(bundle.models.generalist).toMatchObject({ served: true, reason: null,
      sizes: [TINY_INPUT, 32, TINY_CLASSES] });
    expect(bundle.models.student.metrics).toHaveProperty('testErrorRate');
    expect(bundle.models.ensemble.parameters).toBeGreaterThan(bundle.models.generalist.parameters!);
    expect(bundle.student).toMatchObject({ teacher: 'generalist', temperature: 3, hardWeight: 0.1 });
    expect(bundle.specialists.length).toBeGreaterThan(0);
    for (const s of bundle.specialists) expect(s.classes.every((c) => c >= 0 && c < TINY_CLASSES)).toBe(true);
    expect(bundle.clustering).toMatchObject({ method: 'kmeans-prediction-covariance', clusters: 4 });
    expect(bundle.examples).toBe(true);
  });

  it('says what a bundle lacks rather than failing', async () => {
    const { body } = await json(draft.app.request('/v1/bundle'));
    const bundle = BundleResponse.parse(body);
    expect(bundle.examples).toBe(false);
    expect(bundle.dataset.image).toBeNull();
    expect(bundle.clustering?.transferExamples).toBeNull();
  });
});

describe('GET /v1/bundle/clusters', () => {
  it("serves clusters.json: the clusters, each class's cluster and the class × class covariance", async () => {
    const { status, body } = await json(served.app.request('/v1/bundle/clusters'));
    expect(status).toBe(200);
    const clusters = ClustersResponse.parse(body);
    expect(clusters.assignment).toHaveLength(TINY_CLASSES);
    expect(clusters.covariance).toHaveLength(TINY_CLASSES);
    for (const row of clusters.covariance) expect(row).toHaveLength(TINY_CLASSES);
    const specialists = BundleResponse.parse((await json(served.app.request('/v1/bundle'))).body).specialists;
    for (const s of specialists) expect(clusters.clusters.find((c) => c.id === s.id)?.classes).toEqual(s.classes);
  });

  it('answers 404 as JSON for a bundle without clusters.json', async () => {
    const { status, body } = await json<{ error: string }>(draft.app.request('/v1/bundle/clusters'));
    expect(status).toBe(404);
    expect(body.error).toMatch(/no clusters.json/);
  });

  it('answers 409 when clusters.json no longer matches the checksum the bundle was loaded with', async () => {
    const copy = join(bundles.root, 'edited');
    cpSync(bundles.tiny, copy, { recursive: true });
    const app = await createApp({ bundleDir: copy, logLevel: 'silent' });
    try {
      writeFileSync(join(copy, 'clusters.json'), '{"clusters":[],"assignment":[],"covariance":[]}\n');
      const { status, body } = await json<{ error: string }>(app.app.request('/v1/bundle/clusters'));
      expect(status).toBe(409);
      expect(body.error).toMatch(/reload the bundle/);
      rmSync(join(copy, 'clusters.json'));
      const gone = await json<{ error: string }>(app.app.request('/v1/bundle/clusters'));
      expect(gone.status).toBe(409);
      expect(gone.body.error).toMatch(/cannot be read since the bundle was loaded/);
    } finally {
      await app.shutdown();
    }
  });
});

describe('GET /v1/examples', () => {
  it("draws test examples of the bundle's dataset, with their true labels, ready to predict", async () => {
    const { status, body } = await examples(served, '?count=3&seed=11');
    expect(status).toBe(200);
    const parsed = ExamplesResponse.parse(body);
    expect(parsed).toMatchObject({ dataset: 'synthetic', split: 'test', inputShape: [TINY_INPUT] });
    expect(new Set(parsed.examples.map((e) => e.row)).size).toBe(3);
    const { name: _name, ...config } = SERVE_TINY.dataset as { name: 'synthetic' };
    const dataset = loadDataset({ name: 'synthetic', ...config });
    for (const e of parsed.examples) {
      expect(e.x).toEqual(Array.from(dataset.test.x.subarray(e.row * TINY_INPUT, (e.row + 1) * TINY_INPUT)));
      expect(e.class).toBe(dataset.test.y[e.row]);
      expect(e.label).toBe(dataset.classNames[e.class]);
    }
    const predicted = await json<{ predictions: unknown[] }>(
      post(served.app, '/v1/models/ensemble/predict', { instances: parsed.examples.map((e) => e.x) }),
    );
    expect(predicted.status).toBe(200);
    expect(predicted.body.predictions).toHaveLength(3);
  });

  it('gives one example by default, the same ones for the same seed', async () => {
    expect((await examples(served)).body.examples).toHaveLength(1);
    const [a, b] = await Promise.all([examples(served, '?count=4&seed=5'), examples(served, '?count=4&seed=5')]);
    expect(a.body.examples.map((e) => e.row)).toEqual(b.body.examples.map((e) => e.row));
  });

  it.each([['count=0', 'count'], ['count=17', 'count'], ['count=two', 'count'], ['count=1.5', 'count'], ['seed=-1',
    'seed'], ['seed=x', 'seed'], ['seed=', 'seed'], ['count=', 'count']])('answers 400 as JSON to %s',
      async (query, path) => {
        const { status, body, headers } = await examples(served, `?${query}`);
        expect(status).toBe(400);
        expect(headers.get('content-type')).toMatch(/application\/json/);
        expect(body.error).toBe('invalid request');
        expect(body.details[0].path).toBe(path);
      });

  it('answers 404 for a bundle that does not name a dataset the server can load', async () => {
    const { status, body } = await examples(draft);
    expect(status).toBe(404);
    expect(body.error).toMatch(/does not record a dataset/);
  });
});

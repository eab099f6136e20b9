import { rmSync } from 'node:fs';
import { createConfig, lintFromString } from '@redocly/openapi-core';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initEngine } from '../../../src/engine/index.js';
import { createApp, type ServeApp } from '../../../src/serve/index.js';
import { chunkedBody, json, post } from '../../fixtures/serve-client.js';
import { buildServeBundles, rows, type ServeBundles, TINY_CLASSES, TINY_INPUT } from '../../fixtures/serve-bundle.js';

let bundles: ServeBundles;
let served: ServeApp;
const LIMITS = { maxBodyBytes: 64 * 1024, maxInstances: 32 };

beforeAll(async () => {
  await initEngine({ backend: 'auto', log: () => {} });
  bundles = await buildServeBundles();
  served = await createApp({ bundleDir: bundles.tiny, logLevel: 'silent', limits: LIMITS });
});
afterAll(async () => {
  await served?.shutdown();
  rmSync(bundles.root, { recursive: true, force: true });
});

type Body = { model: string; bundle: string; requestId: string;
  predictions: { label: string; class: number; topK: { class: number; label: string; probability: number }[];
    generalistTop?: { class: number }; activeSpecialists?: string[]; iterations?: number }[] };
const predict = (model: string, body: unknown, headers?: Record<string, string>) =>
  json<Body & { error: string; details: unknown }>(post(served.app, `/v1/models/${model}/predict`, body, headers));

describe('POST /v1/models/{model}/predict', () => {
  it.each(['student', 'generalist', 'ensemble'])(
    '%s: one prediction per instance, top-k best first, probabilities summing to 1',
    async (model) => {
      const { status, body, headers } = await predict(model, { instances: rows(3), topK: TINY_CLASSES });
      expect(status).toBe(200);
      expect(headers.get('x-request-id')).toBe(body.requestId);
      expect(body).toMatchObject({ model, bundle: 'tiny' });
      expect(body.predictions).toHaveLength(3);
      for (const p of body.predictions) {
        expect(p.topK).toHaveLength(TINY_CLASSES);
        expect(p.class).toBe(p.topK[0].class);
        expect(p.label).toBe(p.topK[0].label);
        const probabilities = p.topK.map((t) => t.probability);
        expect(probabilities).toEqual([...probabilities].sort((a, b) => b - a));
        expect(probabilities.reduce((a, b) => a + b)).toBeCloseTo(1, 4);
      }
    },
  );

  it('answers the ensemble with the generalist top class, ' +
    'the active specialists and the solver iterations', async () => {
    const [generalist, ensemble] = await Promise.all([predict('generalist', { instances: rows(4, TINY_INPUT, 7) }),
      predict('ensemble', { instances: rows(4, TINY_INPUT, 7) })]);
    ensemble.body.predictions.forEach((p, i) => {
      expect(p.generalistTop!.class).toBe(generalist.body.predictions[i].class);
      expect(p.activeSpecialists!.length).toBeGreaterThan(0);
      expect(p.iterations).toBeGreaterThanOrEqual(1);
    });
    expect(generalist.body.predictions[0].activeSpecialists).toBeUndefined();
  });

  it('lists 5 classes by default', async () => {
    expect((await predict('student', { instances: rows(1) })).body.predictions[0].topK).toHaveLength(5);
  });

  it('issues its own request id whatever the client sends', async () => {
    const { body, headers } = await predict('student', { instances: rows(1) }, { 'x-request-id': 'client-chosen-42' });
    expect(body.requestId).toMatch(/^[0-9a-f-]{36}$/);
    expect(headers.get('x-request-id')).toBe(body.requestId);
  });
});

describe('bad input gets JSON { error, details } with the right status', () => {
  const bad: [string, () => Response | Promise<Response>, number, RegExp][] = [['no Content-Type',
    () =>
      served.app.request('/v1/models/student/predict', { method: 'POST',
        body: JSON.stringify({ instances: rows(1) }) }), 415, /Content-Type/], ['text/plain',
    () => post(served.app, '/v1/models/student/predict', 'x', { 'content-type': 'text/plain' }), 415, /Content-Type/], [
    'malformed JSON',
    () => post(served.app, '/v1/models/student/predict', '{"instances": [[1, 2'),
    400,
    /Malformed JSON/,
  ], ['NaN literal',
    () => post(served.app, '/v1/models/student/predict', `{"instances": [[NaN${',0'.repeat(TINY_INPUT - 1)}]]}`), 400,
    /Malformed JSON/], ['1e999 (Infinity once parsed)',
    () => post(served.app, '/v1/models/student/predict', `{"instances": [[1e999${',0'.repeat(TINY_INPUT - 1)}]]}`), 400,
    /invalid request/], ['a string value',
    () => post(served.app, '/v1/models/student/predict', { instances: [['1', ...rows(1)[0].slice(1)]] }), 400,
    /invalid request/], ['a null value',
    () => post(served.app, '/v1/models/student/predict', { instances: [[null, ...rows(1)[0].slice(1)]] }), 400,
    /invalid request/], ['instances not an array',
    () => post(served.app, '/v1/models/student/predict', { instances: 'all of them' }), 400, /invalid request/], [
    'no instances field',
    () => post(served.app, '/v1/models/student/predict', { inputs: rows(1) }),
    400,
    /invalid request/,
  ], ['empty instance list', () => post(served.app, '/v1/models/student/predict', { instances: [] }), 400,
    /invalid request/], ['an empty instance', () => post(served.app, '/v1/models/student/predict', { instances: [[]] }),
    400, /instance 0 has 0 values, the model takes 16/], ['an instance that is an object',
    () => post(served.app, '/v1/models/student/predict', { instances: [{ 0: 1 }] }), 400, /invalid request/], [
    'wrong instance length',
    () => post(served.app, '/v1/models/student/predict', { instances: [rows(1)[0].slice(1)] }),
    400,
    /instance 0 has 15 values, the model takes 16/,
  ], ['a float32 overflow',
    () => post(served.app, '/v1/models/student/predict', { instances: [[1e300, ...rows(1)[0].slice(1)]] }), 400,
    /invalid instances/], ['topK over the class count',
    () => post(served.app, '/v1/models/student/predict', { instances: rows(1), topK: 13 }), 400,
    /topK 13 exceeds the 12 classes/], ['topK zero',
    () => post(served.app, '/v1/models/student/predict', { instances: rows(1), topK: 0 }), 400, /invalid request/], [
    'too many instances',
    () => post(served.app, '/v1/models/student/predict', { instances: rows(LIMITS.maxInstances + 1) }),
    413,
    /too many instances/,
  ], ['oversized body with Content-Length',
    () => post(served.app, '/v1/models/student/predict', { instances: [Array(20_000).fill(0.5)] }), 413, /too large/], [
    'oversized chunked body without Content-Length',
    () =>
      served.app.request('/v1/models/student/predict',
        { method: 'POST', headers: { 'content-type': 'application/json' }, body: chunkedBody(200 * 1024),
          duplex: 'half' } as RequestInit),
    413,
    /too large/,
  ], ['a compressed body', () =>
    served.app.request('/v1/models/student/predict', { method: 'POST', body: '\x1f\x8b\x08',
      headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' } }), 415, /Content-Encoding/], [
    'unknown model', () => post(served.app, '/v1/models/oracle/predict', { instances: rows(1) }), 404, /not found/], [
    'unknown route',
    () => served.app.request('/v1/nothing'),
    404,
    /not found/,
  ]];
  it.each(bad)('%s', async (_name, send, status, message) => {
    const res = await send();
    expect(res.status).toBe(status);
    expect(res.headers.get('content-type')).toMatch(/application\/json/);
    expect(res.headers.get('x-request-id')).toBeTruthy();
    const body = (await res.json()) as { error: string; details: unknown };
    expect(body.error).toMatch(message);
    expect(body).toHaveProperty('details');
  });

  it('names the path of each bad value', async () => {
    const { body } = await json<{ details: { path: string }[] }>(
      post(served.app, '/v1/models/student/predict', { instances: [rows(1)[0], ['x', ...rows(1)[0].slice(1)]] }),
    );
    expect(body.details[0].path).toBe('instances.1.0');
  });

  it('lets a chunked body under the limit through', async () => {
    const stream = new Blob([JSON.stringify({ instances: rows(2) })]).stream();
    const res = await served.app.request('/v1/models/student/predict',
      { method: 'POST', headers: { 'content-type': 'application/json' }, body: stream, duplex: 'half' } as RequestInit);
    expect(res.status).toBe(200);
  });

  it('leaves no tensors behind on errors', async () => {
    const before = tf.memory().numTensors;
    await post(served.app, '/v1/models/ensemble/predict', { instances: [rows(1)[0].slice(2)] });
    await post(served.app, '/v1/models/ensemble/predict', { instances: rows(2) });
    expect(tf.memory().numTensors).toBe(before);
  });
});

type Full = {
  predictions: { class: number; topK: { class: number; probability: number }[]; activeSpecialists?: string[];
    specialists?: { id: string; classes: { class: number; probability: number }[]; dustbin: number }[] }[];
  temperature?: number;
};
/** Probabilities by class, from a topK listing every class. */
const byClass = (topK: { class: number; probability: number }[]) =>
  topK.slice().sort((a, b) => a.class - b.class).map((t) => t.probability);

describe("temperature: the generalist's and the student's soft targets softmax(z / T)", () => {
  it.each(['generalist', 'student'])('%s at T is the T = 1 answer raised to 1/T and renormalised', async (model) => {
    const [plain, soft] = await Promise.all([
      json<Full>(post(served.app, `/v1/models/${model}/predict`, { instances: rows(2), topK: TINY_CLASSES })),
      json<Full>(
        post(served.app, `/v1/models/${model}/predict`, { instances: rows(2), topK: TINY_CLASSES, temperature: 4 }),
      ),
    ]);
    expect(soft.status).toBe(200);
    expect(soft.body.temperature).toBe(4);
    expect(plain.body.temperature).toBeUndefined();
    plain.body.predictions.forEach((p, i) => {
      // softmax(z / T) ∝ softmax(z)^(1/T): the same logits, seen at another temperature.
      const powered = byClass(p.topK).map((q) => q ** (1 / 4));
      const total = powered.reduce((a, b) => a + b);
      const expected = powered.map((q) => q / total);
      byClass(soft.body.predictions[i].topK).forEach((q, c) => expect(q).toBeCloseTo(expected[c], 5));
      expect(soft.body.predictions[i].class).toBe(p.class);
    });
  });

  it('at T = 1 answers exactly what no temperature answers', async () => {
    const [plain, one] = await Promise.all([
      json<Full>(post(served.app, '/v1/models/generalist/predict', { instances: rows(1), topK: TINY_CLASSES })),
      json<Full>(
        post(served.app, '/v1/models/generalist/predict', { instances: rows(1), topK: TINY_CLASSES, temperature: 1 }),
      ),
    ]);
    byClass(one.body.predictions[0].topK).forEach((q, c) =>
      expect(q).toBeCloseTo(byClass(plain.body.predictions[0].topK)[c], 6)
    );
  });

  it('at a temperature far below 1 answers the argmax with all the mass, never null probabilities', async () => {
    const [plain, cold] = await Promise.all([
      json<Full>(post(served.app, '/v1/models/student/predict', { instances: rows(1), topK: TINY_CLASSES })),
      json<Full>(post(served.app, '/v1/models/student/predict',
        { instances: rows(1), topK: TINY_CLASSES, temperature: 5e-324 })),
    ]);
    expect(cold.status).toBe(200);
    expect(cold.body.predictions[0].class).toBe(plain.body.predictions[0].class);
    expect(cold.body.predictions[0].topK[0].probability).toBe(1);
  });

  it.each([['ensemble', { temperature: 2 }, /temperature applies to the student and the generalist/, 'temperature'], [
    'generalist',
    { temperature: 0 },
    /invalid request/,
    'temperature',
  ], ['generalist', { temperature: -1 }, /invalid request/, 'temperature'], ['generalist', { temperature: 'hot' },
    /invalid request/, 'temperature'], ['generalist', { temperature: 1e6 }, /invalid request/, 'temperature'], [
    'student',
    { explain: true },
    /explain applies to the ensemble/,
    'explain',
  ], ['ensemble', { explain: 'yes' }, /invalid request/, 'explain']])('%s with %j: 400 naming the field',
    async (model, extra, message, path) => {
      const { status, body } = await json<{ error: string; details: { path: string }[] }>(
        post(served.app, `/v1/models/${model}/predict`, { instances: rows(1), ...extra }),
      );
      expect(status).toBe(400);
      expect(body.error).toMatch(message);
      expect(body.details[0].path).toBe(path);
    });
});

describe('explain: the specialists behind an ensemble answer', () => {
  it("gives each active specialist's own distribution over its classes and its dustbin, summing to 1", async () => {
    const { status, body } = await json<Full>(
      post(served.app, '/v1/models/ensemble/predict', { instances: rows(4, TINY_INPUT, 3), explain: true }),
    );
    expect(status).toBe(200);
    const manifest =
      (await json<{ specialists: { id: string; classes: number[] }[] }>(served.app.request('/v1/bundle'))).body;
    expect(body.predictions.some((p) => p.specialists!.length > 0)).toBe(true);
    for (const p of body.predictions) {
      expect(p.specialists!.map((s) => s.id)).toEqual(p.activeSpecialists);
      for (const view of p.specialists!) {
        expect(view.classes.map((c) => c.class)).toEqual(manifest.specialists.find((s) => s.id === view.id)!.classes);
        expect(view.classes.reduce((sum, c) => sum + c.probability, view.dustbin)).toBeCloseTo(1, 5);
        expect(view.dustbin).toBeGreaterThanOrEqual(0);
      }
    }
  });

  it('leaves the answer itself unchanged, and no tensors behind', async () => {
    const before = tf.memory().numTensors;
    const [plain, explained] = await Promise.all([
      json<Full>(
        post(served.app, '/v1/models/ensemble/predict', { instances: rows(2, TINY_INPUT, 9), topK: TINY_CLASSES }),
      ),
      json<Full>(
        post(served.app, '/v1/models/ensemble/predict', { instances: rows(2, TINY_INPUT, 9), topK: TINY_CLASSES,
          explain: true }),
      ),
    ]);
    expect(explained.body.predictions.map((p) => p.topK)).toEqual(plain.body.predictions.map((p) => p.topK));
    expect(plain.body.predictions[0].specialists).toBeUndefined();
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('Server-Timing', () => {
  it('reports the time the model took, queue included', async () => {
    const res = await post(served.app, '/v1/models/student/predict', { instances: rows(1) });
    expect(res.headers.get('server-timing')).toMatch(/^model;dur=\d+\.\d{2}$/);
  });
});

describe('a known path with another method', () => {
  it('gets 405 and the Allow header RFC 9110 requires, OPTIONS 204 and Allow, an unknown path 404', async () => {
    const cases: [string, string, number, string | null][] = [
      ['DELETE', '/v1/models/student/predict', 405, 'POST, OPTIONS'],
      ['GET', '/v2/models/student/infer', 405, 'POST, OPTIONS'],
      ['POST', '/v2/health/live', 405, 'GET, HEAD, OPTIONS'],
      ['PUT', '/v2/models/student/versions/1', 405, 'GET, HEAD, OPTIONS'],
      ['OPTIONS', '/v2', 204, 'GET, HEAD, OPTIONS'],
      ['PUT', '/v1/nothing', 404, null],
      ['GET', '/v2/models/student/infer/extra', 404, null],
    ];
    for (const [method, path, status, allow] of cases) {
      const res = await served.app.request(path, { method });
      expect([method, path, res.status, res.headers.get('allow')]).toEqual([method, path, status, allow]);
      if (status !== 204) expect(((await res.json()) as { error: string }).error).toMatch(/not allowed|not found/);
    }
  });
});

describe('GET /openapi.json', () => {
  type Operation = { operationId?: string; security?: unknown[]; parameters?: { name: string; in: string }[];
    responses: Record<string, { headers?: Record<string, unknown> }> };
  type Document = { openapi: string; paths: Record<string, Record<string, Operation>>;
    components: { schemas: Record<string, unknown> } };
  const documentOf = async () => (await json<Document>(served.app.request('/openapi.json'))).body;

  it('documents every route the server answers, each with an operationId and its security', async () => {
    const body = await documentOf();
    expect(body.openapi).toBe('3.1.0');
    // Hono's own list of routes, middleware ('ALL') left out, :param written as {param}.
    const served_ = new Set(
      served.app.routes.filter((r) => r.method !== 'ALL').map((r) =>
        `${r.method.toLowerCase()} ${r.path.replace(/:(\w+)/g, '{$1}')}`
      ),
    );
    const documented = new Set(
      Object.entries(body.paths).flatMap(([path, ops]) => Object.keys(ops).map((method) => `${method} ${path}`)),
    );
    expect([...served_].filter((route) => !documented.has(route))).toEqual([]);
    expect([...documented].filter((route) => !served_.has(route))).toEqual([]);
    const operations = Object.values(body.paths).flatMap((ops) => Object.values(ops));
    expect(operations.every((op) => op.operationId)).toBe(true);
    expect(new Set(operations.map((op) => op.operationId)).size).toBe(operations.length);
    expect(body.paths['/v1/admin/reload'].post.security).toEqual([{ bearer: [] }]);
    expect(body.paths['/v1/models/{model}/predict'].post.security).toEqual([]);
  });

  it('documents the headers clients rely on', async () => {
    const { paths } = await documentOf();
    const predict = paths['/v1/models/{model}/predict'].post;
    expect(Object.keys(predict.responses)).toEqual(
      expect.arrayContaining(['200', '400', '403', '413', '415', '422', '503', '504']),
    );
    expect(Object.keys(predict.responses['200'].headers ?? {})).toEqual(
      expect.arrayContaining(['X-Request-Id', 'Server-Timing']),
    );
    expect(predict.responses['503'].headers).toHaveProperty('Retry-After');
    const ab = paths['/v1/ab/predict'].post;
    expect(ab.parameters).toEqual(
      expect.arrayContaining([expect.objectContaining({ name: 'x-ab-key', in: 'header' })]),
    );
    expect(ab.responses['200'].headers).toHaveProperty('x-model-variant');
    expect(paths['/v1/admin/reload'].post.responses['401'].headers).toHaveProperty('WWW-Authenticate');
  });

  it('describes its own body as the JSON object it is, and text pages as text', async () => {
    type Described = { content: Record<string, { schema: { type?: string } }> };
    const { paths } = await documentOf();
    const schemaOf = (path: string, type: string) =>
      (paths[path].get.responses['200'] as Described).content[type].schema.type;
    expect(schemaOf('/openapi.json', 'application/json')).toBe('object');
    expect(schemaOf('/metrics', 'text/plain')).toBe('string');
  });

  it('documents the v2 infer request with the counts the server enforces: one input, a 2-D shape', async () => {
    type Items = { minItems?: number; maxItems?: number };
    type Body = { properties: { inputs: Items & { items: { properties: { shape: Items } } } } };
    const { paths } = await documentOf();
    const infer = paths['/v2/models/{name}/infer'].post as unknown as {
      requestBody: { content: Record<string, { schema: Body }> } };
    const { inputs } = infer.requestBody.content['application/json'].schema.properties;
    expect([inputs.minItems, inputs.maxItems]).toEqual([1, 1]);
    expect([inputs.items.properties.shape.minItems, inputs.items.properties.shape.maxItems]).toEqual([2, 2]);
  });

  it("is clean under Redocly's recommended OpenAPI rules", async () => {
    const source = JSON.stringify(await documentOf());
    const problems = await lintFromString({ source, absoluteRef: 'openapi.json',
      config: await createConfig({ extends: ['recommended'] } as never) });
    expect(problems.map((p) => `${p.severity} ${p.ruleId}: ${p.message} at ${p.location[0]?.pointer}`)).toEqual([]);
  });
});

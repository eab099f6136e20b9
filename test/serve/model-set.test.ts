import { rmSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { loadBundle } from '../../src/bundle/index.js';
import { compileDenseForward, initEngine, loadBlas } from '../../src/engine/index.js';
import * as adapter from '../../src/serve/runtime/ensemble-adapter.js';
import { createApp, type ServeApp } from '../../src/serve/index.js';
import { json, post } from '../fixtures/serve-client.js';
import { buildServeBundles, rows, type ServeBundles, TINY_CLASSES, TINY_INPUT } from '../fixtures/serve-bundle.js';

// Counts calls to the ensemble while still running it, to see how requests were batched.
vi.mock('../../src/serve/runtime/ensemble-adapter.js', async (importOriginal) => {
  const real = await importOriginal<typeof import('../../src/serve/runtime/ensemble-adapter.js')>();
  return { ...real, predictEnsemble: vi.fn(real.predictEnsemble) };
});

let bundles: ServeBundles;
const apps: ServeApp[] = [];
const app = async (options: Parameters<typeof createApp>[0] extends infer O ? Partial<O> : never) => {
  const served = await createApp({ bundleDir: bundles.tiny, logLevel: 'silent', ...options });
  apps.push(served);
  return served;
};

beforeAll(async () => {
  await initEngine({ backend: 'auto', log: () => {} });
  bundles = await buildServeBundles();
});
afterAll(async () => {
  await Promise.all(apps.map((served) => served.shutdown()));
  rmSync(bundles.root, { recursive: true, force: true });
});

type Probs = { predictions: { topK: { class: number; probability: number }[] }[] };
const predict = (served: ServeApp, model: string, instances: number[][]) =>
  json<Probs & { error: string }>(post(served.app, `/v1/models/${model}/predict`, { instances, topK: TINY_CLASSES }));
const byClass = (p: Probs['predictions'][number]) =>
  [...p.topK].sort((a, b) => a.class - b.class).map((t) => t.probability);

describe('dynamic batching', () => {
  it('runs concurrent ensemble requests as one batch: one predictEnsemble call on all their rows', async () => {
    const served = await app({ batching: { maxQueueDelayMs: 100, maxBatchSize: 64 } });
    const spy = vi.mocked(adapter.predictEnsemble);
    spy.mockClear();
    const sizes = [2, 3, 1, 4, 2];
    const inputs = sizes.map((n, i) => rows(n, TINY_INPUT, 10 + i));
    const answers = await Promise.all(inputs.map((x) => predict(served, 'ensemble', x)));
    expect(spy).toHaveBeenCalledTimes(1);
    expect((spy.mock.calls[0][1] as tf.Tensor2D).shape).toEqual([12, TINY_INPUT]);
    answers.forEach((answer, i) => expect(answer.body.predictions).toHaveLength(sizes[i]));

    // Batching changes nothing about the answers: each request alone gives the same distribution.
    const alone = await app({ batching: { maxQueueDelayMs: 0 } });
    const single = await predict(alone, 'ensemble', inputs[3]);
    single.body.predictions.forEach((p, r) =>
      byClass(p).forEach((v, c) => expect(v).toBeCloseTo(byClass(answers[3].body.predictions[r])[c], 5))
    );

    const metrics = await (await served.app.request('/metrics')).text();
    expect(metrics).toMatch(/serve_batch_size_count\{model="ensemble"\} 1\n/);
    expect(metrics).toMatch(/serve_batch_size_sum\{model="ensemble"\} 12\n/);
  });

  it('caps a batch at maxBatchSize rows', async () => {
    const served = await app({ batching: { maxQueueDelayMs: 100, maxBatchSize: 4 } });
    await Promise.all([3, 1, 2, 2].map((n) => predict(served, 'student', rows(n))));
    const metrics = await (await served.app.request('/metrics')).text();
    expect(metrics).toMatch(/serve_batch_size_count\{model="student"\} 2\n/);
    expect(metrics).toMatch(/serve_batch_size_sum\{model="student"\} 8\n/);
  });

  it('answers 503 with Retry-After at once when the queue is full', async () => {
    const served = await app({ batching: { maxQueueDelayMs: 300, maxQueueSize: 2 } });
    let answered = false;
    const first = [predict(served, 'student', rows(1)), predict(served, 'student', rows(1))];
    void Promise.all(first).then(() => (answered = true));
    const rejected = await post(served.app, '/v1/models/student/predict', { instances: rows(1) });
    // At once: the 503 is out while the queued two still wait for their batch.
    expect(answered).toBe(false);
    expect(rejected.status).toBe(503);
    expect(rejected.headers.get('retry-after')).toBe('1');
    expect(await rejected.json()).toMatchObject({ error: expect.stringMatching(/queue is full/),
      details: { model: 'student', maxQueueSize: 2 } });
    expect((await Promise.all(first)).map((r) => r.status)).toEqual([200, 200]);
  });

  it('answers 504 when the deadline passes before the batch runs', async () => {
    const served = await app({ batching: { maxQueueDelayMs: 200, deadlineMs: 30 } });
    const late = await predict(served, 'generalist', rows(1));
    expect(late.status).toBe(504);
    expect(late.body.error).toMatch(/deadline/);
  });
});

describe('a request whose rows overflow the models', () => {
  // 1e38 is a finite float32, so it passes validation, but the first layer's products overflow.
  const poison = () => [Array.from({ length: TINY_INPUT }, (_, i) => (i % 2 ? 1e38 : -1e38))];

  // Whether ±1e38 overflows a model to NaN or saturates to a finite answer depends on each model's
  // weights and on the summation order of the batch's matrix product; a finite answer is a valid one.
  // What must never happen: a 500, a non-finite probability, or a batch-mate failing.
  it('answers it alone (422, or a finite answer) on every ' +
    'path; the requests batched with it are answered', async () => {
    const served = await app({ batching: { maxQueueDelayMs: 50, maxBatchSize: 256 } });
    const innocent = Array.from({ length: 30 }, (_, i) => rows(2, TINY_INPUT, 100 + i));
    const statuses: number[] = [];
    const spy = vi.mocked(adapter.predictEnsemble);
    for (const model of ['ensemble', 'generalist', 'student']) {
      spy.mockClear();
      const answers = await Promise.all(
        [...innocent.slice(0, 15), poison(), ...innocent.slice(15)].map((x) => predict(served, model, x)),
      );
      // The ensemble's combine refuses the batch; its halves rerun down to the request at fault:
      // about 2·log2(31) calls, not one per request.
      if (model === 'ensemble') expect(spy.mock.calls.length).toBeGreaterThan(2);
      if (model === 'ensemble') expect(spy.mock.calls.length).toBeLessThan(16);
      const bad = answers.splice(15, 1)[0];
      statuses.push(bad.status);
      if (bad.status === 422) expect(bad.body.error).toMatch(/instance 0 makes the model's output non-finite/);
      else answers.push(bad);
      for (const answer of answers) {
        expect(answer.status).toBe(200);
        for (const p of answer.body.predictions) {
          for (const t of p.topK) expect(Number.isFinite(t.probability)).toBe(true);
        }
      }
      expect((await predict(served, model, innocent[0])).status).toBe(200); // and the model serves on
    }
    expect(statuses[0]).toBe(422); // the tiny generalist overflows on this row, so the ensemble's batch fails
  });
});

describe('the student and generalist path', () => {
  it('serves, through the compiled BLAS forward where it applies, the softmax of the model run by tfjs', async () => {
    const served = await app({});
    const bundle = await loadBundle(bundles.tiny);
    try {
      const student = bundle.student as tf.LayersModel;
      if (loadBlas().ok) expect(typeof compileDenseForward(student)).toBe('function');
      const x = rows(5, TINY_INPUT, 42);
      const expected = tf.tidy(() =>
        tf.softmax(student.predict(tf.tensor2d(x)) as tf.Tensor).arraySync()
      ) as number[][];
      const answer = await predict(served, 'student', x);
      expect(answer.body.predictions).toHaveLength(5);
      answer.body.predictions.forEach((p, r) => byClass(p).forEach((v, c) => expect(v).toBeCloseTo(expected[r][c], 5)));
    } finally {
      bundle.dispose();
    }
  });

  it('serves the student through ONNX Runtime with --student-runtime onnx: the same distribution, with logits for ' +
    'other temperatures', async () => {
    const compiled = await app({});
    const onnx = await app({ studentRuntime: 'onnx' });
    const x = rows(7, TINY_INPUT, 11);
    const [a, b] = await Promise.all([predict(compiled, 'student', x), predict(onnx, 'student', x)]);
    expect(b.status).toBe(200);
    b.body.predictions.forEach((p, r) =>
      byClass(p).forEach((v, c) => expect(v).toBeCloseTo(byClass(a.body.predictions[r])[c], 6))
    );
    const hot = await json<Probs>(
      post(onnx.app, '/v1/models/student/predict', { instances: x.slice(0, 1), topK: TINY_CLASSES, temperature: 20 }),
    );
    const flat = byClass(hot.body.predictions[0]);
    expect(Math.max(...flat) - Math.min(...flat)).toBeLessThan(
      Math.max(...byClass(b.body.predictions[0])) - Math.min(...byClass(b.body.predictions[0])),
    );
  });

  it('serves the ensemble through compiled member forwards with the same answer as the tfjs path', async () => {
    const served = await app({});
    const bundle = await loadBundle(bundles.tiny);
    try {
      const combiner = bundle.manifest.combiner!;
      const models: adapter.EnsembleModels = {
        generalist: bundle.generalist,
        numClasses: TINY_CLASSES,
        specialists: bundle.manifest.specialists.map((s) => ({ id: s.id, classes: s.classes,
          dustbinOffset: s.dustbinOffset, model: bundle.specialists.get(s.id)! })
        ),
      };
      const x = rows(6, TINY_INPUT, 7);
      const input = tf.tensor2d(x);
      const out = adapter.predictEnsemble(models, input, { solver: combiner.solver as 'em',
        tolerance: combiner.tolerance, maxIterations: combiner.iterations, topK: combiner.options?.topK ?? 1 });
      const expected = out.probabilities.arraySync();
      tf.dispose([input, out.probabilities]);
      const answer = await predict(served, 'ensemble', x);
      answer.body.predictions.forEach((p, r) => byClass(p).forEach((v, c) => expect(v).toBeCloseTo(expected[r][c], 5)));
    } finally {
      bundle.dispose();
    }
  });
});

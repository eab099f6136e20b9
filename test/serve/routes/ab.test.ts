import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { saveBundle } from '../../../src/bundle/index.js';
import { initEngine } from '../../../src/engine/index.js';
import { createApp, type ServeApp } from '../../../src/serve/index.js';
import { draft } from '../../bundle/helpers.js';
import { json, post } from '../../fixtures/serve-client.js';
import { buildServeBundles, rows, type ServeBundles, TINY_CLASSES } from '../../fixtures/serve-bundle.js';

let bundles: ServeBundles;
let served: ServeApp;
let plain: ServeApp;

beforeAll(async () => {
  await initEngine({ backend: 'auto', log: () => {} });
  bundles = await buildServeBundles();
  served = await createApp({ bundleDir: bundles.tiny, logLevel: 'silent', ab: 'student:30,ensemble:70', shadow: true });
  plain = await createApp({ bundleDir: bundles.tiny, logLevel: 'silent', ab: 'student:1,generalist:1' });
});
afterAll(async () => {
  await served?.shutdown();
  await plain?.shutdown();
  rmSync(bundles.root, { recursive: true, force: true });
});

type AbBody = { variant: string; model: string; requestId: string; receipt: string;
  predictions: { class: number; label: string }[] };
type Report = { arms: unknown[]; shadow: boolean;
  variants: Record<string,
    { requests: number; latencyMs: Record<string, number | null>;
      shadow: Record<string, { compared: number; agreement: number; meanKl: number }>;
      feedback: { labelled: number; accuracy: number | null } }> };
const abPredict = (app: ServeApp, key?: string, n = 1) =>
  json<AbBody>(post(app.app, '/v1/ab/predict', { instances: rows(n) }, key ? { 'x-ab-key': key } : {}));
const report = async (app: ServeApp) => (await json<Report>(app.app.request('/v1/ab/report'))).body;

describe('A/B', () => {
  it('names the variant in x-model-variant and answers with a request id', async () => {
    const { status, body, headers } = await abPredict(plain, 'someone', 2);
    expect(status).toBe(200);
    expect(headers.get('x-model-variant')).toBe(body.variant);
    expect(['student', 'generalist']).toContain(body.variant);
    expect(body.model).toBe(body.variant);
    expect(headers.get('x-request-id')).toBe(body.requestId);
    expect(body.predictions).toHaveLength(2);
  });

  it('refuses options that only /v1/models/* takes, naming them, instead of ignoring them', async () => {
    const { status, body } = await json<{ error: string; details: { path: string; message: string }[] }>(
      post(plain.app, '/v1/ab/predict', { instances: rows(1), temperature: 4, explain: true }),
    );
    expect(status).toBe(400);
    expect(body.details[0].message).toMatch(/temperature[\s\S]*explain|Unrecognized/);
  });

  it('is sticky per x-ab-key, and splits keys in proportion within 5 standard deviations', async () => {
    const n = 300;
    const variants: string[] = [];
    for (let i = 0; i < n; i++) variants.push((await abPredict(plain, `user-${i}`)).body.variant);
    for (let i = 0; i < 40; i++) expect((await abPredict(plain, `user-${i}`)).body.variant).toBe(variants[i]);
    const students = variants.filter((v) => v === 'student').length;
    expect(Math.abs(students - n / 2)).toBeLessThan(5 * Math.sqrt(n / 4));
    const counts = (await report(plain)).variants;
    expect(counts.student.requests + counts.generalist.requests).toBe(n + 41);
  });

  it('in shadow mode runs the other variant after answering and records agreement and KL', async () => {
    const served0 = await report(served);
    for (let i = 0; i < 30; i++) await abPredict(served, `shadow-${i}`, 2);
    await vi.waitFor(async () => {
      const { variants } = await report(served);
      const compared = (variants.student.shadow.ensemble?.compared ?? 0) +
        (variants.ensemble.shadow.student?.compared ?? 0);
      const before = (served0.variants.student.shadow.ensemble?.compared ?? 0) +
        (served0.variants.ensemble.shadow.student?.compared ?? 0);
      expect(compared - before).toBe(60);
    }, { timeout: 5000, interval: 20 });
    const { variants, shadow } = await report(served);
    expect(shadow).toBe(true);
    for (const [from, to] of [['student', 'ensemble'], ['ensemble', 'student']]) {
      const s = variants[from].shadow[to];
      expect(s.agreement).toBeGreaterThanOrEqual(0);
      expect(s.agreement).toBeLessThanOrEqual(1);
      expect(s.meanKl).toBeGreaterThanOrEqual(0);
    }
    const metrics = await (await served.app.request('/metrics')).text();
    expect(metrics).toMatch(
      /serve_shadow_total\{served="(student|ensemble)",shadow="(student|ensemble)",outcome="compared"\} \d+/,
    );
  });

  it('records feedback against the served and the shadow answer, once per request', async () => {
    const first = await abPredict(served, 'feedback-user', 2);
    const truth = first.body.predictions.map((p) => p.class);
    await vi.waitFor(async () => {
      expect(Object.values((await report(served)).variants).some((v) => Object.values(v.shadow).length > 0)).toBe(true);
    });
    const feedback = (body: unknown) => json(post(served.app, '/v1/ab/feedback', body));
    const ok = await feedback({ receipt: first.body.receipt, label: truth });
    expect(ok).toMatchObject({ status: 200, body: { recorded: 2 } });
    expect((await feedback({ receipt: first.body.receipt, label: truth })).status).toBe(409);
    expect((await feedback({ receipt: 'never.issued', label: 0 })).status).toBe(403);
    const one = await abPredict(served, 'by-name');
    expect((await feedback({ receipt: one.body.receipt, label: one.body.predictions[0].label })).status).toBe(200);
    const two = await abPredict(served, 'bad-labels', 2);
    expect((await feedback({ receipt: two.body.receipt, label: 'no-such-class' })).status).toBe(400);
    expect((await feedback({ receipt: two.body.receipt, label: 0 })).status).toBe(400);
    expect((await feedback({ receipt: two.body.receipt, label: [99, 0] })).status).toBe(400);
    expect((await feedback({ label: 0 })).status).toBe(400);
    // a misspelt field is named, not dropped (the receipt is still unscored after it)
    const misspelt = await feedback({ receipt: two.body.receipt, label: [0, 0], labels: [0, 0] });
    expect([misspelt.status, JSON.stringify(misspelt.body)]).toEqual([400, expect.stringMatching(/labels/)]);
    // the request id scores nothing
    expect((await feedback({ requestId: two.body.requestId, label: [0, 0] })).status).toBe(400);
    const { variants } = await report(served);
    expect(variants[first.body.variant].feedback.accuracy).not.toBeNull();
    expect(variants[first.body.variant].feedback.labelled).toBeGreaterThanOrEqual(2);
  });

  it('refuses forged, altered and foreign receipts: no client can score an answer it was not given', async () => {
    const labelled = () =>
      report(served).then((r) => Object.values(r.variants).reduce((sum, v) => sum + v.feedback.labelled, 0));
    const start = await labelled();
    const answer = await abPredict(served, 'forger', 1);
    const [payload, signature] = answer.body.receipt.split('.');
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
    const wrong = Buffer.from(JSON.stringify([claims[0], claims[1], [(claims[2][0] + 1) % TINY_CLASSES], claims[3]]))
      .toString('base64url');
    const feedback = (receipt: string) => json(post(served.app, '/v1/ab/feedback', { receipt, label: 0 }));
    // classes altered: the signature no longer matches
    expect((await feedback(`${wrong}.${signature}`)).status).toBe(403);
    expect((await feedback(`${payload}.${'A'.repeat(signature.length)}`)).status).toBe(403);
    expect((await feedback(`${payload}.${signature}.extra`)).status).toBe(403);
    const other = await createApp({ bundleDir: bundles.tiny, logLevel: 'silent', ab: 'student:50,ensemble:50' });
    const foreign = await json<{ receipt: string }>(post(other.app, '/v1/ab/predict', { instances: rows(1) }));
    await other.shutdown();
    expect((await feedback(foreign.body.receipt)).status).toBe(403); // another key: another service's answer
    expect(await labelled()).toBe(start);
  });

  it('accepts a receipt at any process that shares the key, once, and refuses it after it expires', async () => {
    const secret = 'a-shared-secret-of-at-least-32-characters';
    const [a, b] = await Promise.all(
      [1, 2].map(() =>
        createApp({ bundleDir: bundles.tiny, logLevel: 'silent', ab: 'student:50,ensemble:50', abSecret: secret,
          abReceiptTtlMs: 1000 })
      ),
    );
    try {
      const answer = await json<{ receipt: string; predictions: { class: number }[]; variant: string }>(
        post(a.app, '/v1/ab/predict', { instances: rows(1) }),
      );
      const truth = answer.body.predictions[0].class;
      expect((await json(post(b.app, '/v1/ab/feedback', { receipt: answer.body.receipt, label: truth }))).status).toBe(
        200,
      );
      expect((await json(post(b.app, '/v1/ab/feedback', { receipt: answer.body.receipt, label: truth }))).status).toBe(
        409,
      );
      expect((await report(b)).variants[answer.body.variant].feedback).toEqual({ labelled: 1, accuracy: 1 });
      const late = await json<{ receipt: string }>(post(a.app, '/v1/ab/predict', { instances: rows(1) }));
      await new Promise((r) => setTimeout(r, 1100));
      expect((await json(post(a.app, '/v1/ab/feedback', { receipt: late.body.receipt, label: 0 }))).status).toBe(410);
    } finally {
      await Promise.all([a.shutdown(), b.shutdown()]);
    }
  });

  it('reports latency percentiles per variant', async () => {
    const { variants, arms } = await report(served);
    expect(arms).toEqual([{ variant: 'student', weight: 30 }, { variant: 'ensemble', weight: 70 }]);
    for (const v of Object.values(variants)) {
      if (v.requests === 0) continue;
      expect(v.latencyMs.p50).toBeGreaterThan(0);
      expect(v.latencyMs.p99).toBeGreaterThanOrEqual(v.latencyMs.p90!);
      expect(v.latencyMs.p90).toBeGreaterThanOrEqual(v.latencyMs.p50!);
    }
  });

  it('refuses to start on a bundle that cannot serve every arm, naming the arm and the fix', async () => {
    const dir = join(bundles.root, 'no-student');
    const { student: _student, ...withoutStudent } = draft(5);
    await saveBundle(dir, withoutStudent);
    await expect(createApp({ bundleDir: dir, logLevel: 'silent', ab: 'student:1,ensemble:1' })).rejects.toThrow(
      /student: the bundle has no student[\s\S]*change --ab/,
    );
    const generalistOnly = await createApp({ bundleDir: dir, logLevel: 'silent', ab: 'generalist:1,ensemble:1' });
    expect((await json(post(generalistOnly.app, '/v1/models/student/predict', { instances: rows(1, 4) }))).status).toBe(
      404,
    );
    await generalistOnly.shutdown();
  });
});

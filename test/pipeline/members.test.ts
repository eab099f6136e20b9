import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BundleError, loadBundle, saveBundle } from '../../src/bundle/index.js';
import { generateSynthetic } from '../../src/data/index.js';
import { predictLogits } from '../../src/distill/index.js';
import { initEngine } from '../../src/engine/index.js';
import { parsePipelineConfig, runPipeline } from '../../src/pipeline/index.js';
import { exportBundle } from '../../src/export/index.js';
import { createApp, type ServeApp } from '../../src/serve/index.js';
import { draft, tempDir, tinyModel } from '../bundle/helpers.js';
import { json, post } from '../fixtures/serve-client.js';
import { TINY, TINY_CLASSES } from '../fixtures/tiny-pipeline.js';

const tmp = mkdtempSync(join(tmpdir(), 'members-'));
const apps: ServeApp[] = [];
afterAll(async () => {
  await Promise.all(apps.map((served) => served.shutdown()));
  rmSync(tmp, { recursive: true, force: true });
});
beforeAll(async () => {
  await initEngine({ backend: 'auto', log: () => {} });
});

const withMembers = (count: number) =>
  parsePipelineConfig({ ...TINY, student: { ...TINY.student, teacher: { kind: 'members', count } } });
const data = generateSynthetic({ ...(TINY.dataset as object), name: undefined } as never);

/** Mean of the models' softmax distributions, in float64: the members model's answer computed independently. */
function pooledProbabilities(logitsPerModel: Float32Array[], classes: number): number[][] {
  const rowsCount = logitsPerModel[0].length / classes;
  return Array.from({ length: rowsCount }, (_, r) => {
    const mean = new Array<number>(classes).fill(0);
    for (const logits of logitsPerModel) {
      const row = Array.from(logits.subarray(r * classes, (r + 1) * classes));
      const max = Math.max(...row);
      const z = row.reduce((s, v) => s + Math.exp(v - max), 0);
      row.forEach((v, j) => {
        mean[j] += Math.exp(v - max) / z / logitsPerModel.length;
      });
    }
    return mean;
  });
}

describe('a student taught by an ensemble of members', () => {
  const runDir = join(tmp, 'run');
  const out = join(tmp, 'bundle');

  it('trains K − 1 more generalists, distils from their pooled distribution, and bundles them', async () => {
    const result = await runPipeline(withMembers(3), { runDir, out, log: () => {} });
    expect(result.ran).toEqual(['generalist', 'clusters', 'specialists', 'members', 'student', 'bundle']);
    expect(result.members!.map((m) => [m.id, m.seedOffset])).toEqual([['m2', 1], ['m3', 2]]);
    expect(result.student!.teacher).toBe('members');
    const bundle = await loadBundle(out);
    try {
      expect(bundle.manifest.student!.teacher).toBe('members');
      expect(bundle.manifest.members!.models.map((m) => m.id)).toEqual(['m2', 'm3']);
      const models = [bundle.generalist, ...bundle.members.values()];
      const weights = models.map((m) => Array.from(m.getWeights()[0].dataSync()));
      expect(weights[1]).not.toEqual(weights[0]);
      expect(weights[2]).not.toEqual(weights[1]);
      // The bundle's metric is the pooled members' test errors, computed here again.
      const pooled = pooledProbabilities(models.map((m) => predictLogits(m, data.test.x, data.test.n)), TINY_CLASSES);
      const errors = pooled.filter((p, r) => p.indexOf(Math.max(...p)) !== data.test.y[r]).length;
      expect(bundle.manifest.metrics.membersTestErrors).toBe(errors);
    } finally {
      bundle.dispose();
    }
  }, 120_000);

  it('a specialists shard never trains the members: only the student reads them', async () => {
    const shardDir = join(tmp, 'shard');
    await runPipeline(withMembers(3), { runDir: shardDir, out: join(tmp, 'shard-bundle'), until: 'clusters',
      log: () => {} });
    const shard = await runPipeline(withMembers(3), { runDir: shardDir, out: join(tmp, 'shard-bundle'),
      shard: { index: 0, count: 2 }, log: () => {} });
    expect(shard.ran).not.toContain('members');
    expect(existsSync(join(shardDir, 'member-nets'))).toBe(false);
  }, 120_000);

  it('a larger K trains only the members it adds; the student and the bundle follow', async () => {
    const lines: string[] = [];
    const result = await runPipeline(withMembers(4), { runDir, out, log: (line) => lines.push(line) });
    expect(result.ran).toEqual(['members', 'student', 'bundle']);
    const trainedMembers = new Set(lines.map((line) => /^member-nets\/(m\d+) epoch/.exec(line)?.[1]).filter(Boolean));
    expect([...trainedMembers]).toEqual(['m4']);
  }, 120_000);

  it('is served as the model "members": the pooled distribution, each member timed in the metrics', async () => {
    const served = await createApp({ bundleDir: out, logLevel: 'silent' });
    apps.push(served);
    const instances = Array.from({ length: 3 }, (_, r) => Array.from(data.test.x.subarray(r * 16, (r + 1) * 16)));
    const answer = await json<{ predictions: { topK: { class: number; probability: number }[] }[] }>(
      post(served.app, '/v1/models/members/predict', { instances, topK: TINY_CLASSES }),
    );
    expect(answer.status).toBe(200);
    const bundle = await loadBundle(out);
    const x = Float32Array.from(instances.flat());
    const want = pooledProbabilities([bundle.generalist, ...bundle.members.values()].map((m) => predictLogits(m, x, 3)),
      TINY_CLASSES);
    bundle.dispose();
    answer.body.predictions.forEach((p, r) => {
      for (const t of p.topK) expect(t.probability).toBeCloseTo(want[r][t.class], 5);
    });
    const metrics = await (await served.app.request('/metrics')).text();
    for (const member of ['generalist', 'm2', 'm3', 'm4']) {
      expect(metrics).toContain(`serve_member_duration_seconds_count{member="${member}"} 1`);
    }
    const info = await json<
      { members: { ids: string[]; averaging: string }; models: { members: { served: boolean } } }
    >(served.app.request('/v1/bundle'));
    expect(info.body.members).toEqual({ averaging: 'probabilities', ids: ['generalist', 'm2', 'm3', 'm4'] });
    expect(info.body.models.members.served).toBe(true);
  }, 60_000);

  it('answers bad rows on the members model alone: 422 for a row that overflows, 400 for empty, ragged or huge input',
    async () => {
      const served = await createApp({ bundleDir: out, logLevel: 'silent', batching: { maxQueueDelayMs: 50 } });
      apps.push(served);
      const row = Array.from(data.test.x.subarray(0, 16));
      const predict = (instances: unknown) =>
        json<{ error: string; predictions?: unknown[] }>(post(served.app, '/v1/models/members/predict', { instances }));
      // Batched together: the overflowing request fails alone, its batch-mates are answered.
      const [bad, ...good] = await Promise.all([predict([row.map(() => 3e38)]), predict([row]), predict([row, row])]);
      expect(bad.status).toBe(422);
      expect(good.map((answer) => answer.status)).toEqual([200, 200]);
      expect(good[1].body.predictions).toHaveLength(2);
      expect((await predict([])).status).toBe(400);
      expect((await predict([row.slice(1)])).status).toBe(400);
      expect((await predict([row.map(() => 1e39)])).status).toBe(400);
      expect((await predict([row.map((v, i) => (i === 3 ? 'NaN' : v))])).status).toBe(400);
    }, 60_000);

  it('exports every member to ONNX, and the sidecar says how to pool them', async () => {
    const files = await exportBundle(out, join(tmp, 'exported'));
    expect(files).toEqual(
      expect.arrayContaining(['generalist.onnx', 'members/m2.onnx', 'members/m3.onnx', 'members/m4.onnx']),
    );
    const sidecar = JSON.parse(readFileSync(join(tmp, 'exported', 'ensemble.json'), 'utf8'));
    expect(sidecar.members).toEqual({ averaging: 'probabilities',
      files: ['generalist.onnx', 'members/m2.onnx', 'members/m3.onnx', 'members/m4.onnx'] });
  });

  it('a bundle without members answers the model "members" with a clear error', async () => {
    const dir = join(await tempDir(), 'plain');
    await saveBundle(dir, draft(1));
    const served = await createApp({ bundleDir: dir, logLevel: 'silent' });
    apps.push(served);
    const answer = await json<{ error: string; details: { reason: string } }>(
      post(served.app, '/v1/models/members/predict', { instances: [[0, 0, 0, 0]] }),
    );
    expect(answer.status).toBe(404);
    expect(answer.body.error).toBe('model members is not served from this bundle');
    expect(answer.body.details.reason).toMatch(/no members/);
  });

  it('refuses to save a member of the wrong shape, or a members-taught student without members', async () => {
    const dir = join(await tempDir(), 'bad');
    const wrong = { ...draft(1),
      members: { averaging: 'probabilities' as const, models: [{ id: 'm2', model: tinyModel(3) }] } };
    await expect(saveBundle(dir, wrong)).rejects.toThrow(/members\.models\[0\]\.architecture\.outputSize|3 outputs/);
    const named = { ...draft(1),
      members: { averaging: 'probabilities' as const, models: [{ id: 'generalist', model: tinyModel(5) }] } };
    await expect(saveBundle(dir, named)).rejects.toThrow(/members\.models\[0\]\.id.*names the first member/);
    const orphan = { ...draft(1), student: { ...draft(1).student!, teacher: 'members' as const } };
    const error = await saveBundle(dir, orphan).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BundleError);
    expect((error as Error).message).toMatch(/no members/);
  });
});

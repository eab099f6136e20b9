import { spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initEngine } from '../../src/engine/index.js';
import { configFromArgs, createApp, type ServeApp } from '../../src/serve/index.js';
import { warmUp } from '../../src/serve/warmup.js';
import { post } from '../fixtures/serve-client.js';
import { buildServeBundles, rows, type ServeBundles } from '../fixtures/serve-bundle.js';

let bundles: ServeBundles;
let served: ServeApp;

beforeAll(async () => {
  await initEngine({ backend: 'auto', log: () => {} });
  bundles = await buildServeBundles();
  served = await createApp({ bundleDir: bundles.tiny, logLevel: 'silent', ab: 'ensemble:1' });
});
afterAll(async () => {
  await served?.shutdown();
  rmSync(bundles.root, { recursive: true, force: true });
});

describe('GET /metrics', () => {
  it('exposes requests, errors and latency per model and variant, batch sizes, queue depth and specialist ' +
    'activations', async () => {
    await post(served.app, '/v1/models/student/predict', { instances: rows(3) });
    await post(served.app, '/v1/models/generalist/predict', { instances: [[1]] });
    await post(served.app, '/v1/ab/predict', { instances: rows(2) });
    const res = await served.app.request('/metrics');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = await res.text();
    const expected = [
      /serve_requests_total\{endpoint="\/v1\/models\/:model\/predict",model="student",variant="none",code="200"\} 1/,
      /serve_errors_total\{endpoint="\/v1\/models\/:model\/predict",model="generalist",variant="none",code="400"\} 1/,
      /serve_requests_total\{endpoint="\/v1\/ab\/predict",model="ensemble",variant="ensemble",code="200"\} 1/,
      new RegExp('serve_request_duration_seconds_count\\{endpoint="/v1/ab/predict",model="ensemble",' +
        'variant="ensemble",code="200"\\} 1'),
      new RegExp('serve_request_duration_seconds_count\\{endpoint="/v1/models/:model/predict",model="generalist",' +
        'variant="none",code="400"\\} 1'),
      /serve_queue_duration_seconds_count\{model="student"\} 1/,
      /serve_model_duration_seconds_count\{model="ensemble"\} 1/,
      /serve_batch_size_sum\{model="student"\} 3/,
      /serve_queue_depth\{model="ensemble"\} 0/,
      /serve_specialist_activations_total\{specialist="s\d"\} \d/,
      /serve_active_specialists_count 2/,
      /serve_tfjs_tensors \d+/,
      /serve_inflight_requests 1/,
      /process_resident_memory_bytes/,
    ];
    for (const pattern of expected) expect(text).toMatch(pattern);
  });

  it('labels requests refused before their handler with the model their path names', async () => {
    await served.app.request('/v1/models/student/predict', { method: 'POST', body: 'x',
      headers: { 'content-type': 'text/plain' } });
    await served.app.request('/v2/models/oracle/infer', { method: 'POST', body: '{}',
      headers: { 'content-type': 'application/json' } });
    const text = await (await served.app.request('/metrics')).text();
    expect(text).toMatch(
      /serve_errors_total\{endpoint="\/v1\/models\/:model\/predict",model="student",variant="none",code="415"\} 1/,
    );
    expect(text).toMatch(/serve_errors_total\{endpoint="[^"]*",model="none",variant="none",code="404"\} 1/);
  });

  // Prometheus' own linter, where it is installed (CI installs it: Debian's prometheus package).
  it.runIf(spawnSync('promtool', ['--version']).status === 0)('passes promtool check metrics', async () => {
    await post(served.app, '/v1/models/ensemble/predict', { instances: rows(2) });
    const text = await (await served.app.request('/metrics')).text();
    const check = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
    expect(`${check.stdout}${check.stderr}`.trim()).toBe('');
    expect(check.status).toBe(0);
  });

  it('labels unmatched routes with a bounded endpoint', async () => {
    await served.app.request('/no/such/path/12345');
    const text = await (await served.app.request('/metrics')).text();
    expect(text).toMatch(/serve_errors_total\{endpoint="\/\*",model="none",variant="none",code="404"\} 1/);
    expect(text).not.toMatch(/12345/);
  });
});

/** The sum of the series in a Prometheus text whose lines match `pattern`, 0 when none does. */
function seriesSum(text: string, pattern: RegExp): number {
  return text.split('\n').filter((line) => pattern.test(line))
    .reduce((sum, line) => sum + Number(line.slice(line.lastIndexOf(' ') + 1)), 0);
}

describe('warmUp', () => {
  it('predicts through the app on every served model, answered 200, and leaves the request metrics alone', async () => {
    const before = await (await served.app.request('/metrics')).text();
    const result = await warmUp(served, 300);
    expect(result.requests).toBeGreaterThan(0);
    expect(result.ok).toBe(result.requests);
    const after = await (await served.app.request('/metrics')).text();
    const added = (pattern: RegExp) => seriesSum(after, pattern) - seriesSum(before, pattern);
    // The /metrics scrape between is the one request counted.
    expect(added(/^serve_requests_total\{/)).toBe(1);
    for (const model of ['student', 'generalist', 'ensemble']) {
      expect(added(new RegExp(`^serve_batch_size_count\\{model="${model}"\\}`)), model).toBeGreaterThan(0);
    }
  });

  it('does nothing for 0 ms, and --warmup-ms sets how long', async () => {
    expect(await warmUp(served, 0)).toEqual({ requests: 0, ok: 0 });
    expect(configFromArgs(['--bundle', 'b']).warmupMs).toBe(1000);
    expect(configFromArgs(['--bundle', 'b', '--warmup-ms', '0']).warmupMs).toBe(0);
    expect(configFromArgs(['--bundle', 'b'], { SERVE_WARMUP_MS: '250' }).warmupMs).toBe(250);
    for (const bad of ['-1', 'soon', '1.5', 'Infinity']) {
      expect(() => configFromArgs(['--bundle', 'b', `--warmup-ms=${bad}`]), bad).toThrow(/warmupMs/);
    }
  });
});

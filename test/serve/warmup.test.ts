import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initEngine } from '../../src/engine/index.js';
import { configFromArgs, createApp, type ServeApp } from '../../src/serve/index.js';
import { warmUp } from '../../src/serve/warmup.js';
import { buildServeBundles, type ServeBundles } from '../fixtures/serve-bundle.js';

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

async function metricsText(): Promise<string> {
  return (await served.app.request('/metrics')).text();
}

/** The count of a series in the Prometheus text, 0 when absent. */
function seriesValue(text: string, pattern: RegExp): number {
  return text.split('\n').filter((line) => pattern.test(line))
    .reduce((sum, line) => sum + Number(line.slice(line.lastIndexOf(' ') + 1)), 0);
}

describe('warmUp', () => {
  it('predicts through the app on every served model, answered 200, and leaves the request metrics alone', async () => {
    const result = await warmUp(served, 300);
    expect(result.requests).toBeGreaterThan(0);
    expect(result.ok).toBe(result.requests);
    const text = await metricsText();
    expect(seriesValue(text, /^serve_requests_total\{/)).toBe(0);
    for (const model of ['student', 'generalist', 'ensemble']) {
      expect(seriesValue(text, new RegExp(`^serve_batch_size_count\\{model="${model}"\\}`)), model).toBeGreaterThan(0);
    }
  });

  it('does nothing for 0 ms, and --warmup-ms sets how long', async () => {
    expect(await warmUp(served, 0)).toEqual({ requests: 0, ok: 0 });
    expect(configFromArgs(['--bundle', 'b']).warmupMs).toBe(1000);
    expect(configFromArgs(['--bundle', 'b', '--warmup-ms', '0']).warmupMs).toBe(0);
    expect(configFromArgs(['--bundle', 'b'], { SERVE_WARMUP_MS: '250' }).warmupMs).toBe(250);
  });
});

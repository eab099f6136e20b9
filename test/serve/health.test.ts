import { spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type HealthPort, type HealthState, startHealthPort } from '../../src/serve/connections/health.js';

const HOST = '127.0.0.1';
const state: HealthState = { ready: true, draining: false };
let health: HealthPort;

beforeAll(async () => {
  health = await startHealthPort({ host: HOST, port: 0, staleMs: 300, state: () => state });
});
afterAll(async () => {
  await health?.close();
});

const get = async (path: string, method = 'GET') => {
  const res = await fetch(`http://${HOST}:${health.port}${path}`, { method });
  return { status: res.status, body: await res.json(), allow: res.headers.get('allow') };
};

/**
 * Fetches `path` from another process while this thread is blocked (spawnSync), so the main loop
 * cannot stamp its heartbeat: what a probe sees when the serving loop is stuck.
 */
function getWhileBlocked(path: string, blockMs: number): { status: number; body: unknown } {
  const script =
    `setTimeout(async () => { const r = await fetch('http://${HOST}:${health.port}${path}'); ` +
      `console.log(JSON.stringify({ status: r.status, body: await r.json() })); }, ${blockMs});`;
  const result = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 20_000 });
  return JSON.parse(result.stdout);
}

describe('health port', () => {
  it('answers liveness and readiness as the API port does, and nothing else', async () => {
    expect(await get('/v2/health/live')).toMatchObject({ status: 200, body: { live: true } });
    expect(await get('/v2/health/ready')).toMatchObject({ status: 200, body: { ready: true } });
    expect(await get('/v1/models/student/predict', 'POST')).toMatchObject({ status: 405, allow: 'GET, HEAD' });
    expect(await get('/metrics')).toMatchObject({ status: 404, body: { error: 'not found' } });
  });

  it('turns readiness off at once when the server drains', async () => {
    state.draining = true;
    health.refresh();
    try {
      expect(await get('/v2/health/ready')).toMatchObject({ status: 503,
        body: { error: 'not ready', details: { draining: true, stalled: false } } });
      expect((await get('/v2/health/live')).status).toBe(200);
    } finally {
      state.draining = false;
      health.refresh();
    }
  });

  it('fails liveness when the serving loop has not turned for longer than staleMs', async () => {
    const blocked = getWhileBlocked('/v2/health/live', 600);
    expect(blocked).toMatchObject({ status: 503, body: { error: expect.stringMatching(/stalled/) } });
    // Once the loop runs again, its next heartbeat makes it live (polled: timers run late on a busy machine).
    let status = 0;
    for (let i = 0; i < 100 && status !== 200; i++) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      status = (await get('/v2/health/live')).status;
    }
    expect(status).toBe(200);
  });
});

import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync, rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initEngine } from '../../src/engine/index.js';
import { buildServeBundles, rows, type ServeBundles } from '../fixtures/serve-bundle.js';

// No container builder runs on these machines, so the image's entry is run here as the image runs
// it: the Dockerfile's CMD, verbatim, with its ENV (ports and bundle overridden for a test).

const dockerfile = readFileSync('Dockerfile', 'utf8');
const command = JSON.parse(/^CMD (\[.*\])$/m.exec(dockerfile)![1]) as string[];
const env = Object.fromEntries([...dockerfile.matchAll(/^\s*(?:ENV\s+)?([A-Z_]+)=(\S+)/gm)].map((m) => [m[1], m[2]]));
let bundles: ServeBundles;

beforeAll(async () => {
  await initEngine({ backend: 'auto', log: () => {} });
  bundles = await buildServeBundles();
});
afterAll(() => rmSync(bundles.root, { recursive: true, force: true }));

describe("the image's entry command", () => {
  it('serves on both ports with the image environment and drains to exit 0 on SIGTERM', async () => {
    expect(command.slice(0, 3)).toEqual(['node', '--import', 'tsx']); // node as PID 1: signals reach it
    const child = spawn(process.execPath, command.slice(1), {
      env: { ...process.env, ...env, SERVE_BUNDLE: bundles.tiny, PORT: '0', SERVE_HEALTH_PORT: '0' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const exited = once(child, 'exit');
    let log = '';
    const ports = await new Promise<{ port: number; healthPort: number }>((resolve, reject) => {
      child.stdout!.on('data', (chunk) => {
        log += chunk;
        const port = /"port":(\d+)[^\n]*"msg":"listening"/.exec(log)?.[1];
        const healthPort = /"healthPort":(\d+)/.exec(log)?.[1];
        if (port && healthPort) resolve({ port: Number(port), healthPort: Number(healthPort) });
      });
      child.once('exit', (code) => reject(new Error(`exited ${code}: ${log}`)));
    });
    expect(log).toMatch(/"host":"0\.0\.0\.0"/);
    expect((await fetch(`http://127.0.0.1:${ports.healthPort}/v2/health/ready`)).status).toBe(200);
    const predicted = await fetch(`http://127.0.0.1:${ports.port}/v1/models/student/predict`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ instances: rows(1) }),
    });
    expect(predicted.status).toBe(200);
    child.kill('SIGTERM');
    const [code] = await exited;
    expect(code).toBe(0);
  }, 60_000);
});

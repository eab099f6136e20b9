import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { request } from 'node:http';
import { connect } from 'node:net';
import { cpSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initEngine } from '../../src/engine/index.js';
import { type ServeConfigInput, type ServerHandle, startServer } from '../../src/serve/index.js';
import { buildServeBundles, rows, type ServeBundles, TINY_CLASSES } from '../fixtures/serve-bundle.js';

const HOST = '127.0.0.1';
const TOKEN = 'server-test-admin-token';
const CHILD = fileURLToPath(new URL('../fixtures/serve-child.ts', import.meta.url));
let bundles: ServeBundles;
let server: ServerHandle;

beforeAll(async () => {
  await initEngine({ backend: 'auto', log: () => {} });
  bundles = await buildServeBundles();
  server = await startServer({ bundleDir: bundles.tiny, host: HOST, port: 0, logLevel: 'silent',
    limits: { maxBodyBytes: 32 * 1024 }, adminToken: TOKEN }, { signals: false });
});
afterAll(async () => {
  await server?.close();
  rmSync(bundles.root, { recursive: true, force: true });
});

/** One request on a fresh connection (no keep-alive pool), so cluster workers take turns. */
function send(port: number, method: string, path: string, body?: string | ((write: (chunk: string) => void) => void),
  headers: Record<string, string> = {}): Promise<{ status: number; headers: Record<string, unknown>; text: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: HOST, port, method, path, agent: false, headers: { connection: 'close', ...headers } },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text }));
      });
    req.on('error', reject);
    if (typeof body === 'string') req.end(body);
    else if (body) {
      body((chunk) => req.write(chunk));
      req.end();
    } else req.end();
  });
}
const predictBody = (n = 1) => JSON.stringify({ instances: rows(n) });

/**
 * Raw bytes on a fresh socket, for requests no HTTP client would send; resolves with what came back once the server
 * closes.
 */
function raw(port: number, bytes: string,
  { hangUp = false } = {}): Promise<{ status: number; headers: string; body: string; ms: number }> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const socket = connect(port, HOST, () => socket.write(bytes));
    let text = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      text += chunk;
      if (hangUp && text.includes('\r\n\r\n')) socket.destroy();
    });
    socket.on('error', reject);
    socket.on('close', () => {
      const [head, body = ''] = text.split('\r\n\r\n');
      resolve({ status: Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1] ?? 0), headers: head.toLowerCase(), body,
        ms: performance.now() - started });
    });
  });
}

/** Polls `check` until it holds; a bounded loop, so a server that never gets there fails the test. */
async function until(check: () => Promise<boolean>, tries = 100): Promise<void> {
  for (let i = 0; i < tries; i++) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error('condition never held');
}

/** A server in its own process; resolves with its port once it prints LISTENING. */
async function spawnServer(
  config: ServeConfigInput,
): Promise<{ child: ChildProcess; port: number; output: () => string }> {
  // The server in the child skips the warm-up unless the test asks for one: only its start is slower.
  const child = spawn(process.execPath, ['--import', 'tsx', CHILD, JSON.stringify({ warmupMs: 0, ...config })], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stderr!.on('data', (chunk) => (output += chunk));
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout!.on('data', (chunk) => {
      output += chunk;
      const match = /LISTENING (\d+)/.exec(output);
      if (match) resolve(Number(match[1]));
    });
    child.once('exit', (code) => reject(new Error(`server exited (${code}) before listening:\n${output}`)));
  });
  return { child, port, output: () => output };
}

describe('over HTTP', () => {
  it('listens on the ephemeral port it reports and serves every API', async () => {
    expect(server.port).toBeGreaterThan(0);
    expect((await send(server.port, 'GET', '/v2/health/ready')).status).toBe(200);
    const predicted = await send(server.port, 'POST', '/v1/models/ensemble/predict', predictBody(2), {
      'content-type': 'application/json',
    });
    expect(predicted.status).toBe(200);
    expect(JSON.parse(predicted.text).predictions).toHaveLength(2);
    const ab = await send(server.port, 'POST', '/v1/ab/predict', predictBody(), { 'content-type': 'application/json',
      'x-ab-key': 'abc' });
    expect(ab.headers['x-model-variant']).toMatch(/^(student|ensemble)$/);
    expect((await send(server.port, 'GET', '/openapi.json')).status).toBe(200);
    expect((await send(server.port, 'GET', '/metrics')).text).toMatch(/serve_requests_total/);
  });

  it('answers HEAD with the headers GET would send, Content-Length included, and no body', async () => {
    for (const path of ['/v2/health/ready', '/v2/models/student', '/metrics', '/openapi.json']) {
      const get = await send(server.port, 'GET', path);
      const head = await send(server.port, 'HEAD', path);
      expect(head.status, path).toBe(200);
      expect(head.text, path).toBe('');
      expect(head.headers['content-type'], path).toBe(get.headers['content-type']);
      // /metrics moves between the two requests; the others are byte for byte the same.
      if (path !== '/metrics') expect(head.headers['content-length'], path).toBe(String(Buffer.byteLength(get.text)));
      else expect(Number(head.headers['content-length']), path).toBeGreaterThan(0);
    }
    // An error names the method in its body, so GET's length is not HEAD's: none is sent.
    const missing = await send(server.port, 'HEAD', '/nope');
    expect(missing.status).toBe(404);
    expect(missing.headers['content-length']).toBeUndefined();
  });

  it('answers 413 to a chunked body with no Content-Length once it passes the limit', async () => {
    const res = await send(server.port, 'POST', '/v1/models/student/predict', (write) => {
      write('{"instances":[[');
      for (let i = 0; i < 20; i++) write('0.5,'.repeat(1000));
      write('0.5]]}');
    }, { 'content-type': 'application/json', 'transfer-encoding': 'chunked' });
    expect(res.status).toBe(413);
    expect(JSON.parse(res.text)).toMatchObject({ error: 'request body too large', details: { maxBytes: 32 * 1024 } });
  });

  it('answers 413 from Content-Length alone, 415 and 400 as JSON', async () => {
    const big = JSON.stringify({ instances: [Array(10_000).fill(0.5)] });
    expect(
      (await send(server.port, 'POST', '/v1/models/student/predict', big, { 'content-type': 'application/json' }))
        .status,
    ).toBe(413);
    expect(
      (await send(server.port, 'POST', '/v1/models/student/predict', 'x', { 'content-type': 'text/plain' })).status,
    ).toBe(415);
    const malformed = await send(server.port, 'POST', '/v2/models/student/infer', '{"inputs": [', {
      'content-type': 'application/json',
    });
    expect(malformed.status).toBe(400);
    expect(JSON.parse(malformed.text).error).toMatch(/Malformed JSON/);
  });

  it('reloads on a bare POST (no body, no Content-Type), and refuses a body of another type', async () => {
    const auth = { authorization: `Bearer ${TOKEN}` };
    const reloaded = await send(server.port, 'POST', '/v1/admin/reload', undefined, auth);
    expect(reloaded.status).toBe(200);
    expect(JSON.parse(reloaded.text)).toMatchObject({ bundle: bundles.tiny });
    expect(
      (await send(server.port, 'POST', '/v1/admin/reload', 'bundle=x', { ...auth,
        'content-type': 'application/x-www-form-urlencoded' })).status,
    ).toBe(415);
  });
});

describe('hostile HTTP', () => {
  const predictHead = (length: number) =>
    `POST /v1/models/student/predict HTTP/1.1\r\nHost: ${HOST}\r\nContent-Type: application/json\r\nContent-Length: ` +
      `${length}\r\n\r\n`;

  it('answers framing errors Node would answer with empty bodies as JSON errors', async () => {
    const garbage = await raw(server.port, 'HELLO\r\n\r\n');
    expect(garbage.status).toBe(400);
    expect(JSON.parse(garbage.body)).toMatchObject({ error: 'malformed HTTP request',
      details: { code: expect.stringMatching(/^HPE_/) } });
    const huge = await raw(server.port,
      `GET /v2/health/live HTTP/1.1\r\nHost: ${HOST}\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`);
    expect(huge.status).toBe(431);
    expect(JSON.parse(huge.body).error).toBe('request headers too large');
    const expectation = await raw(server.port,
      `POST /v1/models/student/predict HTTP/1.1\r\nHost: ${HOST}\r\nExpect: teapot\r\nContent-Length: ` +
        `2\r\nConnection: close\r\n\r\n{}`);
    expect(expectation.status).toBe(417);
    expect(JSON.parse(expectation.body).error).toMatch(/Expect/);
    const count400 = async () => [...(await send(server.port, 'GET', '/metrics')).text
      .matchAll(/^serve_requests_total\{[^}]*code="400"\} (\d+)$/gm)].reduce((sum, m) => sum + Number(m[1]), 0);
    const before = await count400();
    const unreadable = [];
    for (const [target, host] of [['/v2', null], ['/v2', 'a b'], ['/v2', '[::1]evil'], ['/v1\\bundle', HOST],
      ['*', HOST]] as const) {
      const method = target === '*' ? 'OPTIONS' : 'GET';
      const res = await raw(server.port,
        `${method} ${target} HTTP/1.1\r\n${host === null ? '' : `Host: ${host}\r\n`}Connection: close\r\n\r\n`);
      expect([target, host, res.status]).toEqual([target, host, 400]);
      expect(JSON.parse(res.body).error, `${target} ${host}`).toMatch(/Host|request target/);
      unreadable.push(res);
    }
    expect(await count400() - before).toBe(5); // counted as the app's own answers are
    const gzipped = await raw(server.port, `POST /v1/models/student/predict HTTP/1.1\r\nHost: ${HOST}\r\n` +
      'Content-Type: application/json\r\nTransfer-Encoding: gzip, chunked\r\nConnection: close\r\n\r\n' +
      '2\r\n{}\r\n0\r\n\r\n');
    expect(gzipped.status).toBe(501);
    expect(JSON.parse(gzipped.body).error).toMatch(/Transfer-Encoding/);
    const tunnel = await raw(server.port, `CONNECT ${HOST}:443 HTTP/1.1\r\nHost: ${HOST}:443\r\n\r\n`);
    expect(tunnel.status).toBe(501);
    expect(JSON.parse(tunnel.body).error).toMatch(/CONNECT/);
    for (const res of [garbage, huge, expectation, tunnel, gzipped, ...unreadable]) {
      expect(res.headers).toMatch(/content-type: application\/json/);
    }
  });

  it('records every answer given at the connection in /metrics with its status, none as a 499', async () => {
    const counts = async () => {
      const text = (await send(server.port, 'GET', '/metrics')).text;
      const byCode: Record<string, number> = {};
      for (const m of text.matchAll(/^serve_requests_total\{[^}]*code="(\d+)"\} (\d+)$/gm)) {
        byCode[m[1]] = (byCode[m[1]] ?? 0) + Number(m[2]);
      }
      return byCode;
    };
    const before = await counts();
    const badChunk = await raw(server.port, `${predictHead(0).replace(/Content-Length: \d+\r\n/,
      'Transfer-Encoding: chunked\r\n')}zz\r\n`);
    const huge = await raw(server.port, `GET /v2 HTTP/1.1\r\nHost: ${HOST}\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`);
    const tunnel = await raw(server.port, `CONNECT ${HOST}:443 HTTP/1.1\r\nHost: ${HOST}:443\r\n\r\n`);
    expect([badChunk.status, huge.status, tunnel.status]).toEqual([400, 431, 501]);
    await until(async () => {
      const after = await counts();
      const added = (code: string) => (after[code] ?? 0) - (before[code] ?? 0);
      return added('400') === 1 && added('431') === 1 && added('501') === 1 && added('499') === 0;
    });
  });

  it('answers Expect: 100-continue with 413 before the body when Content-Length is over the limit', async () => {
    const over = await raw(server.port, `POST /v1/models/student/predict HTTP/1.1\r\nHost: ${HOST}\r\n` +
      `Content-Type: application/json\r\nContent-Length: ${100 * 2 ** 20}\r\nExpect: 100-continue\r\n\r\n`);
    expect(over.status).toBe(413);
    expect(over.headers).not.toContain('100 continue');
    const body = predictBody();
    const answer = await new Promise<{ status: number; continued: boolean }>((resolve, reject) => {
      let continued = false;
      const req = request({ host: HOST, port: server.port, method: 'POST', path: '/v1/models/student/predict',
        agent: false, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body),
          expect: '100-continue', connection: 'close' } }, (res) => {
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode ?? 0, continued }));
      });
      req.on('continue', () => {
        continued = true;
        req.end(body);
      });
      req.on('error', reject);
    });
    expect(answer).toEqual({ status: 200, continued: true });
  });

  it('refuses a Host it does not know (DNS rebinding) and sends nosniff', async () => {
    const rebound = await send(server.port, 'GET', '/v2', undefined, { host: 'attacker.example:8080' });
    expect(rebound.status).toBe(403);
    expect(JSON.parse(rebound.text)).toMatchObject({ error: expect.stringMatching(/Host not allowed/),
      details: { host: 'attacker.example:8080' } });
    const local = await send(server.port, 'GET', '/v2', undefined, { host: `localhost:${server.port}` });
    expect(local.status).toBe(200);
    expect(local.headers['x-content-type-options']).toBe('nosniff');
  });

  it('counts a client that hangs up mid-upload as 499, not as a server error', async () => {
    const cut = await new Promise<void>((resolve) => {
      const socket = connect(server.port, HOST, () => {
        socket.write(`${predictHead(5000)}{"instances":[[0.1,`);
        setTimeout(() => socket.destroy(), 100);
      });
      socket.on('close', () => resolve());
    });
    await cut;
    await until(async () => /code="499"\} 1\n/.test((await send(server.port, 'GET', '/metrics')).text));
    // 501s in this server's metrics are other tests' unsupported requests (CONNECT, gzip transfer coding).
    expect((await send(server.port, 'GET', '/metrics')).text).not.toMatch(/code="5(?!01)\d\d"/);
  });

  it('starting one request per turn, answers every one of 24 concurrent requests, each with its own rows', async () => {
    const oneATurn = await startServer({ bundleDir: bundles.tiny, host: HOST, port: 0, logLevel: 'silent',
      limits: { requestsPerTurn: 1 }, warmupMs: 0 }, { signals: false });
    try {
      const answers = await Promise.all(
        Array.from({ length: 24 }, (_, i) =>
          send(oneATurn.port, 'POST', '/v1/models/student/predict', predictBody(1 + (i % 5)), {
            'content-type': 'application/json',
          })),
      );
      expect(answers.map((a) => a.status)).toEqual(Array(24).fill(200));
      expect(answers.map((a) => (JSON.parse(a.text) as { predictions: unknown[] }).predictions.length)).toEqual(
        Array.from({ length: 24 }, (_, i) => 1 + (i % 5)),
      );
      expect((await send(oneATurn.port, 'GET', '/metrics')).text).toMatch(/^serve_waiting_requests 0$/m);
    } finally {
      await oneATurn.close();
    }
  });

  describe('with a connection cap and a short deadline', () => {
    let capped: ServerHandle;
    beforeAll(async () => {
      capped = await startServer({ bundleDir: bundles.tiny, host: HOST, port: 0, logLevel: 'silent',
        limits: { maxConnections: 2 }, batching: { deadlineMs: 500 }, healthPort: 0, warmupMs: 0 }, { signals: false });
    });
    afterAll(async () => {
      await capped?.close();
    });

    it('times out a body that never arrives at the deadline, as JSON 408', async () => {
      const res = await raw(capped.port, `${predictHead(100)}{"instances":`);
      expect(res.status).toBe(408);
      expect(JSON.parse(res.body).error).toMatch(/deadline/);
      // At the deadline, not after Node's default 300 s (a bound loose enough for a busy machine).
      expect(res.ms).toBeLessThan(30_000);
      // Recorded as what it was: a 408, not a client that hung up (499).
      const metrics = () => send(capped.port, 'GET', '/metrics').then((m) => m.text);
      await until(async () => /^serve_requests_total\{[^}]*code="408"\} 1$/m.test(await metrics()));
      expect(await metrics()).not.toMatch(/code="499"/);
    });

    it('answers requests past the connection cap 503 at once, unread, while probes still pass', async () => {
      const held = [connect(capped.port, HOST), connect(capped.port, HOST)];
      await Promise.all(held.map((socket) => once(socket, 'connect')));
      try {
        const over = await send(capped.port, 'POST', '/v1/models/student/predict', predictBody(), {
          'content-type': 'application/json',
        });
        expect(over.status).toBe(503);
        expect(over.headers['retry-after']).toBe('1');
        expect(JSON.parse(over.text)).toMatchObject({ error: 'overloaded: too many open connections',
          details: { maxConnections: 2 } });
        expect((await send(capped.port, 'GET', '/v2/health/live')).status).toBe(200);
        // The probe port is another listener, from another thread: no cap of the API port reaches it.
        expect((await send(capped.healthPort!, 'GET', '/v2/health/ready')).status).toBe(200);
      } finally {
        held.forEach((socket) => socket.destroy());
      }
      await until(async () =>
        (await send(capped.port, 'POST', '/v1/models/student/predict', predictBody(), {
          'content-type': 'application/json',
        })).status === 200
      );
    });
  });
});

describe('process lifecycle', () => {
  it('on SIGTERM under a stream of new connections answers each request or refuses it 503, never resets it',
    async () => {
      const { child, port } = await spawnServer({ bundleDir: bundles.tiny, host: HOST, port: 0, logLevel: 'warn' });
      const exited = once(child, 'exit');
      const outcomes: string[] = [];
      // Clients as a load balancer's would behave: a 503 sends them elsewhere, so they stop.
      const client = async () => {
        for (;;) {
          try {
            const res = await send(port, 'POST', '/v1/models/student/predict', predictBody(),
              { 'content-type': 'application/json' });
            outcomes.push(String(res.status));
            if (res.status === 503) return;
          } catch (error) {
            outcomes.push((error as NodeJS.ErrnoException).code ?? 'error');
            return;
          }
        }
      };
      const clients = Array.from({ length: 8 }, client);
      await new Promise((r) => setTimeout(r, 300));
      child.kill('SIGTERM');
      await Promise.all(clients);
      expect((await exited)[0]).toBe(0);
      expect(outcomes.filter((o) => o !== '200' && o !== '503' && o !== 'ECONNREFUSED')).toEqual([]);
      expect(outcomes).toContain('503');
    }, 60_000);


  it('on SIGTERM turns readiness off, finishes the request in flight and exits 0', async () => {
    // The queue delay holds the request in flight while the server is told to stop.
    const { child, port } = await spawnServer({ bundleDir: bundles.tiny, host: HOST, port: 0, logLevel: 'warn',
      batching: { maxQueueDelayMs: 2500 } });
    const exited = once(child, 'exit');
    const inFlight = send(port, 'POST', '/v1/models/ensemble/predict', predictBody(2), {
      'content-type': 'application/json',
    });
    await until(async () =>
      /serve_queue_depth\{model="ensemble"\} 1\n/.test((await send(port, 'GET', '/metrics')).text)
    );
    child.kill('SIGTERM');
    await until(async () => (await send(port, 'GET', '/v2/health/ready')).status === 503);
    const ready = await send(port, 'GET', '/v2/health/ready');
    expect(JSON.parse(ready.text)).toMatchObject({ error: 'not ready', details: { draining: true } });
    const refused = await send(port, 'POST', '/v1/models/student/predict', predictBody(), {
      'content-type': 'application/json',
      connection: 'keep-alive',
    });
    expect(refused.status).toBe(503);
    expect(refused.headers['retry-after']).toBe('1');
    // A keep-alive client told to reconnect finds a server still accepting, not a reset.
    expect(refused.headers.connection).toBe('close');
    const answered = await inFlight;
    expect(answered.status).toBe(200);
    expect(JSON.parse(answered.text).predictions).toHaveLength(2);
    const [code] = await exited;
    expect(code).toBe(0);
  });

  it('exits 1 when the drain times out with a request still in flight', async () => {
    const { child, port } = await spawnServer({ bundleDir: bundles.tiny, host: HOST, port: 0, logLevel: 'warn',
      drainTimeoutMs: 200, batching: { maxQueueDelayMs: 3000 } });
    const exited = once(child, 'exit');
    const inFlight = send(port, 'POST', '/v1/models/ensemble/predict', predictBody(), {
      'content-type': 'application/json',
    }).catch(() => undefined);
    await until(async () =>
      /serve_queue_depth\{model="ensemble"\} 1\n/.test((await send(port, 'GET', '/metrics')).text)
    );
    child.kill('SIGTERM');
    const [code] = await exited;
    expect(code).toBe(1);
    await inFlight;
  });

  it('with --workers 2, a reload reaches every worker', async () => {
    const renamed = join(bundles.root, 'renamed');
    cpSync(bundles.tiny, renamed, { recursive: true });
    const manifest = JSON.parse(readFileSync(join(renamed, 'manifest.json'), 'utf8')) as { name: string };
    writeFileSync(join(renamed, 'manifest.json'), JSON.stringify({ ...manifest, name: 'renamed' }));
    const token = 'a-test-admin-token-of-some-length';
    const { child, port } = await spawnServer({ bundleDir: bundles.tiny, host: HOST, port: 0, logLevel: 'warn',
      workers: 2, adminToken: token, bundleRoot: bundles.root });
    const exited = once(child, 'exit');
    const names = async () => {
      const seen = new Set<string>();
      for (let i = 0; i < 8; i++) seen.add(JSON.parse((await send(port, 'GET', '/v1/bundle')).text).name);
      return [...seen];
    };
    expect(await names()).toEqual([manifest.name]);
    const reloaded = await send(port, 'POST', '/v1/admin/reload', JSON.stringify({ bundle: renamed }),
      { 'content-type': 'application/json', authorization: `Bearer ${token}` });
    expect([reloaded.status, JSON.parse(reloaded.text).name]).toEqual([200, 'renamed']);
    expect(await names()).toEqual(['renamed']); // both workers, whichever the connection reached
    child.kill('SIGTERM');
    expect((await exited)[0]).toBe(0);
  }, 120_000);

  it('with --workers 2, counts every A/B answer and feedback once, whichever worker each reached', async () => {
    const { child, port } = await spawnServer({ bundleDir: bundles.tiny, host: HOST, port: 0, logLevel: 'warn',
      workers: 2 });
    const exited = once(child, 'exit');
    const base = `http://${HOST}:${port}`;
    const N = 2000;
    const sent: { variant: string; predicted: number; label: number }[] = [];
    // 16 clients at a time, each on its own keep-alive connection: both workers get a share.
    for (let start = 0; start < N; start += 16) {
      await Promise.all(Array.from({ length: Math.min(16, N - start) }, async (_, k) => {
        const i = start + k;
        const res = await fetch(`${base}/v1/ab/predict`, { method: 'POST',
          headers: { 'content-type': 'application/json', 'x-ab-key': `client-${i}` },
          body: JSON.stringify({ instances: rows(1, undefined, i) }) });
        const answer = await res.json() as { variant: string; receipt: string; predictions: { class: number }[] };
        const label = i % TINY_CLASSES;
        const fed = await fetch(`${base}/v1/ab/feedback`, { method: 'POST',
          headers: { 'content-type': 'application/json' }, body: JSON.stringify({ receipt: answer.receipt, label }) });
        expect(fed.status).toBe(200);
        sent.push({ variant: answer.variant, predicted: answer.predictions[0].class, label });
      }));
    }
    const report = await (await fetch(`${base}/v1/ab/report`)).json() as {
      variants: Record<string, { requests: number; feedback: { labelled: number; accuracy: number } }>;
    };
    const metrics = await (await fetch(`${base}/metrics`)).text();
    for (const variant of ['student', 'ensemble']) {
      const mine = sent.filter((s) => s.variant === variant);
      expect(mine.length, variant).toBeGreaterThan(N / 4);
      expect(report.variants[variant].requests, variant).toBe(mine.length);
      expect(report.variants[variant].feedback.labelled, variant).toBe(mine.length);
      expect(report.variants[variant].feedback.accuracy, variant).toBeCloseTo(
        mine.filter((s) => s.predicted === s.label).length / mine.length,
        12,
      );
      expect(Number(new RegExp(`^serve_ab_answers_total\\{variant="${variant}"\\} (\\d+)$`, 'm').exec(metrics)?.[1]),
        variant).toBe(mine.length);
    }
    child.kill('SIGTERM');
    expect((await exited)[0]).toBe(0);
  }, 120_000);

  it('runs --workers 2 behind one port, aggregates /metrics over them, and stops on SIGTERM', async () => {
    const { child, port, output } = await spawnServer({ bundleDir: bundles.tiny, host: HOST, port: 0, logLevel: 'info',
      workers: 2 });
    const exited = once(child, 'exit');
    for (let i = 0; i < 12; i++) {
      expect(
        (await send(port, 'POST', '/v1/models/student/predict', predictBody(), { 'content-type': 'application/json' }))
          .status,
      ).toBe(200);
    }
    const workers = new Set([...output().matchAll(/"worker":(\d+)[^\n]*"msg":"listening"/g)].map((m) => m[1]));
    expect(workers.size).toBe(2);
    const metrics = (await send(port, 'GET', '/metrics')).text;
    expect(metrics).toMatch(
      /serve_requests_total\{endpoint="\/v1\/models\/:model\/predict",model="student",variant="none",code="200"\} 12\n/,
    );
    // Not summed over the two workers: a limit is each process's, and the start time is kept.
    const softLimit = Number(/^Max open files\s+(\d+)/m.exec(readFileSync('/proc/self/limits', 'utf8'))?.[1]);
    expect(Number(/^process_max_fds (\d+)$/m.exec(metrics)?.[1])).toBe(softLimit);
    expect(Number(/^process_start_time_seconds (\d+)$/m.exec(metrics)?.[1])).toBeGreaterThan(Date.now() / 1000 - 600);
    // A/B feedback lands on either worker (connections go round-robin): the first counts, every
    // replay is refused, on whichever worker it arrives.
    const answer = JSON.parse(
      (await send(port, 'POST', '/v1/ab/predict', predictBody(), { 'content-type': 'application/json' })).text,
    );
    const feedback = JSON.stringify({ receipt: answer.receipt,
      label: answer.predictions.map((p: { class: number }) => p.class) });
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) {
      statuses.push(
        (await send(port, 'POST', '/v1/ab/feedback', feedback, { 'content-type': 'application/json' })).status,
      );
    }
    expect(statuses).toEqual([200, 409, 409, 409]);
    child.kill('SIGTERM');
    const [code] = await exited;
    expect(code).toBe(0);
  });
});

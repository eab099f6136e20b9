import { once } from 'node:events';
import { Worker } from 'node:worker_threads';

// Liveness and readiness on their own port, answered by a thread with its own event loop.
//
// Why a thread: under load Node accepts one new connection per turn of its event loop (libuv
// 1.46), and a turn that serves hundreds of busy connections takes tens of milliseconds, so a
// burst of 512 connections keeps a probe's fresh connection waiting for seconds on the API port,
// and a kubelet would restart a healthy pod. The thread's loop is idle: it accepts at once. It
// does not just say "yes": the main loop stamps a heartbeat every HEARTBEAT_MS, and liveness fails
// once that stamp is older than the request deadline, since then no request can be answered on time.

const HEARTBEAT_MS = 100;
const READY = 0;
const DRAINING = 1;

export interface HealthState {
  ready: boolean;
  draining: boolean;
}

export interface HealthPortOptions {
  host: string;
  /** 0 for one the OS picks. */
  port: number;
  /** Liveness fails when the main loop has not turned for this long. */
  staleMs: number;
  /** Read on every heartbeat (and on `refresh`). */
  state: () => HealthState;
}

export interface HealthPort {
  port: number;
  /** Publishes the state now rather than at the next heartbeat: a drain must show at once. */
  refresh(): void;
  close(): Promise<void>;
}

interface ThreadData {
  host: string;
  port: number;
  staleMs: number;
  flags: Int32Array;
  beat: BigInt64Array;
}

/**
 * The thread's whole program. It runs from its source text (`eval`), so it may use nothing from
 * this module's scope: builtins come through process.getBuiltinModule.
 */
function probeThread(): void {
  const { parentPort, workerData } = process.getBuiltinModule('node:worker_threads');
  const { createServer } = process.getBuiltinModule('node:http');
  const { host, port, staleMs, flags, beat } = workerData as ThreadData;
  const answer = (res: import('node:http').ServerResponse, status: number, body: unknown,
    extra: Record<string, string> = {}) => {
    const text = JSON.stringify(body);
    res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text),
      'X-Content-Type-Options': 'nosniff', 'Cache-Control': 'no-store', ...extra });
    res.end(text);
  };
  const server = createServer((req, res) => {
    const path = (req.url ?? '').split('?')[0];
    const sinceMs = Date.now() - Number(Atomics.load(beat, 0));
    const stalled = sinceMs > staleMs;
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      // RFC 9110 §15.5.6: a 405 must carry Allow.
      answer(res, 405, { error: 'method not allowed', details: { allowed: ['GET', 'HEAD'] } }, { Allow: 'GET, HEAD' });
    } else if (path === '/v2/health/live') {
      if (stalled) answer(res, 503, { error: 'not live: the serving event loop has stalled', details: { sinceMs } });
      else answer(res, 200, { live: true });
    } else if (path === '/v2/health/ready') {
      const draining = Atomics.load(flags, 1) === 1;
      if (stalled || draining || Atomics.load(flags, 0) !== 1) {
        answer(res, 503, { error: 'not ready', details: { draining, stalled } });
      } else answer(res, 200, { ready: true });
    } else answer(res, 404, { error: 'not found', details: { path, served: ['/v2/health/live', '/v2/health/ready'] } });
  });
  server.on('error', (error) => parentPort?.postMessage({ error: error.message }));
  server.listen(port, host, () => {
    const address = server.address();
    parentPort?.postMessage({ port: typeof address === 'object' && address ? address.port : port });
  });
}

/**
 * Starts the probe thread and its heartbeat; resolves once it listens.
 *
 * @example
 *   const health = await startHealthPort({ host: '0.0.0.0', port: 8081, staleMs: 5000, state: () => ({ ready: true,
 *     draining: false }) });
 */
export async function startHealthPort(options: HealthPortOptions): Promise<HealthPort> {
  const flags = new Int32Array(new SharedArrayBuffer(2 * Int32Array.BYTES_PER_ELEMENT));
  const beat = new BigInt64Array(new SharedArrayBuffer(BigInt64Array.BYTES_PER_ELEMENT));
  const publish = () => {
    const state = options.state();
    Atomics.store(flags, READY, state.ready ? 1 : 0);
    Atomics.store(flags, DRAINING, state.draining ? 1 : 0);
    Atomics.store(beat, 0, BigInt(Date.now()));
  };
  publish();
  const data: ThreadData = { host: options.host, port: options.port, staleMs: options.staleMs, flags, beat };
  // tsx (esbuild keepNames) wraps named functions in __name(fn, 'name'), a helper of this module's
  // scope that the thread's source text lacks: an identity stands in for it.
  const worker = new Worker(`const __name = (fn) => fn; (${probeThread.toString()})()`, { eval: true,
    workerData: data });
  const [message] = (await Promise.race([once(worker, 'message'), once(worker, 'error').then(([error]) => {
    throw error;
  })])) as [{ port?: number; error?: string }];
  if (message.port === undefined) {
    await worker.terminate();
    throw new Error(`health port ${options.host}:${options.port}: ${message.error}`);
  }
  const timer = setInterval(publish, HEARTBEAT_MS);
  timer.unref();
  worker.unref();
  return {
    port: message.port,
    refresh: publish,
    close: async () => {
      clearInterval(timer);
      await worker.terminate();
    },
  };
}

import { createRng } from '../data/index.js';
import { allowedHostsOf, MODEL_NAMES } from './config.js';
import type { ServeApp } from './app.js';

// Warm-up before the server listens, as Triton's model_warmup and TF Serving's warmup requests
// do: predict requests through the whole app (routing, validation, batching, every served model),
// so that V8 has compiled the hot paths and the engine has sized its buffers before the first
// client waits on them. Measured: a cold server's first two seconds under 512 connections at a
// 250 ms deadline gave ~1,500 slow 503s, ~200 504s and late answers; after three seconds of
// traffic, none (reports/overload/accept-first.md).

/** Requests the warm-up keeps in flight: enough for the batcher to form full batches. */
const WARMUP_CONCURRENCY = 32;
/** Instances per warm-up request, cycled: single rows as most clients send, and small batches. */
const WARMUP_ROWS = [1, 1, 1, 8];

/** The warm-up's own requests: the access log and the request metrics leave them out. */
const warmupRequests = new WeakSet<Request>();

export function isWarmupRequest(request: Request): boolean {
  return warmupRequests.has(request);
}

/** Deterministic rows in [0, 1): every model path is exercised the same way on every start. */
function warmupBody(inputSize: number, rows: number, seed: number): string {
  const rng = createRng(seed);
  return JSON.stringify({ instances: Array.from({ length: rows }, () =>
    Array.from({ length: inputSize }, () => Math.round(rng() * 1000) / 1000)) });
}

/**
 * Sends predict requests to every model the current bundle serves, through `served.app`, for
 * `ms` milliseconds; returns how many were answered 200. Answers other than 200 are not errors
 * here (a model may refuse a row), but the caller logs the count.
 */
export async function warmUp(served: ServeApp, ms: number): Promise<{ requests: number; ok: number }> {
  if (ms <= 0) return { requests: 0, ok: 0 };
  const set = served.context.registry.current;
  const models = MODEL_NAMES.filter((name) => set.has(name));
  const host = allowedHostsOf(served.context.config)?.[0] ?? 'localhost';
  const until = performance.now() + ms;
  let requests = 0;
  let ok = 0;
  const worker = async (lane: number) => {
    for (let i = lane; performance.now() < until; i += WARMUP_CONCURRENCY) {
      const request = new Request(`http://${host}/v1/models/${models[i % models.length]}/predict`, {
        method: 'POST', headers: { 'content-type': 'application/json' },
        body: warmupBody(set.inputSize, WARMUP_ROWS[i % WARMUP_ROWS.length], i + 1) });
      warmupRequests.add(request);
      const response = await served.app.fetch(request);
      await response.arrayBuffer();
      requests++;
      if (response.status === 200) ok++;
    }
  };
  if (models.length > 0) await Promise.all(Array.from({ length: WARMUP_CONCURRENCY }, (_, lane) => worker(lane)));
  return { requests, ok };
}

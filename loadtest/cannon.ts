import autocannon from 'autocannon';
import { median } from '../src/bench/index.js';
import type { Measurement } from './budget.js';
import type { LoadSettings } from './options.js';

export type { Measurement } from './budget.js';

// One load level against one endpoint: a warm-up, then a fixed-duration autocannon run whose
// every response time is kept, so percentiles are exact rather than autocannon's whole-ms buckets.

export interface Endpoint {
  /** Origin of the server, http://127.0.0.1:port. */
  url: string;
  path: string;
  /** Request bodies, cycled through in order (each connection takes the next one). */
  bodies: readonly Buffer[];
  /** Headers beside Content-Type: application/json (which these may replace). */
  headers?: Record<string, string>;
}

/** autocannon reports per sampling tick; a short tick lets sub-second durations end on time. */
const SAMPLE_MS = 100;

/** Nearest-rank percentile of ascending values. */
export function percentile(sorted: Float64Array, p: number): number | null {
  if (sorted.length === 0) return null;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

/** One autocannon run, each answer reported to `onResponse` as it lands. */
export function fire(endpoint: Endpoint, connections: number, durationS: number, settings: LoadSettings,
  onResponse?: (status: number, ms: number) => void): Promise<autocannon.Result> {
  let next = 0;
  const options: autocannon.Options = {
    url: endpoint.url,
    connections,
    duration: durationS,
    // Bounded in count too: autocannon stops a connection after its share of this.
    maxOverallRequests: Math.max(connections, settings.maxRequests),
    timeout: settings.timeoutS,
    sampleInt: SAMPLE_MS,
    requests: [{
      method: 'POST',
      path: endpoint.path,
      headers: { 'content-type': 'application/json', ...endpoint.headers },
      setupRequest: (request) => ({ ...request, body: endpoint.bodies[next++ % endpoint.bodies.length] }),
    }],
  };
  return new Promise((resolve, reject) => {
    const instance = autocannon(options, (error, result) => (error ? reject(error) : resolve(result)));
    if (onResponse) instance.on('response', (_client, status, _bytes, ms) => onResponse(status, ms));
  });
}

/**
 * Warm-up at the same load (not recorded), then `settings.durationS` measured.
 *
 * @example
 *   const m = await measure({ url: 'http://127.0.0.1:8080', path: '/v1/models/student/predict', bodies }, 32,
 *     settings);
 *   console.log(m.rps, m.latencyMs.p99);
 */
export async function measure(endpoint: Endpoint, connections: number, settings: LoadSettings): Promise<Measurement> {
  if (endpoint.bodies.length === 0) throw new Error(`measure ${endpoint.path}: no request bodies`);
  if (settings.warmupS > 0) await fire(endpoint, connections, settings.warmupS, settings);
  // Sized for the request cap, so recording never allocates during the run.
  const latencies = new Float64Array(Math.max(connections, settings.maxRequests) + connections);
  let count = 0;
  const result = await fire(endpoint, connections, settings.durationS, settings, (_status, ms) => {
    if (count < latencies.length) latencies[count++] = ms;
  });
  const sorted = latencies.slice(0, count).sort();
  const mean = count === 0 ? null : sorted.reduce((a, b) => a + b, 0) / count;
  const statusCodes = Object.fromEntries(
    Object.entries(result.statusCodeStats ?? {}).map(([code, stats]) => [code, (stats as { count: number }).count]),
  );
  const ok = result['2xx'];
  return {
    connections,
    seconds: result.duration,
    ok,
    rps: result.duration > 0 ? ok / result.duration : 0,
    latencyMs: { mean, p50: percentile(sorted, 50), p90: percentile(sorted, 90), p99: percentile(sorted, 99),
      p999: percentile(sorted, 99.9), max: count ? sorted[count - 1] : null },
    errors: result.errors,
    timeouts: result.timeouts,
    non2xx: result.non2xx,
    statusCodes,
  };
}

/**
 * Several runs of one cell as one: the median of each rate and percentile (timings on a shared
 * 2-core machine are noisy), failures and answers summed, since a failure must never be averaged away.
 */
export function medianOf(runs: readonly Measurement[]): Measurement {
  if (runs.length === 0) throw new Error('medianOf: no runs');
  const mid = (read: (m: Measurement) => number | null) => {
    const values = runs.map(read).filter((x): x is number => x !== null);
    return values.length ? median(values) : null;
  };
  const sum = (read: (m: Measurement) => number) => runs.reduce((total, m) => total + read(m), 0);
  const statusCodes: Record<string, number> = {};
  for (const run of runs) {
    for (const [code, n] of Object.entries(run.statusCodes)) statusCodes[code] = (statusCodes[code] ?? 0) + n;
  }
  return {
    connections: runs[0].connections,
    seconds: sum((m) => m.seconds),
    ok: sum((m) => m.ok),
    rps: mid((m) => m.rps) ?? 0,
    latencyMs: {
      mean: mid((m) => m.latencyMs.mean),
      p50: mid((m) => m.latencyMs.p50),
      p90: mid((m) => m.latencyMs.p90),
      p99: mid((m) => m.latencyMs.p99),
      p999: mid((m) => m.latencyMs.p999),
      max: Math.max(...runs.map((m) => m.latencyMs.max ?? 0)),
    },
    errors: sum((m) => m.errors),
    timeouts: sum((m) => m.timeouts),
    non2xx: sum((m) => m.non2xx),
    statusCodes,
  };
}

import { type ChildProcess, fork } from 'node:child_process';
import { once } from 'node:events';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { lineSpec, markdownTable, renderSvg, type Series } from '../src/report/index.js';
import { writeAtomic, writeJson } from '../src/files/index.js';
import { fire, percentile } from './cannon.js';
import { LoadSchema } from './options.js';
import { loadTestData, predictBodies } from './payloads.js';
import type { Probe } from './probe.js';
import { runPreamble } from './report.js';
import { startChild, TSX } from './servers.js';
import { machineRecord, type MachineRecord } from './machine.js';

// Overload: far more connections than the server can keep within its deadline, and a liveness
// prober on fresh connections beside them. Passes when overload turns into fast 503s rather than
// slow answers, and the probe never waits behind the model queue.

export const OverloadOptionsSchema = z.object({
  bundleDir: z.string().min(1).default('models/default'),
  model: z.enum(['student', 'generalist', 'ensemble']).default('ensemble'),
  connections: z.coerce.number().int().min(1).max(4096).default(512),
  durationS: z.coerce.number().positive().max(600).default(15),
  /** The server's --deadline-ms: every 2xx must come within it. */
  deadlineMs: z.coerce.number().int().positive().default(5000),
  /** A refusal slower than this is no better than a queue. */
  refusalBudgetMs: z.coerce.number().positive().default(50),
  /** A liveness probe slower than this risks a kubelet's timeout (1 s) on a busier machine. */
  probeBudgetMs: z.coerce.number().positive().default(100),
  probeEveryMs: z.coerce.number().int().positive().default(100),
  /** Distinct test rows the requests carry, in bodies of `rowsPerRequest`. */
  payloads: z.coerce.number().int().min(1).max(100_000).default(2000),
  /**
   * Instances in each request: more make each request costlier, so the same connections overload
   * the server past its deadline and it must shed. At most the server's default --max-instances.
   */
  rowsPerRequest: z.coerce.number().int().min(1).max(256).default(1),
  /** The server's --accept-first-ms; its own default when absent. */
  acceptFirstMs: z.coerce.number().int().min(0).max(60_000).optional(),
});
export type OverloadOptions = z.infer<typeof OverloadOptionsSchema>;
export type OverloadInput = z.input<typeof OverloadOptionsSchema>;

export interface LatencySummary {
  count: number;
  p50: number | null;
  p99: number | null;
  max: number | null;
}
export type ProbeSummary = LatencySummary & { failed: number };

export interface OverloadResult {
  date: string;
  machine: MachineRecord;
  options: OverloadOptions;
  path: string;
  statusCodes: Record<string, number>;
  /** Answers by class: latency of what a client got. */
  ok: LatencySummary;
  refused: LatencySummary;
  other: LatencySummary;
  errors: number;
  timeouts: number;
  /** Fresh-connection liveness probes on the API port and on the probe port (--health-port). */
  probes: { api: Probe[]; healthPort: Probe[] };
  probe: { api: ProbeSummary; healthPort: ProbeSummary };
  /**
   * 2xx as the server timed them (from header arrival, its own histogram): answered, and how many
   * took longer than `boundSeconds` (the smallest histogram bucket at or past the deadline).
   */
  serverSide: { answered: number; overBound: number; boundSeconds: number } | null;
  /** 2xx slower than the deadline, 503s slower than the refusal budget: each should be 0. */
  lateOk: number;
  slowRefusals: number;
  /** 200 concurrent requests, one with a row of ±1e38 that overflows the models: what each got. */
  poison: PoisonResult;
  targets: { target: string; value: string; met: boolean }[];
}

export interface PoisonResult {
  requests: number;
  poisonStatus: number;
  innocentStatuses: Record<string, number>;
}

/**
 * `count` concurrent single-row requests, the middle one a row of ±1e38 (finite float32, overflowing in the first
 * layer).
 */
async function poisonBurst(url: string, path: string, bodies: readonly Buffer[], count: number): Promise<PoisonResult> {
  const width = (JSON.parse(bodies[0].toString()) as { instances: number[][] }).instances[0].length;
  const poison = Buffer.from(
    JSON.stringify({ instances: [Array.from({ length: width }, (_, i) => (i % 2 ? 1e38 : -1e38))] }),
  );
  const at = Math.floor(count / 2);
  const statuses = await Promise.all(
    Array.from({ length: count }, (_, i) =>
      fetch(`${url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' },
        body: (i === at ? poison : bodies[i % bodies.length]).toString() }).then(async (res) => {
          await res.arrayBuffer();
          return res.status;
        }, () =>
          0)),
  );
  const innocentStatuses: Record<string, number> = {};
  statuses.forEach((status, i) => {
    if (i !== at) innocentStatuses[status] = (innocentStatuses[status] ?? 0) + 1;
  });
  return { requests: count, poisonStatus: statuses[at], innocentStatuses };
}

function summarizeProbes(probes: Probe[]): ProbeSummary {
  const answered = probes.flatMap((p) => (p.ms === null || p.status !== 200 ? [] : [p.ms]));
  return { ...summarize(answered), count: probes.length, failed: probes.length - answered.length };
}

function summarize(values: number[]): LatencySummary {
  const sorted = Float64Array.from(values).sort();
  return { count: sorted.length, p50: percentile(sorted, 50), p99: percentile(sorted, 99),
    max: sorted.length ? sorted[sorted.length - 1] : null };
}

const PROBE = fileURLToPath(new URL('./probe.ts', import.meta.url));

/** The child's next message; rejects if it exits first, so a prober that dies cannot hang the test. */
async function nextMessage<T>(child: ChildProcess): Promise<T> {
  const exited = once(child, 'exit').then(([code]) => {
    throw new Error(`a prober exited (${String(code)}) before it answered`);
  });
  const [message] = (await Promise.race([once(child, 'message'), exited])) as [T];
  return message;
}

/** Prober processes, one per url, booted and waiting: `run()` starts their probes and resolves with them. */
async function bootProbers(urls: string[], everyMs: number,
  durationS: number): Promise<{ run: () => Promise<Probe[][]>; kill: () => void }> {
  const children = urls.map((url) => fork(PROBE, [url, String(everyMs), String(durationS)],
    { execArgv: ['--import', TSX], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }));
  const kill = () => children.forEach((child) => child.exitCode === null && child.kill());
  try {
    await Promise.all(children.map((child) => nextMessage(child)));
  } catch (error) {
    kill();
    throw error;
  }
  return {
    run: () => Promise.all(children.map(async (child) => {
      child.send({ type: 'start' });
      return (await nextMessage<{ probes: Probe[] }>(child)).probes;
    })),
    kill,
  };
}

/** Sums the 2xx series of the server's latency histogram for `path`, from its /metrics text. */
export function serverLatency(metrics: string, endpoint: string,
  deadlineSeconds: number): OverloadResult['serverSide'] {
  const buckets = new Map<number, number>();
  let answered = 0;
  for (const line of metrics.split('\n')) {
    if (!line.includes(`endpoint="${endpoint}"`) || !/code="2\d\d"/.test(line)) continue;
    const value = Number(line.slice(line.lastIndexOf(' ') + 1));
    if (line.startsWith('serve_request_duration_seconds_count')) answered += value;
    const le = /^serve_request_duration_seconds_bucket\{.*le="([^"]+)"/.exec(line)?.[1];
    if (le !== undefined && le !== '+Inf') buckets.set(Number(le), (buckets.get(Number(le)) ?? 0) + value);
  }
  const bound = [...buckets.keys()].sort((a, b) => a - b).find((le) => le >= deadlineSeconds);
  if (bound === undefined || answered === 0) return null;
  return { answered, overBound: answered - (buckets.get(bound) ?? 0), boundSeconds: bound };
}

const ms = (value: number | null) => (value === null ? '—' : `${value.toFixed(1)} ms`);

function verdicts(o: OverloadOptions,
  r: Pick<OverloadResult,
    'ok' | 'refused' | 'other' | 'errors' | 'timeouts' | 'probe' | 'lateOk' | 'slowRefusals'
      | 'poison'>): OverloadResult['targets'] {
  const innocentFailures = Object.entries(r.poison.innocentStatuses).filter(([status]) => status !== '200').reduce(
    (n, [, count]) => n + count,
    0,
  );
  return [{
    target: `a ±1e38 row among ${r.poison.requests} concurrent requests fails no other request`,
    value: `${innocentFailures} of ${r.poison.requests - 1} others failed; the row itself got ${r.poison.poisonStatus}`,
    met: innocentFailures === 0 && r.poison.poisonStatus !== 500 && r.poison.poisonStatus !== 0,
  }, { target: `every 2xx within the deadline (${o.deadlineMs} ms)`,
    value: `${r.lateOk} of ${r.ok.count} late; max ${ms(r.ok.max)}`, met: r.lateOk === 0 }, {
    target: `every 503 within ${o.refusalBudgetMs} ms`,
    value: `${r.slowRefusals} of ${r.refused.count} slower; p99 ${ms(r.refused.p99)}, max ${ms(r.refused.max)}`,
    met: r.slowRefusals === 0,
  }, { target: 'no other answers, errors or timeouts',
    value: `${r.other.count} other, ${r.errors} errors, ${r.timeouts} timeouts`,
    met: r.other.count === 0 && r.errors === 0 && r.timeouts === 0 },
    ...(['healthPort', 'api'] as const).map((where) => {
      const p = r.probe[where];
      return {
        target: `/v2/health/live on a new connection to the ${
          where === 'api' ? 'API port' : 'probe port (--health-port)'
        } within ${o.probeBudgetMs} ms throughout`,
        value: `max ${ms(p.max)}, p99 ${ms(p.p99)}, ${p.failed} failed of ${p.count}`,
        met: p.failed === 0 && (p.max ?? Infinity) <= o.probeBudgetMs,
      };
    })];
}

/**
 * Starts a server on the bundle (deadline as given), loads one model endpoint with
 * `connections` for `durationS` while a separate process probes liveness, and judges the answers.
 */
export async function runOverload(input: OverloadInput,
  log: (line: string) => void = () => {}): Promise<OverloadResult> {
  const options = OverloadOptionsSchema.parse(input);
  const loadavgAtStart = loadavg();
  const { split } = await loadTestData(options.bundleDir);
  const bodies = predictBodies(split, Math.ceil(options.payloads / options.rowsPerRequest), options.rowsPerRequest);
  const server = await startChild({ kind: 'model',
    config: { bundleDir: options.bundleDir, logLevel: 'warn', healthPort: 0,
      batching: { deadlineMs: options.deadlineMs },
      ...(options.acceptFirstMs === undefined ? {} : { limits: { acceptFirstMs: options.acceptFirstMs } }) } });
  const path = `/v1/models/${options.model}/predict`;
  const answers: Record<'ok' | 'refused' | 'other', number[]> = { ok: [], refused: [], other: [] };
  let probers: Awaited<ReturnType<typeof bootProbers>> | undefined;
  try {
    // Single-row requests: the burst tests isolation within a batch, not load.
    const poison = await poisonBurst(server.url, path, predictBodies(split, 200), 200);
    log(
      `${options.connections} connections on ${path} for ${options.durationS} s, probing ` +
        `${server.url}/v2/health/live every ${options.probeEveryMs} ms`,
    );
    const settings = LoadSchema.parse({ durationS: options.durationS,
      timeoutS: Math.max(10, (options.deadlineMs / 1000) * 3) });
    probers = await bootProbers([server.url, server.healthUrl].map((url) => `${url}/v2/health/live`),
      options.probeEveryMs, options.durationS);
    const [result, [api, healthPort]] = await Promise.all([
      fire({ url: server.url, path, bodies }, options.connections, options.durationS, settings, (status, took) => {
        answers[status >= 200 && status < 300 ? 'ok' : status === 503 ? 'refused' : 'other'].push(took);
      }),
      probers.run(),
    ]);
    const serverSide = serverLatency(await (await fetch(`${server.url}/metrics`)).text(), '/v1/models/:model/predict',
      options.deadlineMs / 1000);
    const statusCodes = Object.fromEntries(
      Object.entries(result.statusCodeStats ?? {}).map(([code, stats]) => [code, (stats as { count: number }).count]),
    );
    const partial = {
      ok: summarize(answers.ok),
      refused: summarize(answers.refused),
      other: summarize(answers.other),
      errors: result.errors,
      timeouts: result.timeouts,
      probe: { api: summarizeProbes(api), healthPort: summarizeProbes(healthPort) },
      lateOk: answers.ok.filter((t) => t > options.deadlineMs).length,
      poison,
      slowRefusals: answers.refused.filter((t) => t > options.refusalBudgetMs).length,
    };
    return {
      date: new Date().toISOString(),
      machine: machineRecord(loadavgAtStart),
      options,
      path,
      statusCodes,
      serverSide,
      probes: { api, healthPort },
      ...partial,
      targets: verdicts(options, partial),
    };
  } finally {
    probers?.kill();
    await server.close();
  }
}

export function overloadMarkdown(r: OverloadResult): string {
  const row = (name: string, s: LatencySummary) => [name, s.count, s.p50, s.p99, s.max];
  const perRequest = r.options.rowsPerRequest > 1 ? `, ${r.options.rowsPerRequest} instances a request` : '';
  return [`# Overload: ${r.options.connections} connections on ${r.path}${perRequest} for ${r.options.durationS} s`, '',
    ...runPreamble(r.date, r.machine), '',
    `Poison first: ${r.poison.requests} concurrent requests, one of them a row of ±1e38 (finite float32, ` +
      `overflowing the first layer): it got ${r.poison.poisonStatus}; the others: ` +
      `${Object.entries(r.poison.innocentStatuses).map(([c, n]) => `${c} × ${n}`).join(', ')}.`, '',
    `Server: one process, default limits${
      r.options.acceptFirstMs === undefined ? '' : ` but \`--accept-first-ms ${r.options.acceptFirstMs}\``
    }, \`--deadline-ms ${r.options.deadlineMs}\`, \`--health-port\` on. ` +
      `Probes come from their own processes, each on a fresh connection every ${r.options.probeEveryMs} ms. ` +
      `Status codes: ${Object.entries(r.statusCodes).map(([c, n]) => `${c} × ${n}`).join(', ')}.`, '',
    markdownTable(['answers', 'count', 'p50 ms', 'p99 ms', 'max ms'], [row('2xx', r.ok), row('503', r.refused),
      row('other', r.other), row('liveness probe, API port', r.probe.api),
      row('liveness probe, probe port', r.probe.healthPort)]), '',
    r.serverSide ?
      `As the server timed them (from the arrival of their headers, its own histogram): ${r.serverSide.answered} ` +
        `2xx, ${r.serverSide.overBound} of them over ${r.serverSide.boundSeconds} s. ` +
      "A client's clock also counts the time a new connection waits to be accepted: Node accepts one connection per " +
        "turn of its event loop " +
      '(libuv ≥ 1.45, libuv/libuv#3696). The server starts at most `--requests-per-turn` requests a turn (default ' +
        '64) so turns stay short under load' + (r.options.acceptFirstMs === 0 ?
          ', and this run turned off accepting bursts first (`--accept-first-ms 0`), so a probe opened while ' +
            `the load generator opens its ${r.options.connections} connections waits behind them.` :
          `, and while every turn accepts a connection (the burst of ${r.options.connections} the load ` +
            'generator opens at once) it starts no more, for at most `--accept-first-ms` at a stretch: such ' +
            'turns take ~0.2 ms, so a probe opened during the burst is not left behind hundreds of turns of work.') :
      "The server's own latency histogram could not be read.", '', '## Targets', '',
    markdownTable(['target', 'measured', 'met'], r.targets.map((t) => [t.target, t.value, t.met ? 'yes' : '**no**'])),
    '', 'Probe latency over the run: [probes.svg](probes.svg).', ''].join('\n');
}

/** summary.json, summary.md and probes.svg under `dir`; returns the Markdown. */
export async function writeOverloadReport(result: OverloadResult, dir: string): Promise<string> {
  const markdown = overloadMarkdown(result);
  const points: Series[] = (['api', 'healthPort'] as const).flatMap((where) =>
    result.probes[where].flatMap((
      p,
    ) => (p.ms === null ? [] : [{ series: where === 'api' ? 'API port' : 'probe port', x: p.atMs / 1000, y: p.ms }]))
  );
  points.push({ series: 'budget', x: 0, y: result.options.probeBudgetMs }, { series: 'budget',
    x: result.options.durationS, y: result.options.probeBudgetMs });
  await writeJson(join(dir, 'summary.json'), result);
  await writeAtomic(join(dir, 'summary.md'), markdown);
  await writeAtomic(join(dir, 'probes.svg'),
    await renderSvg(
      lineSpec(points, 'seconds into the run', 'ms', `/v2/health/live under ${result.options.connections} connections`,
        true),
    ));
  return markdown;
}

import { join } from 'node:path';
import type { TopLevelSpec } from 'vega-lite';
import { type Cell as TableCell, lineSpec, markdownTable, renderSvg, type Series } from '../src/report/index.js';
import { writeAtomic, writeJson } from '../src/files/index.js';
import type { LoadtestResult } from './sweep.js';
import type { MachineRecord } from './machine.js';
import type { TargetVerdict } from './targets.js';

// reports/loadtest/: summary.json (everything measured), summary.md (the tables), sweep.svg.

/** When and where a run happened, then why its absolute numbers need care: every report starts so. */
export function runPreamble(date: string, machine: MachineRecord): string[] {
  return [
    `${date.slice(0, 16).replace('T', ' ')} UTC; ${machine.cpus} × ${machine.cpuModel}; load average at start ` +
    `${machine.loadavgAtStart.map((l) => l.toFixed(2)).join(' / ')}; node ${machine.node}.`,
    '',
    sharedMachineNote(machine.cpus),
  ];
}

export function sharedMachineNote(cpus: number): string {
  return `**The load generator (autocannon) runs on the same ${cpus}-core machine as the servers it loads**, ` +
    'so every number is what the server gets from the cores the load generator leaves it, and other jobs on the ' +
    'machine add noise. Ratios measured within this one run (endpoint / trivial route, batching on / off, ensemble / ' +
      'student) ' +
    'are the numbers that carry over to other machines; absolute rps and latencies do not.';
}

const met = (m: boolean | null) => (m === null ? 'not measured' : m ? 'met' : '**missed**');

export function targetsTable(targets: readonly TargetVerdict[]): string {
  return markdownTable(['target', 'value', 'threshold', 'verdict'],
    targets.map((t) => [t.target, t.value, t.threshold, met(t.met)]));
}

const order = (result: LoadtestResult, endpoint: string) => result.cells.findIndex((c) => c.endpoint === endpoint);

export function sweepTable(result: LoadtestResult): string {
  return markdownTable(
    ['endpoint', 'conns', 'rps', '× trivial', 'p50 ms', 'p90 ms', 'p99 ms', 'p99.9 ms', 'errors', 'timeouts',
      'non-2xx'],
    // Endpoint by endpoint in the order they were measured, each over its load levels.
    [...result.cells].sort((a, b) =>
      order(result, a.endpoint) - order(result, b.endpoint) || a.connections - b.connections
    ).map((c): TableCell[] => {
      const m = c.measurement;
      return [c.endpoint, c.connections, m.rps, c.rpsRatio, m.latencyMs.p50, m.latencyMs.p90, m.latencyMs.p99,
        m.latencyMs.p999, m.errors, m.timeouts, m.non2xx];
    }),
  );
}

export function loadtestMarkdown(result: LoadtestResult): string {
  const { load, server } = result;
  const batching = (b: { maxBatchSize: number; maxQueueDelayMs: number }) =>
    `max batch ${b.maxBatchSize}, max queue delay ${b.maxQueueDelayMs} ms`;
  const lines = [
    `# Load test: ${result.bundle.name} (${result.bundle.dataset}, ${result.bundle.classes} classes)${
      result.quick ? ' — quick mode' : ''
    }`,
    '',
    ...runPreamble(result.date, result.machine),
    '',
    `Each cell: ${
      load.warmupS > 0 ? `${load.warmupS} s of the same load as warm-up (not recorded), then ` : 'no warm-up, then '
    }${load.durationS} s measured (at most ${load.maxRequests} requests; ` +
    `timeout ${load.timeoutS} s); the whole sweep ran ${result.rounds} time${result.rounds > 1 ? 's' : ''}, ` +
    'each cell shows the median of its runs (failures summed). ' +
    `Every request is one instance, a row of the real test split (${result.payloads} rows cycled). ` +
    'Connections go level by level, every endpoint in turn. Each server runs in its own process on 127.0.0.1; ' +
    (server.url ?
      `the models are served by ${server.url}, started elsewhere, with whatever batching and logging it was given. ` :
      `batching on: ${batching(server.batchingOn)}${
        server.batchingOff ? `; off: ${batching(server.batchingOff)}` : ''
      }; server log level ${server.logLevel} (no access log, like the trivial route). `) +
    '`× trivial` is rps over that of the trivial route (parses the same body, answers a constant) at the same ' +
      'connections. ' +
    'Latency percentiles are over every answer; rps counts 2xx answers.',
    '',
    '## Sweep',
    '',
    sweepTable(result),
    '',
  ];
  if (result.batching.length > 0) {
    lines.push('## Dynamic batching on vs off, same load, same run', '',
      markdownTable(['model', 'conns', 'rps on', 'rps off', 'on / off'],
        result.batching.map((b) => [b.model, b.connections, b.rpsOn, b.rpsOff, b.speedup])), '');
  }
  lines.push('## Targets', '', targetsTable(result.targets), '');
  if (result.budgets.length > 0) {
    lines.push(`## Budgets: ${result.passed ? 'all met' : '**missed**'}`, '',
      markdownTable(['budget', 'endpoint', 'conns', 'value', 'limit', 'verdict'],
        result.budgets.map((
          b,
        ) => [b.budget, b.endpoint, b.connections || 'any', b.value, b.limit, b.ok ? 'met' : '**missed**'])), '');
  }
  lines.push('![rps and latency percentiles against connections, per endpoint](sweep.svg)');
  return lines.join('\n');
}

/** One panel of the plot: lineSpec with connections on a log₂ axis, sized for a 2 × 2 grid. */
function panel(points: Series[], yTitle: string, title: string, logY: boolean): object {
  const spec = lineSpec(points, 'connections', yTitle, title, logY) as unknown as { $schema?: string; width: number;
    height: number; encoding: { x: { scale?: object }; color: { legend?: object } } };
  delete spec.$schema;
  spec.encoding.x.scale = { type: 'log', base: 2 };
  // Endpoint names like "ensemble (batching off)" are longer than vega's default label limit.
  spec.encoding.color.legend = { labelLimit: 400 };
  spec.width = 340;
  spec.height = 220;
  return spec;
}

export async function loadtestSvg(result: LoadtestResult): Promise<string> {
  const series = (read: (c: LoadtestResult['cells'][number]) => number | null): Series[] =>
    result.cells.flatMap((c) => {
      const y = read(c);
      return y === null || !(y > 0) ? [] : [{ series: c.endpoint, x: c.connections, y }];
    });
  const spec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    columns: 2,
    concat: [panel(series((c) => c.measurement.rps), 'requests / s (2xx)', 'Throughput', false),
      panel(series((c) => c.measurement.latencyMs.p50), 'ms', 'Latency p50', true),
      panel(series((c) => c.measurement.latencyMs.p99), 'ms', 'Latency p99', true),
      panel(series((c) => c.measurement.latencyMs.p999), 'ms', 'Latency p99.9', true)],
  } as unknown as TopLevelSpec;
  return renderSvg(spec);
}

/** Writes summary.json, summary.md and sweep.svg under `dir`; returns the Markdown. */
export async function writeLoadtestReport(result: LoadtestResult, dir: string): Promise<string> {
  const markdown = loadtestMarkdown(result);
  await writeJson(join(dir, 'summary.json'), result);
  await writeAtomic(join(dir, 'summary.md'), `${markdown}\n`);
  await writeAtomic(join(dir, 'sweep.svg'), await loadtestSvg(result));
  return markdown;
}

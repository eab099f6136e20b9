import { join } from 'node:path';
import { barSpec, type Cell, markdownTable, renderSvg } from '../../src/report/index.js';
import { writeAtomic, writeJson } from '../../src/files/index.js';
import { runPreamble, targetsTable } from '../report.js';
import type { LedgerCheck } from './check.js';
import type { AbResult } from './run.js';

// reports/ab/: summary.json, summary.md (student and ensemble side by side), latency.svg.

const percent = (x: number | null) => (x === null ? null : `${(x * 100).toFixed(2)}%`);
const ratio = (a: number | null, b: number | null) => (a === null || b === null || b === 0 ? null : a / b);

export function sideBySideTable(result: AbResult): string {
  const { student: s, ensemble: e } = result.models;
  const c = result.connections;
  const rows: Cell[][] = [[`test accuracy through the API (${result.examples} examples)`, percent(s.accuracy),
    percent(e.accuracy), ratio(e.accuracy, s.accuracy)], ['correct answers', s.correct, e.correct, null], [
    "the pipeline's offline accuracy (manifest)",
    percent(s.offlineAccuracy),
    percent(e.offlineAccuracy),
    null,
  ], [`p50 latency at ${c} connections (ms)`, s.load.latencyMs.p50, e.load.latencyMs.p50, result.cost.p50], [
    `p99 latency at ${c} connections (ms)`,
    s.load.latencyMs.p99,
    e.load.latencyMs.p99,
    result.cost.p99,
  ], [`rps at ${c} connections`, s.load.rps, e.load.rps, ratio(e.load.rps, s.load.rps)], [
    `errors + non-2xx at ${c} connections`,
    s.load.errors + s.load.non2xx,
    e.load.errors + e.load.non2xx,
    null,
  ], ['specialists run per example', null, e.meanActiveSpecialists, null], [
    'weights used per example (≈ multiply-adds)',
    s.parametersPerExample,
    e.parametersPerExample,
    result.cost.parameters,
  ]];
  return markdownTable(['', 'student', 'ensemble', 'ensemble / student'], rows);
}

function checksTable(checks: readonly LedgerCheck[]): string {
  const show = (check: string,
    x: number | null) => (x === null ? null : /accuracy|agreement|fraction/.test(check) ? x.toFixed(4) : x);
  return markdownTable(['check', 'reported', 'expected', 'allowed difference', 'verdict'],
    checks.map((
      c,
    ) => [c.check, show(c.check, c.reported), show(c.check, c.expected), c.allowed,
      c.ok ? 'agrees' : '**disagrees**']
    ));
}

export function abMarkdown(result: AbResult): string {
  const { load, cost } = result;
  const times = (x: number | null) => (x === null ? '—' : `${x.toFixed(2)}×`);
  const ledgerLatency = markdownTable(['variant', 'requests', 'p50 ms', 'p90 ms', 'p99 ms'],
    Object.entries(result.ab.counts).map((
      [v, c],
    ) => [v, c.requests, c.latencyMs.p50, c.latencyMs.p90, c.latencyMs.p99]));
  return [
    `# A/B comparison: student vs ensemble — ${result.bundle.name} ` +
      `(${result.bundle.dataset}, ${result.bundle.classes} classes)${result.quick ? ' — quick mode' : ''}`,
    '',
    ...runPreamble(result.date, result.machine),
    '',
    `One server on 127.0.0.1${
      result.server.url ? ` (${result.server.url}, started elsewhere)` : ''
    }, both models behind it. Accuracy: every one of the first ` +
    `${result.examples} test examples sent through \`/v1/models/{model}/predict\` and every answer scored. Latency ` +
      `and rps: ` +
    `${result.connections} connections, single-instance requests of test rows, ${load.warmupS} s warm-up then ` +
      `${load.durationS} s, ` +
    `median of ${result.models.student.runs.length} alternating runs per model.`,
    '',
    '## Side by side',
    '',
    sideBySideTable(result),
    '',
    `Agreement: the two name the same class on **${percent(result.agreement)}** of the ${result.examples} examples.`,
    '',
    `Cost: an ensemble request costs **${
      times(cost.rps)
    }** a student request in server throughput (student rps / ensemble rps at ${result.connections} ` +
    `connections), its p99 is ${times(cost.p99)} the student's, and it multiplies ${
      times(cost.parameters)
    } as many weights per example.`,
    '',
    '## Targets',
    '',
    targetsTable(result.targets),
    '',
    `## The A/B routes against the offline numbers: ${
      result.ab.checks.every((c) => c.ok) && result.offlineChecks.every((c) => c.ok) ? 'agree' : '**disagree**'
    }`,
    '',
    `${result.ab.examples} test examples, one per \`POST /v1/ab/predict\` (x-ab-key \`ab-<i>\`; served: ` +
    `${Object.entries(result.ab.served).map(([v, n]) => `${v} ${n}`).join(', ')}; shadow runs ${
      result.server.shadow ? 'on' : 'off'
    }), ` +
    `then each true label to \`POST /v1/ab/feedback\`, in ${
      result.ab.seconds.toFixed(1)
    } s. \`GET /v1/ab/report\` before and after; ` +
    "expected values come from the direct endpoints' answers on the same examples.",
    '',
    checksTable([...result.ab.checks, ...result.offlineChecks]),
    '',
    "Server-side latency as the A/B report gives it (the A/B drive's requests, a few in flight at a time):",
    '',
    ledgerLatency,
    '',
    '![latency percentiles, student vs ensemble](latency.svg)',
  ].join('\n');
}

export async function abSvg(result: AbResult): Promise<string> {
  const bars = (['student', 'ensemble'] as const).flatMap((model) => {
    const l = result.models[model].load.latencyMs;
    return ([['p50', l.p50], ['p90', l.p90], ['p99', l.p99], ['p99.9', l.p999]] as const).flatMap((
      [category, value],
    ) => (value === null ? [] : [{ category, group: model, value }]));
  });
  return renderSvg(barSpec(bars, 'percentile', 'ms', `Latency at ${result.connections} connections`));
}

/** Writes summary.json, summary.md and latency.svg under `dir`; returns the Markdown. */
export async function writeAbReport(result: AbResult, dir: string): Promise<string> {
  const markdown = abMarkdown(result);
  await writeJson(join(dir, 'summary.json'), result);
  await writeAtomic(join(dir, 'summary.md'), `${markdown}\n`);
  await writeAtomic(join(dir, 'latency.svg'), await abSvg(result));
  return markdown;
}

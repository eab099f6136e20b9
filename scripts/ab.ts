// A/B comparison, student vs ensemble: test-set accuracy through the HTTP API (every example sent
// and scored), agreement, latency and rps at 32 connections, cost ratio; then /v1/ab/predict driven
// with feedback and /v1/ab/report checked against the offline numbers.
//   npm run ab [-- --quick] [--bundle models/default] [--url http://127.0.0.1:8080] [--examples 10000]
//     [--connections 32] [--repeats 3] [--duration 5] [--warmup 2] [--out reports/ab]
// Exits 1 when the A/B report disagrees with the offline numbers or a request failed.
import { type AbInput, QUICK_AB, runAb, withPreset, writeAbReport } from '../loadtest/index.js';
import { scriptArgs } from '../src/cli/index.js';

const { values } = scriptArgs({
  options: {
    quick: { type: 'boolean', default: false },
    bundle: { type: 'string' },
    url: { type: 'string' }, // a fresh server started with --shadow, so every variant is labelled on every example
    examples: { type: 'string' },
    chunk: { type: 'string' }, // instances per scoring request
    concurrency: { type: 'string' },
    connections: { type: 'string' },
    repeats: { type: 'string' },
    duration: { type: 'string' },
    warmup: { type: 'string' },
    payloads: { type: 'string' },
    tolerance: { type: 'string' },
    'log-level': { type: 'string' },
    out: { type: 'string' },
  },
});

try {
  const input = {
    bundleDir: values.bundle,
    url: values.url,
    examples: values.examples,
    chunk: values.chunk,
    concurrency: values.concurrency,
    connections: values.connections,
    repeats: values.repeats,
    payloads: values.payloads,
    tolerance: values.tolerance,
    logLevel: values['log-level'],
    load: { durationS: values.duration, warmupS: values.warmup },
  } as AbInput;
  // Flags left out stay undefined, so the preset and the schema's defaults fill them.
  const defined = JSON.parse(JSON.stringify(input)) as AbInput;
  const result = await runAb(withPreset<AbInput>(values.quick ? QUICK_AB : undefined, defined), console.log);
  const out = values.out ?? (values.quick ? 'reports/ab/quick' : 'reports/ab');
  console.log(`\n${await writeAbReport(result, out)}\n\nwrote ${out}/summary.md, summary.json, latency.svg`);
  if (!result.passed) {
    console.error('ab: the A/B report disagrees with the offline numbers, or requests failed: see the tables above');
    process.exitCode = 1;
  }
} catch (error) {
  console.error(`ab: ${(error as Error).message}`);
  process.exitCode = 1;
}

// Load test: the trivial route, the model endpoints, and the same with dynamic batching off, over
// connection counts, against servers this script starts on 127.0.0.1 (or the one at --url).
//   npm run loadtest [-- --quick] [--bundle models/default] [--url http://127.0.0.1:8080]
//     [--connections 1,8,32,128] [--rounds 3] [--duration 5] [--warmup 2] [--budget p99=20ms,errors=0] [--out
// reports/loadtest]
// Exits 1 when a --budget is missed. Writes summary.json, summary.md and sweep.svg under --out.
import { type LoadtestInput, parseBudgets, QUICK_LOADTEST, runLoadtest, withPreset,
  writeLoadtestReport } from '../loadtest/index.js';
import { scriptArgs } from '../src/cli/index.js';

const { values } = scriptArgs({
  options: {
    quick: { type: 'boolean', default: false },
    bundle: { type: 'string' },
    url: { type: 'string' },
    connections: { type: 'string' },
    duration: { type: 'string' }, // seconds measured per cell
    warmup: { type: 'string' }, // seconds of unrecorded load before each cell
    'max-requests': { type: 'string' },
    timeout: { type: 'string' }, // seconds before a request counts as a timeout
    payloads: { type: 'string' },
    rounds: { type: 'string' }, // passes over the sweep; cells report medians
    endpoints: { type: 'string' }, // student,generalist,ensemble
    'batching-off': { type: 'string' }, // models measured again with batching off ('' for none)
    budget: { type: 'string' },
    'max-batch-size': { type: 'string' },
    'max-queue-delay-ms': { type: 'string' },
    'log-level': { type: 'string' },
    out: { type: 'string' },
  },
});
const list = (
  text: string | undefined,
) => (text === undefined ? undefined : text.split(',').map((s) => s.trim()).filter(Boolean));

try {
  const input = {
    bundleDir: values.bundle,
    url: values.url,
    connections: list(values.connections)?.map(Number),
    endpoints: list(values.endpoints),
    batchingOff: list(values['batching-off']),
    payloads: values.payloads,
    rounds: values.rounds,
    budgets: values.budget === undefined ? undefined : parseBudgets(values.budget),
    batching: { maxBatchSize: values['max-batch-size'], maxQueueDelayMs: values['max-queue-delay-ms'] },
    logLevel: values['log-level'],
    load: { durationS: values.duration, warmupS: values.warmup, maxRequests: values['max-requests'],
      timeoutS: values.timeout },
  } as LoadtestInput;
  // Flags left out stay undefined, so the preset and the schema's defaults fill them.
  const defined = JSON.parse(JSON.stringify(input)) as LoadtestInput;
  const result = await runLoadtest(withPreset<LoadtestInput>(values.quick ? QUICK_LOADTEST : undefined, defined),
    console.log);
  const out = values.out ?? (values.quick ? 'reports/loadtest/quick' : 'reports/loadtest');
  console.log(`\n${await writeLoadtestReport(result, out)}\n\nwrote ${out}/summary.md, summary.json, sweep.svg`);
  const missed = result.budgets.filter((b) => !b.ok);
  if (missed.length > 0) {
    console.error(
      `budget missed: ${
        missed.map((b) =>
          `${b.endpoint} @${b.connections || 'any'}: ${b.budget} (got ${b.value?.toFixed(2) ?? 'nothing'})`
        ).join('; ')
      }`,
    );
    process.exitCode = 1;
  }
} catch (error) {
  console.error(`loadtest: ${(error as Error).message}`);
  process.exitCode = 1;
}

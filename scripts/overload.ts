// Overload test: many more connections than the server can answer within its deadline, with a
// liveness prober on fresh connections in its own process. Run it with nothing else on the machine.
//   npm run loadtest:overload [-- --bundle models/default] [--model ensemble] [--connections 512]
//     [--duration 15] [--deadline-ms 5000] [--accept-first-ms N] [--rows-per-request 1]
//     [--out reports/overload]
// Writes summary.json, summary.md and probes.svg under --out; exits 1 when a target is missed.
import { type OverloadInput, runOverload, writeOverloadReport } from '../loadtest/index.js';
import { scriptArgs } from '../src/cli/index.js';

const { values } = scriptArgs({
  options: {
    bundle: { type: 'string' },
    model: { type: 'string' },
    connections: { type: 'string' },
    duration: { type: 'string' },
    'deadline-ms': { type: 'string' },
    'accept-first-ms': { type: 'string' },
    'rows-per-request': { type: 'string' },
    out: { type: 'string', default: 'reports/overload' },
  },
});

try {
  const input = JSON.parse(JSON.stringify({
    bundleDir: values.bundle,
    model: values.model,
    connections: values.connections,
    durationS: values.duration,
    deadlineMs: values['deadline-ms'],
    acceptFirstMs: values['accept-first-ms'],
    rowsPerRequest: values['rows-per-request'],
  })) as OverloadInput;
  const result = await runOverload(input, console.log);
  console.log(
    `\n${await writeOverloadReport(result, values.out)}\nwrote ${values.out}/summary.md, summary.json, probes.svg`,
  );
  if (result.targets.some((t) => !t.met)) process.exitCode = 1;
} catch (error) {
  console.error(`overload: ${(error as Error).message}`);
  process.exitCode = 1;
}

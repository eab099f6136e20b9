// One command from a dataset to a served bundle:
//   npm run pipeline -- --config configs/quick.json [--out models/default] [--run runs/<name>] [--specialist s3] [--parallel 2]
// Rerunning resumes: finished stages are skipped, interrupted ones continue from their checkpoints.
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { backendFlag, flagError, parseFlags } from '../src/cli/index.js';
import { initEngine } from '../src/engine/index.js';
import { loadDataset } from '../src/data/index.js';
import { pipelineEnsemble, printSummary, readPipelineConfig, runPipeline } from '../src/pipeline/index.js';

const { values } = parseArgs({
  options: {
    config: { type: 'string', default: 'configs/quick.json' },
    out: { type: 'string' },
    run: { type: 'string' },
    specialist: { type: 'string', multiple: true },
    parallel: { type: 'string' },
    backend: { type: 'string' },
  },
});

const backend = backendFlag(values.backend);
const { parallel } = parseFlags(z.object({ parallel: z.coerce.number().int().positive().max(64).optional() }), { parallel: values.parallel });
if (!values.config) flagError('--config: required (e.g. configs/quick.json)');
const config = await readPipelineConfig(values.config);
if (parallel) config.specialists.parallel = parallel;
await initEngine({ backend });
let stop = false;
process.on('SIGINT', () => {
  if (stop) process.exit(130);
  stop = true;
  console.error('\nstopping after the current batch (Ctrl-C again to quit at once)…');
});
const runDir = values.run ?? `runs/${config.name}`;
const result = await runPipeline(config, {
  runDir,
  out: values.out ?? `models/${config.name}`,
  onlySpecialists: values.specialist,
  shouldStop: () => stop,
  ensemble: pipelineEnsemble,
}).catch((error: Error) => {
  console.error(error.message);
  process.exit(stop ? 130 : 1);
});
await printSummary(config, result, runDir, loadDataset(config.dataset).train.features);

// One command from a dataset to a served bundle:
//   npm run pipeline -- --config configs/quick.json [--out models/default] [--run runs/<name>] [--specialist s3]
// [--parallel 2]
// Rerunning resumes: finished stages are skipped, interrupted ones continue from their checkpoints.
// On a cluster, with the run folder on shared storage (deploy/kubernetes/specialists-job.yaml):
//   --until clusters                 generalist and clusters, then stop
//   --index I --count N              specialists at positions ≡ I (mod N); I defaults to $JOB_COMPLETION_INDEX
//   --assemble                       student and bundle from the trained specialists; fails naming any missing
import { z } from 'zod';
import { backendFlag, flagError, parseFlags, scriptArgs, stopOnInterrupt } from '../src/cli/index.js';
import { initEngine } from '../src/engine/index.js';
import { loadDataset } from '../src/data/index.js';
import { pipelineEnsemble, printSummary, readPipelineConfig, runPipeline } from '../src/pipeline/index.js';

const { values } = scriptArgs({
  options: {
    config: { type: 'string', default: 'configs/quick.json' },
    out: { type: 'string' },
    run: { type: 'string' },
    specialist: { type: 'string', multiple: true },
    parallel: { type: 'string' },
    until: { type: 'string' },
    index: { type: 'string' },
    count: { type: 'string' },
    assemble: { type: 'boolean', default: false },
    backend: { type: 'string' },
  },
});

const backend = backendFlag(values.backend);
const Flags = z.object({
  parallel: z.coerce.number().int().positive().max(64).optional(),
  until: z.literal('clusters').optional(),
  index: z.coerce.number().int().min(0).optional(),
  count: z.coerce.number().int().positive().max(10_000).optional(),
}).refine((f) => (f.index === undefined) === (f.count === undefined) && (f.index === undefined || f.index < f.count!), {
  message: 'give both, with index < count',
  path: ['index'],
});
const { parallel, until, index, count } = parseFlags(Flags, {
  parallel: values.parallel,
  until: values.until,
  count: values.count,
  index: values.index ?? (values.count === undefined ? undefined : process.env.JOB_COMPLETION_INDEX),
});
if (!values.config) flagError('--config: required (e.g. configs/quick.json)');
const config = await readPipelineConfig(values.config);
if (parallel) config.specialists.parallel = parallel;
await initEngine({ backend });
const shouldStop = stopOnInterrupt();
const runDir = values.run ?? `runs/${config.name}`;
const result = await runPipeline(config, {
  runDir,
  out: values.out ?? `models/${config.name}`,
  onlySpecialists: values.specialist,
  until,
  shard: index === undefined ? undefined : { index, count: count! },
  assemble: values.assemble,
  shouldStop,
  ensemble: pipelineEnsemble,
}).catch((error: Error) => {
  console.error(error.message);
  process.exit(shouldStop() ? 130 : 1);
});
await printSummary(config, result, runDir, loadDataset(config.dataset).train.features);

// The paper's ensemble result on Fashion-MNIST and MNIST: K = 1, 2, 4, 8 independently trained nets,
// their averaged distribution, and one net of the same size distilled from each ensemble.
//   npm run experiment:ensemble [-- --quick] [--datasets fashion-mnist,mnist] [--workers 2] [--out reports/ensemble]
// Trained runs live under runs/experiments/ensemble/<dataset>/, so an interrupted run resumes from
// its finished members; the summary (JSON, Markdown, SVG) goes to reports/ensemble/ (or --out).
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { parseFlags, scriptArgs, stopOnInterrupt } from '../src/cli/index.js';
import { loadDataset } from '../src/data/index.js';
import { BACKENDS, initEngine } from '../src/engine/index.js';
import { ensembleExperimentDir, ensemblePlan, recordInvocation, runEnsembleExperiment,
  writeEnsembleReport } from '../src/experiments/index.js';

const { values } = scriptArgs({
  options: {
    quick: { type: 'boolean', default: false },
    datasets: { type: 'string', default: 'fashion-mnist,mnist' },
    backend: { type: 'string' },
    workers: { type: 'string' },
    out: { type: 'string' },
  },
});
const flags = parseFlags(z.object({
  datasets: z.string().transform((s) => s.split(',')).pipe(z.array(z.enum(['fashion-mnist', 'mnist'])).min(1)),
  workers: z.coerce.number().int().positive().optional(),
  backend: z.enum(['auto', ...BACKENDS]).optional(),
}), values);
const plan = ensemblePlan(values.quick!);
const engine = await initEngine({ backend: flags.backend });
const workers = flags.workers ?? (engine.backend === 'tensorflow' ? 1 : availableParallelism());
const started = performance.now();
const shouldStop = stopOnInterrupt();
const root = ensembleExperimentDir('runs/experiments', values.quick!);
const results = [];
try {
  for (const name of flags.datasets) {
    console.error(`== ${name}`);
    results.push(
      await runEnsembleExperiment(name, loadDataset({ name }), join(root, name), plan, { log: (line) =>
        console.error(line), shouldStop, workers }),
    );
  }
} catch (error) {
  if (!shouldStop()) throw error;
  await recordInvocation(root, (performance.now() - started) / 1000);
  console.error((error as Error).message); // Ctrl-C: checkpoints are saved, and a rerun resumes from them
  process.exit(130);
}
const invocations = await recordInvocation(root, (performance.now() - started) / 1000);
console.log(
  await writeEnsembleReport(values.out ?? join('reports', values.quick ? 'ensemble-quick' : 'ensemble'), results, plan,
    engine, invocations, workers),
);

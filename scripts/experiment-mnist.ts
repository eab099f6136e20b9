// The paper's MNIST table, reproduced in one command:
//   npm run experiment:mnist [-- --quick] [--teacher-epochs 40 --student-epochs 30 --seeds 1,2,3] [--workers 2] [--out
// reports/mnist-other]
// Recipes come from configs/mnist-paper.json (--preset for another); the flags only shorten or reseed them.
// Trained models are kept under runs/experiments/, so an interrupted run resumes where it stopped;
// the summary (JSON, Markdown, SVG) goes to reports/mnist/ (reports/mnist-quick/ with --quick), or --out.
// --workers: runs trained at once in worker processes; default one per core on the CPU engines
// (the teacher trains alone on every core first), 1 on tfjs-node, whose one process already uses every core.
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { parseFlags, scriptArgs, stopOnInterrupt } from '../src/cli/index.js';
import { loadMnist } from '../src/data/index.js';
import { BACKENDS, initEngine } from '../src/engine/index.js';
import { experimentDir, PAPER_PRESET, paperPlan, recordInvocation, runMnistPaper, withEpochs,
  writeMnistReport } from '../src/experiments/index.js';
import { readPipelineConfig } from '../src/pipeline/index.js';

const { values } = scriptArgs({
  options: {
    quick: { type: 'boolean', default: false },
    preset: { type: 'string', default: PAPER_PRESET },
    'teacher-epochs': { type: 'string' },
    'student-epochs': { type: 'string' },
    seeds: { type: 'string' },
    backend: { type: 'string' },
    out: { type: 'string' },
    workers: { type: 'string' },
  },
});
const count = z.coerce.number().int().positive().optional();
const flags = parseFlags(z.object({
  'teacher-epochs': count,
  'student-epochs': count,
  workers: count,
  seeds: z.string().regex(/^\d+(,\d+)*$/, 'a comma-separated list of whole numbers').optional(),
  backend: z.enum(['auto', ...BACKENDS]).optional(),
}), values);
const base = paperPlan(await readPipelineConfig(values.preset!), values.quick!);
const plan = {
  ...base,
  teacher: { ...base.teacher,
    train: withEpochs(base.teacher.train, flags['teacher-epochs'] ?? base.teacher.train.epochs) },
  student: { ...base.student,
    train: withEpochs(base.student.train, flags['student-epochs'] ?? base.student.train.epochs) },
  seeds: flags.seeds ? flags.seeds.split(',').map(Number) : base.seeds,
};
const engine = await initEngine({ backend: flags.backend });
const workers = flags.workers ?? (engine.backend === 'tensorflow' ? 1 : availableParallelism());
const started = performance.now();
const shouldStop = stopOnInterrupt();
const dir = experimentDir('runs/experiments', plan);
const result = await runMnistPaper(loadMnist(), dir, plan, { log: (line) => console.error(line), shouldStop, workers })
  .catch(async (error: Error) => {
    if (!shouldStop()) throw error;
    await recordInvocation(dir, (performance.now() - started) / 1000);
    console.error(error.message); // Ctrl-C: checkpoints are saved, and a rerun resumes from them
    process.exit(130);
  });
const invocations = await recordInvocation(dir, (performance.now() - started) / 1000);
const markdown = await writeMnistReport(values.out ?? join('reports', values.quick ? 'mnist-quick' : 'mnist'), result,
  plan, engine, invocations, workers);
console.log(markdown);

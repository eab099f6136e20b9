// The paper's MNIST table, reproduced in one command:
//   npm run experiment:mnist [-- --quick] [--teacher-epochs 40 --student-epochs 30 --seeds 1,2,3] [--workers 2] [--out reports/mnist-other]
// Trained models are kept under runs/experiments/, so an interrupted run resumes where it stopped;
// the summary (JSON, Markdown, SVG) goes to reports/mnist/ (reports/mnist-quick/ with --quick), or --out.
// --workers: runs trained at once in worker processes; default one per core on the CPU engines
// (the teacher trains alone on every core first), 1 on tfjs-node, whose one process already uses every core.
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { stopOnInterrupt } from '../src/cli/index.js';
import { loadMnist } from '../src/data/index.js';
import { initEngine } from '../src/engine/index.js';
import { experimentDir, FULL_PLAN, QUICK_PLAN, runMnistPaper, writeMnistReport } from '../src/experiments/index.js';

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    'teacher-epochs': { type: 'string' },
    'student-epochs': { type: 'string' },
    seeds: { type: 'string' },
    backend: { type: 'string' },
    out: { type: 'string' },
    workers: { type: 'string' },
  },
});
const base = values.quick ? QUICK_PLAN : FULL_PLAN;
const plan = {
  ...base,
  teacherEpochs: Number(values['teacher-epochs'] ?? base.teacherEpochs),
  studentEpochs: Number(values['student-epochs'] ?? base.studentEpochs),
  seeds: values.seeds ? values.seeds.split(',').map(Number) : base.seeds,
};
const engine = await initEngine({ backend: values.backend as never });
const workers = values.workers ? Number(values.workers) : engine.backend === 'tensorflow' ? 1 : availableParallelism();
const started = performance.now();
const shouldStop = stopOnInterrupt();
const result = await runMnistPaper(loadMnist(), experimentDir('runs/experiments', plan), plan, { log: (line) => console.error(line), shouldStop, workers })
  .catch((error: Error) => {
    if (!shouldStop()) throw error;
    console.error(error.message); // Ctrl-C: checkpoints are saved, and a rerun resumes from them
    process.exit(130);
  });
const markdown = await writeMnistReport(values.out ?? join('reports', values.quick ? 'mnist-quick' : 'mnist'), result, plan, engine, (performance.now() - started) / 1000, workers);
console.log(markdown);

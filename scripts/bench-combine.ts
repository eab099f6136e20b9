// Combine benchmark: µs per example of the KL combination, both solvers, batch 1 and 64,
// N = 10, 100, 1000 classes, 1–5 active specialists per example, beside the forward passes it
// combines (a 784-1200-1200-N MLP per model).
//   npm run bench:combine [-- --runs 5 --budget 0.05 --tolerance 1e-6 --out reports/bench/combine]
import * as tf from '@tensorflow/tfjs';
import { z } from 'zod';
import { parseFlags, scriptArgs } from '../src/cli/index.js';
import { initEngine } from '../src/engine/index.js';
import { benchCombine, type CombineBenchRow, timeAdaptive } from '../src/bench/index.js';
import { SOLVER_NAMES } from '../src/ensemble/index.js';
import { type Cell, markdownTable } from '../src/report/index.js';
import { writeAtomic, writeJson } from '../src/files/index.js';

const Args = z.object({
  runs: z.coerce.number().int().min(1),
  budget: z.coerce.number().positive(),
  tolerance: z.coerce.number().positive(),
  out: z.string(),
});
const { values } = scriptArgs({
  options: {
    runs: { type: 'string', default: '5' },
    budget: { type: 'string', default: '0.05' }, // seconds per timed run
    tolerance: { type: 'string', default: '1e-6' },
    out: { type: 'string', default: 'reports/bench/combine' },
  },
});
const args = parseFlags(Args, values);
const engine = await initEngine();
const timing = { runs: args.runs, budget: args.budget };
const BATCHES = [1, 64];
const CLASSES = [10, 100, 1000];
const ACTIVE = [1, 2, 3, 4, 5];

/** The paper's MNIST teacher with N outputs, built here only to price one forward pass. */
function forwardMicros(numClasses: number, batch: number): number {
  const model = tf.sequential({
    layers: [tf.layers.dense({ inputShape: [784], units: 1200, activation: 'relu' }),
      tf.layers.dense({ units: 1200, activation: 'relu' }),
      tf.layers.dense({ units: numClasses, activation: 'softmax' })],
  });
  const x = tf.randomNormal([batch, 784]);
  const seconds = timeAdaptive(() =>
    tf.tidy(() => {
      (model.predict(x) as tf.Tensor).dataSync();
    }), timing);
  tf.dispose(x);
  model.dispose();
  return seconds * 1e6;
}

const rows: (CombineBenchRow & { forwardMicros: number; ratioToForwards: number })[] = [];
for (const numClasses of CLASSES) {
  for (const batch of BATCHES) {
    const forward = forwardMicros(numClasses, batch);
    console.log(`N=${numClasses} batch=${batch}: one MLP forward ${forward.toFixed(0)} µs`);
    for (const active of ACTIVE) {
      for (const solver of SOLVER_NAMES) {
        const row = benchCombine({ batch, numClasses, active, solver, tolerance: args.tolerance }, timing);
        // The passes combined: the generalist's, and each active specialist's (same body, its own head).
        rows.push({ ...row, forwardMicros: forward, ratioToForwards: row.microsPerBatch / ((1 + active) * forward) });
      }
    }
  }
}

const speedups = rows.filter((r) => r.solver === 'em').map((em) => {
  const gradient = rows.find((r) =>
    r.solver === 'gradient' && r.batch === em.batch && r.numClasses === em.numClasses && r.active === em.active
  )!;
  return gradient.microsPerBatch / em.microsPerBatch;
}).sort((x, y) => x - y);
const medianSpeedup = speedups[speedups.length >> 1];
const target = rows.find((r) => r.solver === 'em' && r.batch === 64 && r.numClasses === 1000 && r.active === 3)!;

const table = markdownTable(['batch', 'classes', 'active', 'solver', 'iterations', 'µs/example', 'µs/batch',
  'MLP forward µs', 'combine / forwards'],
  rows.map((
    r,
  ): Cell[] => [r.batch, r.numClasses, r.active, r.solver, r.converged ? r.iterations : `${r.iterations} (cap)`,
    r.microsPerExample, r.microsPerBatch, r.forwardMicros, r.ratioToForwards]
  ));
const summary = [
  `em / gradient: em reaches the tolerance ${medianSpeedup.toFixed(1)}× faster (median over cases; range ${
    speedups[0].toFixed(1)
  }–${speedups[speedups.length - 1].toFixed(1)}×).`,
  `Target (batch 64, N = 1000, 3 active, tolerance ${args.tolerance}, ≤ 2 ms): em ${
    (target.microsPerBatch / 1000).toFixed(2)
  } ms ` +
  `(${target.microsPerBatch <= 2000 ? 'met' : 'missed'}), ${
    (target.ratioToForwards * 100).toFixed(1)
  }% of the 4 forward passes it combines.`,
];
const lines = ['# Combine benchmark: KL combination of generalist and active specialists', '',
  `${engine.backend} (${engine.blasLibrary}, ${engine.threads} threads); median of ${args.runs} runs; tolerance ` +
    `${args.tolerance}; ` +
  `${
    new Date().toISOString().slice(0, 10)
  }. Clusters of ~N/20 classes in \`active\` overlapping partitions, top-1 routing.`, '', table, '', ...summary];
console.log(`\n${lines.join('\n')}`);
await writeAtomic(`${args.out}.md`, `${lines.join('\n')}\n`);
await writeJson(`${args.out}.json`, {
  date: new Date().toISOString(),
  engine: { backend: engine.backend, blasLibrary: engine.blasLibrary, threads: engine.threads },
  runs: args.runs,
  tolerance: args.tolerance,
  rows,
  emSpeedupOverGradient: { median: medianSpeedup, min: speedups[0], max: speedups[speedups.length - 1] },
  target: { microsPerBatch: target.microsPerBatch, met: target.microsPerBatch <= 2000,
    ratioToForwards: target.ratioToForwards },
});
console.log(`wrote ${args.out}.md and ${args.out}.json`);

// Generalist vs generalist + specialists, on synthetic (200 classes: disjoint clusters, overlapping
// ones for the paper's Table 4, and soft-target specialists), Fashion-MNIST and MNIST:
//   npm run experiment:specialists [-- --configs configs/synthetic.json,configs/synthetic-overlap.json,…]
// Each dataset runs the pipeline in runs/experiments/specialists/<name> (resumable), then scores the
// ensemble and distils a second student from it. Summary: reports/specialists/.
import { backendFlag, scriptArgs } from '../src/cli/index.js';
import { initEngine } from '../src/engine/index.js';
import { runSpecialistsExperiment, writeSpecialistsReport } from '../src/experiments/index.js';
import { readPipelineConfig } from '../src/pipeline/index.js';

const { values } = scriptArgs({
  options: {
    configs: {
      type: 'string',
      default: ['synthetic', 'synthetic-overlap', 'synthetic-soft', 'fashion', 'quick', 'many-classes']
        .map((name) => `configs/${name}.json`).join(','),
    },
    backend: { type: 'string' },
  },
});
const started = performance.now();
const engine = await initEngine({ backend: backendFlag(values.backend) });
const root = 'runs/experiments/specialists';
const results = [];
for (const path of values.configs!.split(',')) {
  const config = await readPipelineConfig(path);
  console.error(`== ${config.name} (${path})`);
  results.push(await runSpecialistsExperiment(config, root, (line) => console.error(line)));
}
console.log(
  await writeSpecialistsReport('reports/specialists', results, root, engine, (performance.now() - started) / 1000),
);

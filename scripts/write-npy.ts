// Writes a synthetic dataset as NPY files plus a pipeline dataset config that reads them back, so
// the `files` path (docs/your-data.md) can be run end to end at any number of classes:
//   npm run data:npy -- --out data/synthetic-1000 --superclasses 100 --fine 10 --input-size 64 --train-per-class 100
import { join, resolve } from 'node:path';
import { z } from 'zod';
import { parseFlags, scriptArgs } from '../src/cli/index.js';
import { DEFAULT_SYNTHETIC, writeSyntheticFiles } from '../src/data/index.js';

const { values } = scriptArgs({
  options: {
    out: { type: 'string', default: 'data/synthetic' },
    superclasses: { type: 'string', default: '10' },
    fine: { type: 'string', default: '10' },
    'input-size': { type: 'string', default: '64' },
    'train-per-class': { type: 'string', default: '100' },
    'test-per-class': { type: 'string', default: '20' },
    seed: { type: 'string', default: '1' },
  },
});
const count = z.coerce.number().int().positive();
const flags = parseFlags(
  z.object({ superclasses: count, fine: count, 'input-size': count, 'train-per-class': count, 'test-per-class': count,
    seed: z.coerce.number().int().min(0) }),
  values,
);
const out = resolve(values.out!);
const config = await writeSyntheticFiles(out, {
  ...DEFAULT_SYNTHETIC,
  superclasses: flags.superclasses,
  finePerSuperclass: flags.fine,
  inputSize: flags['input-size'],
  trainPerClass: flags['train-per-class'],
  testPerClass: flags['test-per-class'],
  seed: flags.seed,
}, (line) => console.error(line));
console.log(
  `wrote ${config.title} to ${out}/; its dataset config (a pipeline config's "dataset"): ${join(out, 'dataset.json')}`,
);

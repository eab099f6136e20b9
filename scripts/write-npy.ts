// Writes a synthetic dataset as NPY files plus a pipeline dataset config that reads them back, so
// the `files` path (docs/your-data.md) can be run end to end at any number of classes:
//   npm run data:npy -- --out data/synthetic-1000 --superclasses 100 --fine 10 --input-size 64 --train-per-class 100
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { dump } from 'npyjs';
import { z } from 'zod';
import { parseFlags } from '../src/cli/index.js';
import { generateSynthetic, type Split } from '../src/data/index.js';
import { writeAtomic, writeJson } from '../src/files/index.js';

const { values } = parseArgs({
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
const flags = parseFlags(z.object({ superclasses: count, fine: count, 'input-size': count, 'train-per-class': count, 'test-per-class': count, seed: z.coerce.number().int().min(0) }), values);
const data = generateSynthetic({
  superclasses: flags.superclasses, finePerSuperclass: flags.fine, inputSize: flags['input-size'],
  trainPerClass: flags['train-per-class'], validationPerClass: 1, testPerClass: flags['test-per-class'], seed: flags.seed,
});
const out = resolve(values.out!);
const write = async (name: string, split: Split) => {
  await writeAtomic(join(out, `${name}-x.npy`), Buffer.from(dump(split.x, [split.n, split.features])));
  await writeAtomic(join(out, `${name}-y.npy`), Buffer.from(dump(split.y, [split.n])));
  console.error(`${name}: ${split.n} rows × ${split.features} features`);
};
await write('train', data.train);
await write('test', data.test);
await writeAtomic(join(out, 'classes.txt'), `${data.classNames.join('\n')}\n`);
const source = (name: string) => ({ format: 'npy', features: join(out, `${name}-x.npy`), labels: join(out, `${name}-y.npy`) });
await writeJson(join(out, 'dataset.json'), { name: 'files', title: `synthetic-${data.numClasses}`, train: source('train'), test: source('test'), classNamesFile: join(out, 'classes.txt') });
console.log(`wrote ${data.numClasses} classes to ${out}/; its dataset config (a pipeline config's "dataset"): ${join(out, 'dataset.json')}`);

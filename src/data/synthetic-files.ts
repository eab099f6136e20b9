import { join } from 'node:path';
import { dump } from 'npyjs';
import { writeAtomic, writeJson } from '../files/index.js';
import type { Split } from './dataset.js';
import { type FilesConfig, FilesConfigSchema } from './files.js';
import { generateSynthetic, type SyntheticConfig } from './synthetic.js';

/**
 * A synthetic dataset written as NPY files (train and test features and labels, classes.txt) and the
 * `files` dataset config that reads them back (`dataset.json`): the path a user's own arrays take,
 * at any number of classes. Paths in the config are `out`'s as given (relative stays relative).
 */
export async function writeSyntheticFiles(out: string, options: Omit<SyntheticConfig, 'validationPerClass'>,
  log: (line: string) => void = () => {}): Promise<FilesConfig> {
  // Validation is held out from train by the files loader, as it is for a user's data.
  const data = generateSynthetic({ ...options, validationPerClass: 1 });
  const write = async (name: string, split: Split) => {
    await writeAtomic(join(out, `${name}-x.npy`), Buffer.from(dump(split.x, [split.n, split.features])));
    await writeAtomic(join(out, `${name}-y.npy`), Buffer.from(dump(split.y, [split.n])));
    log(`${name}: ${split.n} rows × ${split.features} features`);
  };
  await write('train', data.train);
  await write('test', data.test);
  await writeAtomic(join(out, 'classes.txt'), `${data.classNames.join('\n')}\n`);
  const source = (name: string) => ({ format: 'npy' as const, features: join(out, `${name}-x.npy`),
    labels: join(out, `${name}-y.npy`) });
  const config = { name: 'files' as const, title: `synthetic-${data.numClasses}`, train: source('train'),
    test: source('test'), classNamesFile: join(out, 'classes.txt') };
  await writeJson(join(out, 'dataset.json'), config);
  return FilesConfigSchema.parse(config);
}

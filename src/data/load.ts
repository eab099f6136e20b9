import { z } from 'zod';
import type { Dataset } from './dataset.js';
import { loadFashionMnist } from './fashion.js';
import { FilesConfigSchema, loadFiles } from './files.js';
import { loadMnist } from './mnist.js';
import { generateSynthetic, SyntheticConfigSchema } from './synthetic.js';

/**
 * How a pipeline config names its data: MNIST, Fashion-MNIST, synthetic with any of its knobs, or the user's own files.
 */
export const DatasetConfigSchema = z.discriminatedUnion('name', [z.object({ name: z.literal('mnist') }),
  z.object({ name: z.literal('fashion-mnist') }),
  SyntheticConfigSchema.partial().extend({ name: z.literal('synthetic') }), FilesConfigSchema]);
export type DatasetConfig = z.infer<typeof DatasetConfigSchema>;
/** A config as written, before defaults are filled in. */
export type DatasetConfigInput = z.input<typeof DatasetConfigSchema>;
export type DatasetName = DatasetConfig['name'];

const LOADERS = {
  mnist: () => loadMnist(),
  'fashion-mnist': () => loadFashionMnist(),
  synthetic: (config: DatasetConfig) => {
    const { name: _name, ...options } = config as Extract<DatasetConfig, { name: 'synthetic' }>;
    return generateSynthetic(options);
  },
  files: (config: DatasetConfig, log?: (line: string) => void) =>
    loadFiles(config as Extract<DatasetConfig, { name: 'files' }>, log),
} satisfies Record<DatasetName, (config: DatasetConfig, log?: (line: string) => void) => Dataset>;

/**
 * The dataset a config names. The packaged sets decode nothing until a split is read; files are read
 * and checked at once, a line per file to `log`.
 *
 * @example
 *   const data = loadDataset({ name: 'synthetic', superclasses: 50, finePerSuperclass: 20 });
 */
export function loadDataset(config: DatasetConfigInput, log?: (line: string) => void): Dataset {
  const parsed = DatasetConfigSchema.parse(config);
  return LOADERS[parsed.name](parsed, log);
}

/** The dataset a bundle's manifest records (its config, else its name); throws when this build cannot load it. */
export function recordedDataset(info: { name: string; config?: unknown }): DatasetConfig {
  const parsed = DatasetConfigSchema.safeParse(info.config ?? { name: info.name });
  if (!parsed.success) {
    throw new Error(
      `the bundle's dataset "${info.name}" is not one this build can load: ${z.prettifyError(parsed.error)}`,
    );
  }
  return parsed.data;
}

import { readFileSync } from 'node:fs';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { z } from 'zod';
import { DatasetConfigSchema, type DatasetConfig } from '../data/index.js';
import { BACKENDS, type BackendChoice } from '../engine/index.js';

/**
 * Validates a script's flags with their zod schema. A bad flag ends the process with every problem
 * named by its flag (`--threads: Invalid input: expected number, received NaN`) and exit code 2,
 * not a ZodError stack trace; `exit` is replaceable for tests.
 *
 * @example
 *   const args = parseFlags(Args, values); // before any work, so a typo costs nothing
 */
export function parseFlags<S extends z.ZodType>(schema: S, values: unknown,
  exit: (message: string) => never = (message) => {
    console.error(message);
    process.exit(2);
  }): z.infer<S> {
  const parsed = schema.safeParse(values);
  if (parsed.success) return parsed.data;
  return exit(
    parsed.error.issues.map((issue) => `--${issue.path.join('.') || '(flags)'}: ${issue.message}`).join('\n'),
  );
}

/**
 * A script's usage: the `//` comment it opens with (what it does and its command lines), so the
 * text `--help` prints is the one a reader of the source sees.
 */
export function scriptUsage(scriptPath: string): string {
  const lines = readFileSync(scriptPath, 'utf8').split('\n');
  const header = lines.slice(0, lines.findIndex((line) => !line.startsWith('//')));
  return header.map((line) => line.replace(/^\/\/ ?/, '')).join('\n');
}

/** On `--help` or `-h`: prints the script's usage (and `more`, e.g. a table of flags) and exits 0. */
export function exitWithHelpIfAsked(args: readonly string[], scriptPath = process.argv[1], more = ''): void {
  if (!args.includes('--help') && !args.includes('-h')) return;
  console.log(more ? `${scriptUsage(scriptPath)}\n\n${more}` : scriptUsage(scriptPath));
  process.exit(0);
}

/**
 * parseArgs for a script's command line: `--help` (or `-h`) prints the script's usage and exits 0;
 * an unknown or malformed flag exits 2 with one line naming it and the usage, not a stack trace.
 *
 * @example
 *   const { values } = scriptArgs({ options: { out: { type: 'string' } } });
 */
export function scriptArgs<const T extends ParseArgsConfig>(config: T, scriptPath = process.argv[1]):
  ReturnType<typeof parseArgs<T>> {
  const args = config.args ?? process.argv.slice(2);
  exitWithHelpIfAsked(args, scriptPath);
  try {
    // The same config with its args made explicit: parsed exactly as `config` would be.
    return parseArgs({ ...config, args }) as ReturnType<typeof parseArgs<T>>;
  } catch (error) {
    if (!(error as NodeJS.ErrnoException).code?.startsWith('ERR_PARSE_ARGS')) throw error;
    return flagError(`${(error as Error).message}\n\n${scriptUsage(scriptPath)}`);
  }
}

/** Ends the process as parseFlags does for a bad flag: the message on stderr, exit code 2, no stack. */
export function flagError(message: string): never {
  console.error(message);
  process.exit(2);
}

/**
 * --backend, checked before any work (an unknown name exits 2 naming the flag); undefined lets DISTILL_BACKEND or auto
 * decide.
 */
export function backendFlag(value: string | undefined): BackendChoice | undefined {
  return parseFlags(z.object({ backend: z.enum(['auto', ...BACKENDS]).optional() }), { backend: value }).backend;
}

/** "1200,1200" → [1200, 1200]; an empty string → []; anything else ends the process as a bad flag does. */
export function numberList(value: string | undefined, name: string): number[] | undefined {
  if (value === undefined) return undefined;
  if (value.trim() === '') return [];
  const numbers = value.split(',').map((part) => Number(part.trim()));
  if (numbers.some((n) => !Number.isFinite(n))) {
    flagError(`--${name}: "${value}" is not a comma-separated list of numbers`);
  }
  return numbers;
}

/** --dataset mnist | fashion-mnist | synthetic[:superclasses=20,finePerSuperclass=10,…]; a bad one exits 2. */
export function datasetOption(value: string): DatasetConfig {
  const [name, rest] = value.split(':');
  const options = Object.fromEntries((rest ?? '').split(',').filter(Boolean).map((pair) => {
    const [key, raw] = pair.split('=');
    return [key, Number(raw)];
  }));
  const parsed = DatasetConfigSchema.safeParse({ name, ...options });
  if (!parsed.success) {
    flagError(`--dataset ${value}: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  }
  return parsed.data;
}

/** Training flags shared by the training CLIs, validated and converted to a TrainConfig input. */
export const TrainingFlags = z.object({
  epochs: z.coerce.number().int().positive(),
  'batch-size': z.coerce.number().int().positive(),
  lr: z.coerce.number().positive(),
  optimizer: z.enum(['momentum', 'adam']),
  schedule: z.enum(['constant', 'cosine', 'exponential']),
  patience: z.coerce.number().int().min(0),
  seed: z.coerce.number().int(),
});

export const TRAINING_FLAG_DEFAULTS = {
  epochs: { type: 'string', default: '20' },
  'batch-size': { type: 'string', default: '128' },
  lr: { type: 'string', default: '0.05' },
  optimizer: { type: 'string', default: 'momentum' },
  schedule: { type: 'string', default: 'cosine' },
  patience: { type: 'string', default: '0' },
  seed: { type: 'string', default: '1' },
  resume: { type: 'boolean', default: false },
  backend: { type: 'string' },
} as const;

export function trainConfigFrom(flags: z.infer<typeof TrainingFlags>) {
  return {
    epochs: flags.epochs,
    batchSize: flags['batch-size'],
    optimizer: flags.optimizer === 'adam' ?
      { kind: 'adam' as const, learningRate: flags.lr } :
      { kind: 'momentum' as const, learningRate: flags.lr, momentum: 0.9 },
    schedule: flags.schedule === 'exponential' ?
      { kind: 'exponential' as const, decayPerEpoch: 0.95 } :
      { kind: flags.schedule },
    patience: flags.patience,
    seed: flags.seed,
  };
}

/** Ctrl-C once: finish the batch, checkpoint, exit 130; twice: exit at once. */
export function stopOnInterrupt(): () => boolean {
  let stop = false;
  const interrupt = () => {
    if (stop) process.exit(130);
    stop = true;
    console.error('\nstopping after this batch and saving a checkpoint (Ctrl-C again to quit at once)…');
  };
  // SIGTERM too: it is how Kubernetes stops a Job's pod, which then resumes from the checkpoint.
  process.on('SIGINT', interrupt);
  process.on('SIGTERM', interrupt);
  return () => stop;
}

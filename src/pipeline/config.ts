import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { DatasetConfigSchema } from '../data/index.js';
import { AveragingSchema, EnsembleOptionsSchema } from '../ensemble/index.js';
import { TrainConfig } from '../distill/index.js';
import { MlpConfig } from '../nets/index.js';
import { ClusteringConfig } from '../specialists/index.js';

export const GeneralistStage = z.object({
  net: MlpConfig,
  train: TrainConfig,
  /** Random shifts of up to this many pixels per training image (the paper's teacher: 2); 0 for non-image data. */
  jitter: z.number().int().min(0).max(4).default(0),
});

export const ClustersStage = z.object({
  clustering: ClusteringConfig,
  /**
   * Where the generalist's predictions are taken for the covariance. Held-out rows by default:
   * on training rows it already fits, its confusions are muted, and they are the signal.
   */
  split: z.enum(['validation', 'train']).default('validation'),
  /** Rows of that split the covariance is measured on (0 = all of them). */
  transferExamples: z.number().int().min(0).default(0),
});

export const SpecialistsStage = z.object({
  /** Fine-tuning from the generalist: a few epochs at a lower learning rate than it used. */
  train: TrainConfig,
  /** Train on the generalist's restricted distribution besides the labels (the paper's suggestion for small data). */
  softTargets: z.boolean().default(false),
  /** Worker processes training specialists at once; each uses OpenBLAS's threads, so 1 on two cores. */
  parallel: z.number().int().positive().default(1),
  /** Attempts per specialist before it is skipped and reported. */
  attempts: z.number().int().positive().default(2),
});

/**
 * The paper's ensemble of full models as the teacher: the generalist and `count` − 1 more nets of
 * its architecture and training, each from other seeds, their distributions pooled.
 */
export const MembersTeacher = z.object({
  kind: z.literal('members'),
  count: z.int().min(2).max(32),
  averaging: AveragingSchema.default('probabilities'),
});
export type MembersTeacher = z.infer<typeof MembersTeacher>;

export const StudentStage = z.object({
  net: MlpConfig,
  /** Temperature, soft and hard weights come from train.loss. */
  train: TrainConfig,
  /** The generalist, the generalist + specialists ensemble, or an ensemble of K generalists. */
  teacher: z.union([z.enum(['generalist', 'ensemble']), MembersTeacher]).default('generalist'),
});

/** The teacher's name as bundles and summaries give it. */
export const teacherName = (teacher: StudentStage['teacher']) => (typeof teacher === 'string' ? teacher : teacher.kind);
export type StudentStage = z.infer<typeof StudentStage>;
/** The members teacher a config asks for, if any. */
export const membersTeacher = (
  config: { student: StudentStage },
): MembersTeacher | undefined => (typeof config.student.teacher === 'object' ? config.student.teacher : undefined);

export const PipelineConfig = z.object({
  name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_-]*$/, 'letters, digits, _ or -'),
  dataset: DatasetConfigSchema,
  generalist: GeneralistStage,
  clusters: ClustersStage,
  specialists: SpecialistsStage,
  student: StudentStage,
  combiner: EnsembleOptionsSchema.prefault({}),
});
export type PipelineConfig = z.infer<typeof PipelineConfig>;
export type PipelineConfigInput = z.input<typeof PipelineConfig>;

/** One readable line per problem, naming the path of the bad field: `generalist.train.epochs: …`. */
export function formatConfigError(error: z.ZodError, source: string): string {
  const lines = error.issues.map((issue) => `  ${issue.path.join('.') || '(root)'}: ${issue.message}`);
  return `${source}: invalid pipeline config\n${lines.join('\n')}`;
}

/**
 * Validates a config object; throws an Error listing every bad field by path.
 *
 * @example
 *   const config = parsePipelineConfig(JSON.parse(text), 'configs/quick.json');
 */
export function parsePipelineConfig(value: unknown, source = 'config'): PipelineConfig {
  const parsed = PipelineConfig.safeParse(value);
  if (!parsed.success) throw new Error(formatConfigError(parsed.error, source));
  return parsed.data;
}

export async function readPipelineConfig(path: string): Promise<PipelineConfig> {
  let json: unknown;
  try {
    json = JSON.parse(await readFile(path, 'utf8'));
  } catch (error) {
    throw new Error(`${path}: cannot read a JSON config: ${(error as Error).message}`, { cause: error });
  }
  return parsePipelineConfig(json, path);
}

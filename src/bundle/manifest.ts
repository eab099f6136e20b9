import { z } from 'zod';

/**
 * The manifest format this build writes and the newest it reads. Bump it when a change would make
 * an older reader misread a bundle (a field whose meaning changes, a new required field), so old
 * builds refuse new bundles with NEWER_FORMAT instead of serving them wrongly.
 */
export const FORMAT_VERSION = 1;
export const MANIFEST_FILE = 'manifest.json';
/** Every model folder holds these two, as tfjs-node's file:// handler writes them. */
export const MODEL_FILE = 'model.json';
export const WEIGHTS_FILE = 'weights.bin';

/**
 * A path inside the bundle: relative, forward slashes, no `.` or `..` segments (a manifest is input).
 *
 * @example
 *   isBundlePath('specialists/s0/model.json'); // true
 *   isBundlePath('../secrets'); // false
 */
export function isBundlePath(path: string): boolean {
  if (path === '' || path.startsWith('/') || path.includes('\\')) return false;
  return path.split('/').every((segment) => segment !== '' && segment !== '.' && segment !== '..');
}

/** An id that is also a folder name: a specialist's, a member's. */
export const FolderId = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_-]*$/, 'must be letters, digits, _ or -');
const BundlePath = z.string().refine(isBundlePath,
  'must be a relative path inside the bundle without . or .. segments');
const Sha256 = z.string().regex(/^[0-9a-f]{64}$/, 'must be 64 lowercase hex digits');
/** Named numbers: accuracy, error counts, losses, timings. */
const MetricsSchema = z.record(z.string(), z.number());

export const LayerSummarySchema = z.object({
  name: z.string(),
  /** tfjs class name: Dense, Dropout, Conv2D, … */
  type: z.string(),
  /** Without the batch dimension. */
  outputShape: z.array(z.int().nonnegative()),
  parameters: z.int().nonnegative(),
});

export const ArchitectureSchema = z.object({
  /** The nets/ family that built it ('mlp', 'cnn'), when the caller says. */
  kind: z.string().optional(),
  inputShape: z.array(z.int().positive()).min(1),
  outputSize: z.int().positive(),
  /** Input features, then the width of every layer that has weights: [784, 1200, 1200, 10]. */
  sizes: z.array(z.int().positive()),
  parameters: z.int().nonnegative(),
  layers: z.array(LayerSummarySchema),
});

export const ModelEntrySchema = z.object({
  /** Folder of model.json + weights.bin, relative to the bundle. */
  path: BundlePath,
  architecture: ArchitectureSchema,
  /** The net's own config as nets/ defines it; nets/ validates it, the bundle only carries it. */
  config: z.record(z.string(), z.json()).optional(),
  /** How it was trained (epochs, examples, seconds, seed, …), for the record. */
  training: z.record(z.string(), z.json()).optional(),
  /** This model's evaluation: testAccuracy, testErrors, validationLoss, … */
  metrics: MetricsSchema,
});

export const SpecialistEntrySchema = ModelEntrySchema.extend({
  /** Also its folder name under specialists/. */
  id: FolderId,
  /** Dataset class ids; output k is classes[k] and output classes.length is the dustbin. */
  classes: z.array(z.int().nonnegative()).min(1),
  /**
   * Added to the dustbin logit at inference (the log of the sampling ratio, paper §5.1); it is not
   * folded into the weights, so it can be re-tuned without rewriting them.
   */
  dustbinOffset: z.number(),
  cluster: z.object({
    /** Which K-means cluster of the generalist's prediction covariance this specialist covers. */
    index: z.int().nonnegative(),
    metrics: MetricsSchema.optional(),
  }),
});

/** A net trained like the generalist from another seed: one of an ensemble of full models. */
export const MemberEntrySchema = ModelEntrySchema.extend({
  /** Also its folder name under members/; not "generalist", which names the first member. */
  id: FolderId.refine((id) => id !== 'generalist', '"generalist" names the first member, the bundle\'s generalist'),
});

/** The generalist and K − 1 more nets of its architecture from other seeds, pooled into one distribution. */
export const MembersSchema = z.object({
  /** 'probabilities': the mean of the members' distributions; 'logits': their renormalised geometric mean. */
  averaging: z.enum(['probabilities', 'logits']),
  /** The members besides the generalist (which is always the first). */
  models: z.array(MemberEntrySchema).min(1),
});

export const StudentEntrySchema = ModelEntrySchema.extend({
  /** 'members': the generalist and the bundle's other members, their distributions pooled. */
  teacher: z.enum(['generalist', 'ensemble', 'members']),
  /** T of the soft targets; the soft loss was scaled by T². */
  temperature: z.number().positive(),
  /** Weight of the hard-label cross-entropy at T = 1. */
  hardWeight: z.number().nonnegative(),
});

export const DatasetInfoSchema = z.object({
  name: z.string().min(1),
  inputShape: z.array(z.int().positive()).min(1),
  /** Class id i is classNames[i]; their number is the class count every model is checked against. */
  classNames: z.array(z.string()).min(2),
  /** data/'s splitChecksum: which exact split the models were trained and evaluated on. */
  splitChecksum: Sha256.optional(),
  /** The dataset's config (e.g. the synthetic generator's), to regenerate it. */
  config: z.record(z.string(), z.json()).optional(),
});

export const ClusteringSchema = z.object({
  method: z.string().min(1),
  clusters: z.int().positive(),
  seed: z.int().optional(),
  /** Examples of the transfer set the covariance was measured on. */
  transferExamples: z.int().nonnegative().optional(),
  metrics: MetricsSchema.optional(),
});

export const CombinerSchema = z.object({
  /** A key of ensemble/'s solvers map. */
  solver: z.string().min(1),
  iterations: z.int().positive(),
  tolerance: z.number().nonnegative(),
  options: z.record(z.string(), z.number()).optional(),
});

export const EngineSchema = z.object({
  backend: z.string().min(1),
  blasLibrary: z.string(),
  tfjsVersion: z.string(),
});

export const FileEntrySchema = z.object({ sha256: Sha256, bytes: z.int().nonnegative() });

export const ManifestSchema = z.object({
  formatVersion: z.literal(FORMAT_VERSION),
  name: z.string().min(1),
  createdAt: z.iso.datetime(),
  /** The engine that trained and wrote it, so a result can be traced to its backend. */
  engine: EngineSchema,
  dataset: DatasetInfoSchema,
  generalist: ModelEntrySchema,
  specialists: z.array(SpecialistEntrySchema),
  clustering: ClusteringSchema.optional(),
  student: StudentEntrySchema.optional(),
  members: MembersSchema.optional(),
  combiner: CombinerSchema.optional(),
  /** Whole-system results: ensemble accuracy, agreement between paths, … */
  metrics: MetricsSchema,
  /** Every file of the bundle but manifest.json, by path relative to the bundle. */
  files: z.record(BundlePath, FileEntrySchema),
});

export type Manifest = z.infer<typeof ManifestSchema>;
export type ModelEntry = z.infer<typeof ModelEntrySchema>;
export type SpecialistEntry = z.infer<typeof SpecialistEntrySchema>;
export type StudentEntry = z.infer<typeof StudentEntrySchema>;
export type MemberEntry = z.infer<typeof MemberEntrySchema>;
export type Members = z.infer<typeof MembersSchema>;
export type Architecture = z.infer<typeof ArchitectureSchema>;
export type DatasetInfo = z.infer<typeof DatasetInfoSchema>;
export type Clustering = z.infer<typeof ClusteringSchema>;
export type Combiner = z.infer<typeof CombinerSchema>;
export type EngineRecord = z.infer<typeof EngineSchema>;
export type FileEntry = z.infer<typeof FileEntrySchema>;

import { type BundleDraft, type Manifest, type ModelEntry, saveBundle } from '../bundle/index.js';
import { splitChecksum } from '../data/index.js';
import { toCombinerRecord } from '../ensemble/index.js';
import type { ClustersResult } from './clusters.js';
import { type StageContext, stageDir } from './context.js';
import type { ModelMetrics } from './generalist.js';
import { loadMemberModels, type MemberMetrics } from './members.js';
import { membersTeacher, teacherName } from './config.js';
import { loadModel } from '../bundle/index.js';
import type { SpecialistMetrics } from './specialists.js';

export interface BundleInputs {
  generalist: ModelMetrics;
  /** Empty unless the student's teacher is an ensemble of members. */
  members: MemberMetrics[];
  clusters: ClustersResult;
  specialists: SpecialistMetrics[];
  student: ModelMetrics & { teacher: string };
  /** Whole-system results (ensemble test errors, agreement), measured by the caller. */
  metrics: Record<string, number>;
}

/** A config as the manifest's free-form JSON field. */
const json = (value: unknown) => JSON.parse(JSON.stringify(value)) as NonNullable<ModelEntry['config']>;

const numbers = (record: object): Record<string, number> =>
  Object.fromEntries(Object.entries(record).filter(([, v]) => typeof v === 'number' && Number.isFinite(v)));

/** Stage 5: every model and what is known about it, written atomically to `out`. */
export async function runBundleStage(ctx: StageContext, out: string, inputs: BundleInputs): Promise<Manifest> {
  const { config, dataset } = ctx;
  const generalist = await loadModel(stageDir(ctx, 'generalist', 'model'));
  const student = await loadModel(stageDir(ctx, 'student', 'model'));
  const specialists = await Promise.all(
    inputs.specialists.map(async (s) => ({ metrics: s,
      model: await loadModel(stageDir(ctx, 'specialists', s.id, 'model')) })
    ),
  );
  const memberModels = await loadMemberModels(ctx, inputs.members);
  const teacher = membersTeacher(config);
  const k = config.clusters.clustering.clusters;
  const draft: BundleDraft = {
    name: config.name,
    dataset: {
      name: dataset.name,
      inputShape: dataset.inputShape,
      classNames: dataset.classNames,
      splitChecksum: splitChecksum(dataset),
      config: json(config.dataset),
    },
    generalist: { model: generalist, kind: 'mlp', config: json(config.generalist.net),
      training: json(config.generalist.train), metrics: numbers(inputs.generalist) },
    specialists: specialists.map(({ metrics, model }) => ({
      model,
      kind: 'mlp',
      id: metrics.id,
      classes: metrics.classes,
      dustbinOffset: metrics.dustbinOffset,
      cluster: { index: inputs.clusters.clusters.findIndex((c) => c.id === metrics.id) },
      config: json(config.generalist.net),
      training: json(config.specialists.train),
      metrics: numbers(metrics),
    })),
    student: {
      model: student,
      kind: 'mlp',
      teacher: teacherName(config.student.teacher),
      temperature: config.student.train.loss.temperature,
      hardWeight: config.student.train.loss.hardWeight,
      config: json(config.student.net),
      training: json(config.student.train),
      metrics: numbers(inputs.student),
    },
    members: teacher && {
      averaging: teacher.averaging,
      models: inputs.members.map((m, i) => ({
        model: memberModels[i],
        kind: 'mlp',
        id: m.id,
        config: json({ ...config.generalist.net, seed: config.generalist.net.seed + m.seedOffset }),
        training: json({ ...config.generalist.train, seed: config.generalist.train.seed + m.seedOffset }),
        metrics: numbers(m),
      })),
    },
    clustering: {
      method: 'kmeans-prediction-covariance',
      clusters: k,
      seed: config.clusters.clustering.seed,
      transferExamples: inputs.clusters.transferExamples,
      metrics: numbers({ coveredClasses: inputs.clusters.coveredClasses,
        adjustedRandIndex: inputs.clusters.adjustedRandIndex }),
    },
    combiner: toCombinerRecord(config.combiner),
    metrics: inputs.metrics,
    extraFiles: { 'config.json': `${JSON.stringify(config, null, 2)}\n`,
      'clusters.json': `${JSON.stringify(inputs.clusters)}\n` },
  };
  try {
    return await saveBundle(out, draft);
  } finally {
    for (const model of [generalist, student, ...specialists.map((s) => s.model), ...memberModels]) model.dispose();
  }
}

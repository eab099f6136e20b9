import { argmaxRows, predictLogits } from '../distill/index.js';
import { type EnsembleModels, ensembleFromBundle, ensembleLogits } from '../ensemble/index.js';
import { loadBundle } from '../bundle/index.js';
import type { StageContext } from './context.js';
import { stageDir } from './context.js';
import { loadModel } from '../bundle/index.js';
import type { SpecialistMetrics } from './specialists.js';

function errorsOf(predicted: Int32Array, labels: Int32Array,
  keep: (label: number) => boolean): { errors: number; n: number } {
  let errors = 0;
  let n = 0;
  labels.forEach((label, i) => {
    if (!keep(label)) return;
    n++;
    if (predicted[i] !== label) errors++;
  });
  return { errors, n };
}

/**
 * The generalist + specialists of a run folder as a teacher (for an ensemble-distilled student)
 * and as the system the bundle reports on: test errors overall and on covered classes, against
 * the generalist alone.
 */
export async function pipelineEnsemble(ctx: StageContext, specialists: SpecialistMetrics[]) {
  const load = async (): Promise<EnsembleModels> => ({
    generalist: await loadModel(stageDir(ctx, 'generalist', 'model')),
    specialists: await Promise.all(specialists.map(async (s) => ({
      id: s.id,
      classes: s.classes,
      dustbinOffset: s.dustbinOffset,
      model: await loadModel(stageDir(ctx, 'specialists', s.id, 'model')),
    }))),
    numClasses: ctx.dataset.numClasses,
  });
  const release = (models: EnsembleModels) => {
    for (const m of [models.generalist, ...models.specialists.map((s) => s.model)]) m.dispose();
  };
  const options = ctx.config.combiner;
  return {
    logits: async (x: Float32Array, n: number) => {
      const models = await load();
      try {
        return ensembleLogits(models, x, n, options);
      } finally {
        release(models);
      }
    },
    metrics: async (): Promise<Record<string, number>> => {
      const { test, numClasses } = ctx.dataset;
      const models = await load();
      try {
        const ensemble = argmaxRows(ensembleLogits(models, test.x, test.n, options), numClasses);
        const generalist = argmaxRows(predictLogits(models.generalist, test.x, test.n), numClasses);
        const covered = new Set(specialists.flatMap((s) => s.classes));
        const all = () => true;
        const onCovered = (label: number) => covered.has(label);
        return {
          ensembleTestErrors: errorsOf(ensemble, test.y, all).errors,
          generalistTestErrors: errorsOf(generalist, test.y, all).errors,
          testExamples: test.n,
          coveredTestExamples: errorsOf(ensemble, test.y, onCovered).n,
          ensembleErrorsOnCovered: errorsOf(ensemble, test.y, onCovered).errors,
          generalistErrorsOnCovered: errorsOf(generalist, test.y, onCovered).errors,
        };
      } finally {
        release(models);
      }
    },
  };
}

/** A bundle's teacher logits for a transfer set: its generalist, or its whole ensemble. */
export async function bundleTeacherLogits(bundleDir: string, teacher: 'generalist' | 'ensemble', x: Float32Array,
  n: number): Promise<Float32Array> {
  const bundle = await loadBundle(bundleDir);
  try {
    if (teacher === 'generalist') return predictLogits(bundle.generalist, x, n);
    const { models, options } = ensembleFromBundle(bundle);
    if (typeof options === 'string') throw new Error(`${bundleDir}: the ensemble cannot teach: ${options}`);
    return ensembleLogits(models, x, n, options);
  } finally {
    bundle.dispose();
  }
}

import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { requestCost, type RequestCost } from '../bench/index.js';
import { DEFAULT_SYNTHETIC, loadDataset, writeSyntheticFiles } from '../data/index.js';
import { argmaxRows, evaluateModel, labelledSet, predictLogits } from '../distill/index.js';
import { loadBundle } from '../bundle/index.js';
import { ensembleFromBundle, ensembleLogits } from '../ensemble/index.js';
import { buildMlp } from '../nets/index.js';
import { type PipelineConfig, pipelineEnsemble, readRunState, runPipeline } from '../pipeline/index.js';
import { meanAndSpread, trainOnce } from './runner.js';

export interface CoverageRow {
  /** How many specialists cover the true class. */
  specialists: number;
  examples: number;
  generalistCorrect: number;
  ensembleCorrect: number;
  /** (ensemble accuracy − generalist accuracy) / generalist accuracy, as the paper's Table 4. */
  relativeImprovement: number;
}

export interface SpecialistsResult {
  dataset: string;
  /** The pipeline config's name: its run folder under the experiment's root. */
  run: string;
  classes: number;
  specialists: number;
  /** How the specialists were made: clusters per class (`overlap`) and soft targets or hard labels. */
  overlap: number;
  softTargets: boolean;
  /** Mean |fitted dustbin offset| against the mean hard-label closed form: soft targets need far less. */
  meanAbsDustbinOffset: number;
  meanHardLabelOffset: number;
  coveredClasses: number;
  adjustedRandIndex?: number;
  generalistErrors: number;
  ensembleErrors: number;
  testExamples: number;
  generalistErrorsOnCovered: number;
  ensembleErrorsOnCovered: number;
  coveredExamples: number;
  /** Relative cut in top-1 errors on covered classes: (generalist − ensemble) / generalist. */
  relativeErrorCutOnCovered: number;
  byCoverage: CoverageRow[];
  studentFromGeneralistErrors: number;
  studentFromEnsembleErrors: number;
  /** The clusters stage's wall time, and what it held in memory (absent for runs clustered before it was recorded). */
  clusteringSeconds?: number;
  clusteringMemory?: { predictionsBytes: number; covarianceBytes: number; rssGrowthBytes: number };
  /** Model time of single-row requests on each path at this ensemble's size. */
  requestCost: RequestCost;
  /** This invocation's wall time for the run (small when its stages were reloaded). */
  seconds: number;
  /** What training the run took when it did train, from the pipeline's and the runner's own records. */
  trainedSeconds: number;
}

/**
 * Datasets the experiment writes as NPY files before its first run, by config name: the path a
 * user's own arrays take (a `files` dataset), at 1,000 classes in 100 superclasses.
 */
export const GENERATED_DATASETS: Record<string, { out: string; synthetic: Parameters<typeof writeSyntheticFiles>[1] }> = {
  'many-classes': {
    out: 'data/synthetic-1000',
    synthetic: { ...DEFAULT_SYNTHETIC, superclasses: 100, finePerSuperclass: 10, inputSize: 64, trainPerClass: 100, testPerClass: 20, modesPerClass: 3, seed: 7 },
  },
};

/**
 * Generalist alone against generalist + specialists on one dataset, from the pipeline's own run
 * folder (so it reuses finished stages), plus a second student distilled from the ensemble.
 */
export async function runSpecialistsExperiment(config: PipelineConfig, root: string, log: (line: string) => void): Promise<SpecialistsResult> {
  const started = performance.now();
  const generated = GENERATED_DATASETS[config.name];
  if (generated && !existsSync(join(generated.out, 'dataset.json'))) await writeSyntheticFiles(generated.out, generated.synthetic, log);
  const runDir = join(root, config.name);
  // Beside the run folders, not in one: <run>/bundle is the bundle stage's own records.
  const bundleDir = join(root, 'bundles', config.name);
  const pipeline = await runPipeline(config, { runDir, out: bundleDir, ensemble: pipelineEnsemble, log });
  const dataset = loadDataset(config.dataset);
  const { test, numClasses } = dataset;
  const specialists = pipeline.specialists ?? [];
  // The bundle the pipeline just wrote is the system under test: its members, its combiner settings.
  const bundle = await loadBundle(bundleDir);
  const { models, options } = ensembleFromBundle(bundle);
  if (typeof options === 'string') throw new Error(`${config.name}: ${options}`);
  const ensemble = argmaxRows(ensembleLogits(models, test.x, test.n, options), numClasses);
  const generalist = argmaxRows(predictLogits(models.generalist, test.x, test.n), numClasses);

  const coverage = new Int32Array(numClasses);
  for (const s of specialists) for (const c of s.classes) coverage[c]++;
  const groups = new Map<number, CoverageRow>();
  let gErr = 0; let eErr = 0; let gCov = 0; let eCov = 0; let covered = 0;
  test.y.forEach((label, i) => {
    const k = coverage[label];
    const row = groups.get(k) ?? { specialists: k, examples: 0, generalistCorrect: 0, ensembleCorrect: 0, relativeImprovement: 0 };
    row.examples++;
    const g = generalist[i] === label;
    const e = ensemble[i] === label;
    if (g) row.generalistCorrect++;
    if (e) row.ensembleCorrect++;
    groups.set(k, row);
    if (!g) gErr++;
    if (!e) eErr++;
    if (k > 0) {
      covered++;
      if (!g) gCov++;
      if (!e) eCov++;
    }
  });
  const byCoverage = [...groups.values()].sort((a, b) => a.specialists - b.specialists)
    .map((r) => ({ ...r, relativeImprovement: (r.ensembleCorrect - r.generalistCorrect) / Math.max(1, r.generalistCorrect) }));

  // The loop the paper left open: distil the ensemble back into one net, beside the generalist-taught student.
  const teacher = ensembleLogits(models, dataset.train.x, dataset.train.n, options);
  const { model: fromEnsemble, record } = await trainOnce(join(runDir, 'experiment'), 'student-from-ensemble',
    () => buildMlp(config.student.net, dataset.train.features, numClasses), labelledSet(dataset.train, teacher), labelledSet(dataset.validation), config.student.train, { log, setup: config.student.net });
  const studentFromEnsembleErrors = evaluateModel(fromEnsemble, test.x, test.y).errors;
  fromEnsemble.dispose();
  const cost = requestCost(models, options, test.x, test.features, Math.min(200, test.n));
  bundle.dispose();
  const state = await readRunState(runDir);

  return {
    dataset: dataset.name, run: config.name, classes: numClasses, specialists: specialists.length,
    overlap: config.clusters.clustering.overlap, softTargets: config.specialists.softTargets,
    meanAbsDustbinOffset: meanAndSpread(specialists.map((s) => Math.abs(s.dustbinOffset))).mean,
    meanHardLabelOffset: meanAndSpread(specialists.map((s) => s.hardLabelOffset)).mean,
    coveredClasses: pipeline.clusters?.coveredClasses ?? 0, adjustedRandIndex: pipeline.clusters?.adjustedRandIndex,
    generalistErrors: gErr, ensembleErrors: eErr, testExamples: test.n,
    generalistErrorsOnCovered: gCov, ensembleErrorsOnCovered: eCov, coveredExamples: covered,
    relativeErrorCutOnCovered: (gCov - eCov) / Math.max(1, gCov),
    byCoverage,
    studentFromGeneralistErrors: pipeline.student?.testErrors ?? NaN,
    studentFromEnsembleErrors,
    clusteringSeconds: state.stages.clusters?.seconds, clusteringMemory: pipeline.clusters?.memory, requestCost: cost,
    seconds: (performance.now() - started) / 1000,
    trainedSeconds: Object.values(state.stages).reduce((sum: number, stage) => sum + (stage?.seconds ?? 0), 0) + record.seconds,
  };
}

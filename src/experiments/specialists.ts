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
  /**
   * Standard error of `relativeImprovement` over the level's test examples, from their paired
   * differences (ensemble right − generalist right); absent in reports written before it was kept.
   * Levels whose improvements differ by less than about twice this are not told apart by the test set.
   */
  standardError?: number;
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
export const GENERATED_DATASETS: Record<string, { out: string; synthetic: Parameters<typeof writeSyntheticFiles>[1] }> =
  {
    'many-classes': {
      out: 'data/synthetic-1000',
      synthetic: { ...DEFAULT_SYNTHETIC, superclasses: 100, finePerSuperclass: 10, inputSize: 64, trainPerClass: 100,
        testPerClass: 20, modesPerClass: 3, seed: 7 },
    },
  };

/**
 * Standard error of (E − G) / G for paired per-example outcomes: `fixed` examples only the ensemble
 * gets right, `broken` only the generalist. Each example contributes d ∈ {−1, 0, 1}; the sum's variance
 * is n·Var(d) = fixed + broken − (fixed − broken)² / n, and G is taken as fixed.
 */
export function pairedRelativeError(fixed: number, broken: number, examples: number,
  generalistCorrect: number): number {
  const difference = fixed - broken;
  return Math.sqrt(Math.max(0, fixed + broken - difference * difference / examples)) / Math.max(1, generalistCorrect);
}

/** Errors of the generalist and the ensemble, overall and on covered classes, and the paper's Table 4 rows. */
export function scoreByCoverage(specialists: readonly { classes: number[] }[], labels: Int32Array,
  generalist: Int32Array, ensemble: Int32Array, numClasses: number) {
  const coverage = new Int32Array(numClasses);
  for (const s of specialists) for (const c of s.classes) coverage[c]++;
  const groups = new Map<number, CoverageRow & { fixed: number; broken: number }>();
  const score = { generalistErrors: 0, ensembleErrors: 0, generalistOnCovered: 0, ensembleOnCovered: 0, covered: 0 };
  labels.forEach((label, i) => {
    const k = coverage[label];
    const row = groups.get(k) ?? { specialists: k, examples: 0, generalistCorrect: 0, ensembleCorrect: 0,
      relativeImprovement: 0, fixed: 0, broken: 0 };
    groups.set(k, row);
    const g = generalist[i] === label;
    const e = ensemble[i] === label;
    row.examples++;
    row.generalistCorrect += Number(g);
    row.ensembleCorrect += Number(e);
    row.fixed += Number(e && !g);
    row.broken += Number(g && !e);
    score.generalistErrors += Number(!g);
    score.ensembleErrors += Number(!e);
    if (k > 0) {
      score.covered++;
      score.generalistOnCovered += Number(!g);
      score.ensembleOnCovered += Number(!e);
    }
  });
  const byCoverage = [...groups.values()].sort((a, b) => a.specialists - b.specialists).map(
    ({ fixed, broken, ...r }): CoverageRow => ({ ...r,
      relativeImprovement: (r.ensembleCorrect - r.generalistCorrect) / Math.max(1, r.generalistCorrect),
      standardError: pairedRelativeError(fixed, broken, r.examples, r.generalistCorrect) }),
  );
  return { ...score, byCoverage };
}

/**
 * Generalist alone against generalist + specialists on one dataset, from the pipeline's own run
 * folder (so it reuses finished stages), plus a second student distilled from the ensemble.
 */
export async function runSpecialistsExperiment(config: PipelineConfig, root: string,
  log: (line: string) => void): Promise<SpecialistsResult> {
  const started = performance.now();
  const generated = GENERATED_DATASETS[config.name];
  if (generated && !existsSync(join(generated.out, 'dataset.json'))) {
    await writeSyntheticFiles(generated.out, generated.synthetic, log);
  }
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

  const score = scoreByCoverage(specialists, test.y, generalist, ensemble, numClasses);

  // The loop the paper left open: distil the ensemble back into one net, beside the generalist-taught student.
  const teacher = ensembleLogits(models, dataset.train.x, dataset.train.n, options);
  const { model: fromEnsemble, record } = await trainOnce(join(runDir, 'experiment'), 'student-from-ensemble',
    () => buildMlp(config.student.net, dataset.train.features, numClasses), labelledSet(dataset.train, teacher),
    labelledSet(dataset.validation), config.student.train, { log, setup: config.student.net });
  const studentFromEnsembleErrors = evaluateModel(fromEnsemble, test.x, test.y).errors;
  fromEnsemble.dispose();
  const cost = requestCost(models, options, test.x, test.features, Math.min(200, test.n));
  bundle.dispose();
  const state = await readRunState(runDir);

  return {
    dataset: dataset.name,
    run: config.name,
    classes: numClasses,
    specialists: specialists.length,
    overlap: config.clusters.clustering.overlap,
    softTargets: config.specialists.softTargets,
    meanAbsDustbinOffset: meanAndSpread(specialists.map((s) => Math.abs(s.dustbinOffset))).mean,
    meanHardLabelOffset: meanAndSpread(specialists.map((s) => s.hardLabelOffset)).mean,
    coveredClasses: pipeline.clusters?.coveredClasses ?? 0,
    adjustedRandIndex: pipeline.clusters?.adjustedRandIndex,
    generalistErrors: score.generalistErrors,
    ensembleErrors: score.ensembleErrors,
    testExamples: test.n,
    generalistErrorsOnCovered: score.generalistOnCovered,
    ensembleErrorsOnCovered: score.ensembleOnCovered,
    coveredExamples: score.covered,
    relativeErrorCutOnCovered:
      (score.generalistOnCovered - score.ensembleOnCovered) / Math.max(1, score.generalistOnCovered),
    byCoverage: score.byCoverage,
    studentFromGeneralistErrors: pipeline.student?.testErrors ?? NaN,
    studentFromEnsembleErrors,
    clusteringSeconds: state.stages.clusters?.seconds,
    clusteringMemory: pipeline.clusters?.memory,
    requestCost: cost,
    seconds: (performance.now() - started) / 1000,
    trainedSeconds: Object.values(state.stages).reduce((sum: number, stage) => sum + (stage?.seconds ?? 0), 0) +
      record.seconds,
  };
}

import { runChild } from '../cli/index.js';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { predictLogits, shiftLogits, softmaxRowsAt, top1Error, trainModel } from '../distill/index.js';
import { parameterCount, specialistFromGeneralist } from '../nets/index.js';
import { writeJson } from '../files/index.js';
import { type Cluster, dustbinOffset, fitDustbinOffset, halfAndHalfSampler, sampledSpecialFraction, specialFraction,
  specialistSet } from '../specialists/index.js';
import type { ClustersResult } from './clusters.js';
import { type StageContext, stageDir, StageInterrupted } from './context.js';
import { loadModel, saveModel } from '../bundle/index.js';

export interface SpecialistMetrics {
  id: string;
  classes: number[];
  /** Added to the dustbin logit when serving: fitted on the natural validation split (`fitDustbinOffset`). */
  dustbinOffset: number;
  /** What the offset would be for hard labels alone on the sample drawn (`dustbinOffset`): the reference. */
  hardLabelOffset: number;
  /** Test error of the specialist on examples of its own classes (dustbin counts as wrong). */
  testErrorRateOnClasses: number;
  /**
   * Mean dustbin probability on the natural test split, after the offset: calibrated when it matches
   * nonSpecialFraction.
   */
  meanDustbinProbability: number;
  /** The test split's true share of rows outside the specialist's classes. */
  nonSpecialFraction: number;
  parameters: number;
  epochs: number;
  trainSeconds: number;
}

export async function readClusters(ctx: StageContext): Promise<ClustersResult> {
  return JSON.parse(await readFile(stageDir(ctx, 'clusters', 'clusters.json'), 'utf8')) as ClustersResult;
}

/** Mean dustbin probability over row-major logits whose dustbin (last column) is already corrected. */
function meanDustbin(logits: Float32Array, width: number): number {
  const probs = softmaxRowsAt(logits, width, 1);
  let sum = 0;
  for (let i = width - 1; i < probs.length; i += width) sum += probs[i];
  return sum / (probs.length / width);
}

/** Error on the rows of the special classes alone: a dustbin answer counts as wrong. */
function errorOnSpecialRows(logits: Float32Array, width: number, labels: Int32Array): number {
  const rows = Array.from(labels).flatMap((label, r) => (label === width - 1 ? [] : [r]));
  const picked = new Float32Array(rows.length * width);
  rows.forEach((r, i) => picked.set(logits.subarray(r * width, (r + 1) * width), i * width));
  return top1Error(picked, width, Int32Array.from(rows, (r) => labels[r]));
}

/**
 * Validation error after the dustbin correction fitted on those same rows: what the ensemble will
 * see, so epochs are chosen for telling the special classes apart, not for the dustbin's calibration.
 */
function errorAfterOffset(logits: Float32Array, width: number, labels: Int32Array): number {
  return top1Error(shiftLogits(logits, width, [width - 1], fitDustbinOffset(logits, width, labels)), width, labels);
}

/**
 * Trains specialist `index` of the clustering: initialised from the generalist, half-and-half
 * batches, then the dustbin offset measured from the natural class frequencies. Depends on nothing
 * but the generalist and the clusters, so any number can run at once, here or on other machines.
 */
export async function trainSpecialist(ctx: StageContext, cluster: Cluster): Promise<SpecialistMetrics> {
  const { config, dataset } = ctx;
  const dir = stageDir(ctx, 'specialists', cluster.id);
  const generalist = await loadModel(stageDir(ctx, 'generalist', 'model'));
  const specialist = specialistFromGeneralist(generalist, config.generalist.net, dataset.train.features,
    cluster.classes);
  const generalistLogits = config.specialists.softTargets ?
    predictLogits(generalist, dataset.train.x, dataset.train.n) :
    undefined;
  generalist.dispose();
  const train = specialistSet(dataset.train, cluster.classes, generalistLogits, dataset.numClasses);
  const validation = specialistSet(dataset.validation, cluster.classes);
  const dustbin = cluster.classes.length;
  const result = await trainModel(specialist, train, validation, config.specialists.train, {
    sampler: halfAndHalfSampler(train.labels, dustbin),
    selectOn: errorAfterOffset,
    name: `specialist ${cluster.id}`,
    log: ctx.log,
    shouldStop: ctx.shouldStop,
    checkpointDir: `${dir}/checkpoint`,
    resume: true,
  });
  if (result.interrupted) throw new StageInterrupted(`specialist ${cluster.id}`);
  const width = dustbin + 1;
  const offset = fitDustbinOffset(predictLogits(specialist, validation.x, validation.n), width, validation.labels);
  await saveModel(specialist, `${dir}/model`);

  const test = specialistSet(dataset.test, cluster.classes);
  const testLogits = shiftLogits(predictLogits(specialist, test.x, test.n), width, [dustbin], offset);
  const natural = specialFraction(train.labels, dustbin);
  const metrics: SpecialistMetrics = {
    id: cluster.id,
    classes: cluster.classes,
    dustbinOffset: offset,
    hardLabelOffset: natural < 1 ? dustbinOffset(natural, sampledSpecialFraction(train.labels, dustbin)) : 0,
    testErrorRateOnClasses: errorOnSpecialRows(testLogits, width, test.labels),
    meanDustbinProbability: meanDustbin(testLogits, width),
    nonSpecialFraction: 1 - specialFraction(test.labels, dustbin),
    parameters: parameterCount(specialist),
    epochs: result.history.length,
    trainSeconds: result.seconds,
  };
  await writeJson(`${dir}/metrics.json`, { metrics, history: result.history });
  specialist.dispose();
  return metrics;
}

const WORKER = fileURLToPath(new URL('./specialist-worker.ts', import.meta.url));

/** Runs one specialist in a child process; resolves with its metrics or rejects with its exit status. */
async function trainInWorker(ctx: StageContext, cluster: Cluster, configPath: string): Promise<SpecialistMetrics> {
  // One OpenBLAS thread per worker: N workers on N cores, not N² threads fighting for them.
  const metrics = await runChild<SpecialistMetrics>(WORKER, [ctx.runDir, configPath, cluster.id], {
    label: `specialist ${cluster.id}`,
    env: { OPENBLAS_NUM_THREADS: '1' },
    onLine: ctx.log,
  });
  if (!metrics) throw new Error(`specialist ${cluster.id}: the worker exited without sending its metrics`);
  return metrics;
}

export interface SpecialistsStageOptions {
  /** Train only these cluster ids (e.g. one per machine, from a Kubernetes indexed Job). */
  only?: string[];
  /** Where the run's config is, for worker processes. */
  configPath: string;
}

/**
 * Stage 3: every specialist, `parallel` at a time in worker processes (in this process when 1).
 * Finished ones (metrics on disk) are skipped; a failing one is retried up to `attempts` times,
 * then reported and skipped without stopping the others.
 */
export async function runSpecialistsStage(ctx: StageContext,
  options: SpecialistsStageOptions): Promise<{ trained: SpecialistMetrics[]; failed: string[] }> {
  const { clusters } = await readClusters(ctx);
  const todo = clusters.filter((c) => !options.only || options.only.includes(c.id));
  const trained: SpecialistMetrics[] = [];
  const failed: string[] = [];
  const { parallel, attempts } = ctx.config.specialists;
  const queue = [...todo];
  const runOne = async (cluster: Cluster) => {
    const metricsPath = stageDir(ctx, 'specialists', cluster.id, 'metrics.json');
    if (existsSync(metricsPath)) {
      trained.push((JSON.parse(await readFile(metricsPath, 'utf8')) as { metrics: SpecialistMetrics }).metrics);
      ctx.log(`specialist ${cluster.id}: already trained, skipped`);
      return;
    }
    for (let attempt = 1; attempt <= attempts; attempt++) {
      try {
        trained.push(
          parallel > 1 ? await trainInWorker(ctx, cluster, options.configPath) : await trainSpecialist(ctx, cluster),
        );
        return;
      } catch (error) {
        if (error instanceof StageInterrupted || ctx.shouldStop()) throw error;
        const name = `specialist ${cluster.id}`;
        const reason = (error as Error).message.replace(`${name}: `, ''); // a worker's error names it already
        ctx.log(`${name}: attempt ${attempt}/${attempts} failed: ${reason}`);
      }
    }
    failed.push(cluster.id);
  };
  await Promise.all(Array.from({ length: Math.min(parallel, queue.length) }, async () => {
    while (queue.length > 0) await runOne(queue.shift()!);
  }));
  trained.sort((a, b) => clusters.findIndex((c) => c.id === a.id) - clusters.findIndex((c) => c.id === b.id));
  return { trained, failed };
}

import { jitter } from '../data/index.js';
import type * as tf from '@tensorflow/tfjs';
import { evaluateModel, labelledSet, trainModel, type TrainResult } from '../distill/index.js';
import { buildMlp, parameterCount } from '../nets/index.js';
import { writeJson } from '../files/index.js';
import { type StageContext, stageDir, StageInterrupted } from './context.js';
import { saveModel } from '../bundle/index.js';

export interface ModelMetrics {
  testErrors: number;
  testExamples: number;
  testErrorRate: number;
  validationErrorRate: number;
  parameters: number;
  epochs: number;
  bestEpoch: number;
  trainSeconds: number;
  examplesPerSecond: number;
}

/** Stage 1: the cumbersome model, on all classes, with dropout and (for images) jittered inputs. */
export function runGeneralistStage(ctx: StageContext): Promise<ModelMetrics> {
  return trainGeneralistLike(ctx, 'generalist', 0);
}

/**
 * A net of the generalist's architecture and training in `folder` (relative to the run), its net
 * and training seeds moved by `seedOffset`: the generalist itself (0), or another ensemble member.
 */
export async function trainGeneralistLike(ctx: StageContext, folder: string,
  seedOffset: number): Promise<ModelMetrics> {
  const { config, dataset } = ctx;
  const stage = config.generalist;
  const features = dataset.train.features;
  const model = buildMlp({ ...stage.net, seed: stage.net.seed + seedOffset }, features, dataset.numClasses);
  const augment = stage.jitter > 0 ?
    (x: Float32Array, rows: number, rng: () => number) =>
      jitter({ x, y: new Int32Array(rows), ids: new Int32Array(rows), n: rows, features }, {
        inputShape: dataset.inputShape,
        maxShift: stage.jitter,
        seed: Math.floor(rng() * 2 ** 31),
      }).x :
    undefined;
  const result = await trainModel(model, labelledSet(dataset.train), labelledSet(dataset.validation), { ...stage.train,
    seed: stage.train.seed + seedOffset }, {
    augment,
    name: folder,
    log: ctx.log,
    shouldStop: ctx.shouldStop,
    checkpointDir: stageDir(ctx, folder, 'checkpoint'),
    resume: true,
  });
  if (result.interrupted) throw new StageInterrupted(folder);
  return finishModelStage(ctx, folder, model, result);
}

/**
 * Saves a trained whole-dataset model (generalist, member or student) in its folder of the run,
 * evaluates it on the test split and records metrics, history and per-class errors beside it.
 */
export async function finishModelStage(ctx: StageContext, stage: string, model: tf.LayersModel,
  result: TrainResult): Promise<ModelMetrics> {
  const { dataset } = ctx;
  await saveModel(model, stageDir(ctx, stage, 'model'));
  const test = evaluateModel(model, dataset.test.x, dataset.test.y);
  const last = result.history[result.history.length - 1];
  const metrics: ModelMetrics = {
    testErrors: test.errors,
    testExamples: test.n,
    testErrorRate: test.errorRate,
    validationErrorRate: result.bestValidationError,
    parameters: parameterCount(model),
    epochs: result.history.length,
    bestEpoch: result.bestEpoch,
    trainSeconds: result.seconds,
    examplesPerSecond: last?.examplesPerSecond ?? 0,
  };
  await writeJson(stageDir(ctx, stage, 'metrics.json'), { metrics, history: result.history,
    perClassErrors: test.perClassErrors });
  model.dispose();
  return metrics;
}

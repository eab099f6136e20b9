import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type * as tf from '@tensorflow/tfjs';
import { type EpochRecord, trainModel, type TrainConfigInput, type TrainingSet,
  type TrainOptions } from '../distill/index.js';
import { loadModel, saveModel } from '../bundle/index.js';
import { writeAtomic, writeJson } from '../files/index.js';

/** One trained model of an experiment, as the report shows it. */
export interface RunRecord {
  name: string;
  /** What was trained: a rerun with another config retrains instead of reusing the model. */
  setup: string;
  epochs: number;
  bestEpoch: number;
  seconds: number;
  examplesPerSecond: number;
  /** Every epoch as trained: loss, each loss term (kl included), learning rate, momentum, validation error. */
  history: EpochRecord[];
}

/** What a run trained on, as its record stores it: a different string means the run must be retrained. */
export function runSetup(train: TrainingSet, config: TrainConfigInput, setup: unknown): string {
  // The teacher's logits are part of what was trained on: a new teacher must retrain the student.
  const teacher = train.teacherLogits ?
    createHash('sha256').update(
      Buffer.from(train.teacherLogits.buffer, train.teacherLogits.byteOffset, train.teacherLogits.byteLength),
    ).digest('hex').slice(0, 16) :
    null;
  return JSON.stringify({ config, setup: setup ?? null, examples: train.n, ...(teacher ? { teacher } : {}) });
}

/** The record of `<dir>/<name>` if that run finished with this setup. */
export async function trainedRecord(dir: string, name: string, setup: string): Promise<RunRecord | undefined> {
  const recordPath = join(dir, name, 'record.json');
  if (!existsSync(recordPath)) return undefined;
  const record = JSON.parse(await readFile(recordPath, 'utf8')) as RunRecord;
  return record.setup === setup ? record : undefined;
}

/**
 * Trains a model once per experiment folder: a finished run is reloaded from `<dir>/<name>/model`,
 * an interrupted one resumes from its checkpoint, so rerunning an experiment only does what is left.
 */
export async function trainOnce(dir: string, name: string, build: () => tf.LayersModel, train: TrainingSet,
  validation: TrainingSet, config: TrainConfigInput,
  options: TrainOptions & { setup?: unknown } = {}): Promise<{ model: tf.LayersModel; record: RunRecord }> {
  const runDir = join(dir, name);
  const setup = runSetup(train, config, options.setup);
  const done = await trainedRecord(dir, name, setup);
  if (done) return { model: await loadModel(join(runDir, 'model')), record: done };
  if (existsSync(join(runDir, 'setup.json')) && (await readFile(join(runDir, 'setup.json'), 'utf8')) !== setup) {
    await rm(runDir, { recursive: true, force: true }); // an older config's checkpoints must not be resumed
  }
  await writeAtomic(join(runDir, 'setup.json'), setup);
  const model = build();
  const result = await trainModel(model, train, validation, config, { ...options, name,
    checkpointDir: join(runDir, 'checkpoint'), resume: true });
  if (result.interrupted) throw new Error(`${name} interrupted; rerun to resume`);
  const last = result.history[result.history.length - 1];
  const record: RunRecord = {
    name,
    setup,
    epochs: result.history.length,
    bestEpoch: result.bestEpoch,
    seconds: result.seconds,
    examplesPerSecond: last?.examplesPerSecond ?? 0,
    history: result.history,
  };
  await saveModel(model, join(runDir, 'model'));
  await writeJson(join(runDir, 'record.json'), record);
  return { model, record };
}

/** Keeps a promise that is awaited later from counting as unhandled if it fails first. */
export function started<T>(promise: Promise<T>): Promise<T> {
  promise.catch(() => {});
  return promise;
}

export function meanAndSpread(values: number[]): { mean: number; min: number; max: number; sd: number } {
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  const sd = Math.sqrt(values.reduce((s, v) => s + (v - mean) ** 2, 0) / Math.max(1, values.length - 1));
  return { mean, min: Math.min(...values), max: Math.max(...values), sd };
}

/**
 * Adds this invocation's wall time to `<dir>/invocations.json` and returns every invocation's so far:
 * an experiment resumed after an interruption reports the time all its parts took, not the last one's.
 */
export async function recordInvocation(dir: string, seconds: number): Promise<number[]> {
  const path = join(dir, 'invocations.json');
  const earlier = existsSync(path) ? (JSON.parse(await readFile(path, 'utf8')) as number[]) : [];
  const all = [...earlier, seconds];
  await writeJson(path, all);
  return all;
}

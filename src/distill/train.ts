import * as tf from '@tensorflow/tfjs';
import { createRng, gatherRows, type Rng, shuffleInPlace, type Split } from '../data/index.js';
import { createOptimizer } from '../engine/index.js';
import { enforceConstraints } from '../nets/index.js';
import { addToAverage, type WeightAverage, withWeights } from './averaging.js';
import { loadCheckpoint, type Named, saveCheckpoint } from './checkpoint.js';
import { learningRateAt, momentumAt, TrainConfig, type TrainConfigInput } from './config.js';
import { predictLogits, top1Error } from './evaluate.js';
import { hardLabelLoss, logitMatchingLoss, type LossTerms, softTargetLoss, weightedSum } from './losses.js';
import { epochProgress, formatDuration } from './progress.js';
import { softmaxRowsAt } from './temperature.js';

/** What a model trains on: inputs, labels over the model's outputs, and optionally a teacher. */
export interface TrainingSet {
  /** [n, features] row-major. */
  x: Float32Array;
  n: number;
  features: number;
  /** [n] ids of the model's output classes (a specialist's are its own classes plus dustbin). */
  labels: Int32Array;
  /** The teacher's logits over the same outputs, [n, classes], computed once per run. */
  teacherLogits?: Float32Array;
}

/** A split as a training set: its rows and labels, and the teacher's logits on them when distilling. */
export function labelledSet(split: Split, teacherLogits?: Float32Array): TrainingSet {
  return { x: split.x, n: split.n, features: split.features, labels: split.y, teacherLogits };
}

export interface EpochRecord {
  epoch: number;
  learningRate: number;
  /** The momentum-SGD coefficient of this epoch (absent for Adam). */
  momentum?: number;
  loss: number;
  terms: Record<string, number>;
  validationError: number;
  /** Error on TrainOptions.monitor, when one was given. */
  monitorError?: number;
  /** With averageWeights: how many epochs' weights the scored mean holds (absent while the raw weights are scored). */
  averagedEpochs?: number;
  seconds: number;
  examplesPerSecond: number;
}

export interface TrainResult {
  history: EpochRecord[];
  bestEpoch: number;
  bestValidationError: number;
  interrupted: boolean;
  stoppedEarly: boolean;
  seconds: number;
}

export interface TrainOptions {
  /** Rows to visit in an epoch, in order; default a seeded shuffle of all rows. */
  sampler?: (epoch: number, rng: Rng) => Int32Array;
  /** Returns altered batch inputs (e.g. ±2 px jitter); gets a copy of the batch, never the dataset. */
  augment?: (x: Float32Array, rows: number, rng: Rng) => Float32Array;
  /** Checkpoint folder: written every epoch and on interrupt; with resume, training continues from it. */
  checkpointDir?: string;
  resume?: boolean;
  /** One line per epoch. */
  log?: (line: string) => void;
  /** Label shown on the progress bar and epoch lines. */
  name?: string;
  /**
   * A set scored after every epoch (`monitorError`) and never used to choose anything: a test split
   * whose curve a report plots beside the validation one.
   */
  monitor?: TrainingSet;
  /**
   * The error epochs are selected on, from the validation logits; default top-1 error. A
   * specialist selects on its error after the dustbin correction the ensemble will apply.
   */
  selectOn?: (logits: Float32Array, width: number, labels: Int32Array) => number;
  /** Stops at the next batch boundary (after checkpointing) when it returns true; Ctrl-C sets it in scripts. */
  shouldStop?: () => boolean;
}

function shuffled(n: number, rng: Rng): Int32Array {
  return shuffleInPlace(Int32Array.from({ length: n }, (_, i) => i), rng);
}

/** scale · H(p) per row of row-major probabilities [rows, classes], in nats. */
function scaledEntropies(probabilities: Float32Array, classes: number, scale: number): Float64Array {
  const rows = probabilities.length / classes;
  const out = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    let h = 0;
    for (let j = r * classes; j < (r + 1) * classes; j++) {
      if (probabilities[j] > 0) h -= probabilities[j] * Math.log(probabilities[j]);
    }
    out[r] = scale * h;
  }
  return out;
}

function setLearningRate(optimizer: tf.Optimizer, lr: number): void {
  const settable = optimizer as unknown as { setLearningRate?: (lr: number) => void; learningRate: number };
  if (settable.setLearningRate) settable.setLearningRate(lr);
  else settable.learningRate = lr;
}

/** Sets the optimizer's learning rate and momentum for `epoch` (0-based) from the schedule and ramp. */
function scheduleEpoch(optimizer: tf.Optimizer, config: TrainConfig, epoch: number): { lr: number; momentum?: number } {
  const lr = learningRateAt(config, epoch);
  setLearningRate(optimizer, lr);
  const momentum = momentumAt(config, epoch);
  if (momentum !== undefined) (optimizer as tf.MomentumOptimizer).setMomentum(momentum);
  return { lr, momentum };
}

function validationError(model: tf.LayersModel, validation: TrainingSet,
  selectOn: TrainOptions['selectOn'] = top1Error): number {
  if (validation.n === 0) return NaN;
  return selectOn(predictLogits(model, validation.x, validation.n), model.outputs[0].shape[1] as number,
    validation.labels);
}

/** The model's weights as they are (not copies). */
const current = (model: tf.LayersModel): Named[] =>
  model.weights.map((w) => ({ name: w.name, tensor: w.read() }));

/**
 * The soft targets at T (or the teacher's logits for logit matching) and the soft term's constant floor, once per run.
 */
interface Targets {
  useTeacher: boolean;
  teacherTargets?: Float32Array;
  /** T²·H(teacher at T) per row: the soft cross-entropy's floor, subtracted to log T²·KL. */
  teacherFloor?: Float64Array;
}

function prepareTargets(name: string, train: TrainingSet, config: TrainConfig, classes: number): Targets {
  const { temperature, softWeight, hardWeight, softKind } = config.loss;
  const useTeacher = Boolean(train.teacherLogits) && softWeight > 0;
  if (!useTeacher && hardWeight === 0) {
    throw new Error(`${name}: no teacher and hardWeight 0 leaves nothing to learn from`);
  }
  if (train.teacherLogits && train.teacherLogits.length !== train.n * classes) {
    throw new Error(
      `${name}: teacherLogits has ${train.teacherLogits.length} values, expected ${train.n} × ${classes}`,
    );
  }
  if (!useTeacher) return { useTeacher };
  const teacherTargets = softKind === 'soft' ?
    softmaxRowsAt(train.teacherLogits!, classes, temperature) :
    train.teacherLogits!;
  // Logged as the difference (T²·KL), since at T = 20 the floor (~900 on MNIST) hides every change in the
  // cross-entropy.
  const teacherFloor = softKind === 'soft' ? scaledEntropies(teacherTargets, classes, temperature ** 2) : undefined;
  return { useTeacher, teacherTargets, teacherFloor };
}

/** Where training stands: what a checkpoint saves and a resumed run restores. */
interface Progress {
  history: EpochRecord[];
  best: { epoch: number; error: number; weights: Named[] | null };
  average: WeightAverage;
  startEpoch: number;
  startBatch: number;
  generation: number;
}

async function restore(model: tf.LayersModel, optimizer: tf.Optimizer, options: TrainOptions,
  log: (line: string) => void, name: string, config: TrainConfig): Promise<Progress> {
  const fresh: Progress = { history: [], best: { epoch: -1, error: Infinity, weights: null },
    average: { count: 0, weights: null }, startEpoch: 0, startBatch: 0, generation: 0 };
  if (!options.resume || !options.checkpointDir) return fresh;
  const checkpoint = await loadCheckpoint(options.checkpointDir);
  if (!checkpoint) return fresh;
  const state = checkpoint.state as { history: EpochRecord[]; bestEpoch: number; bestError: number;
    averageCount?: number };
  const problem = resumedAverageProblem(state.averageCount ?? 0, Boolean(checkpoint.average), checkpoint.epoch,
    config);
  if (problem) {
    tf.dispose([...checkpoint.model, ...checkpoint.optimizer, ...checkpoint.best ?? [], ...checkpoint.average ?? []]
      .map((t) => t.tensor));
    throw new Error(`${name}: ${problem}`);
  }
  model.setWeights(checkpoint.model.map((t) => t.tensor));
  tf.dispose(checkpoint.model.map((t) => t.tensor));
  await optimizer.setWeights(checkpoint.optimizer);
  // setWeights copies the slots into new variables and reads the step count: the loaded tensors are spent.
  tf.dispose(checkpoint.optimizer.map((t) => t.tensor));
  log(`${name}: resumed from ${options.checkpointDir} at epoch ${checkpoint.epoch + 1}, batch ${checkpoint.batch}`);
  return {
    history: [...state.history],
    best: { epoch: state.bestEpoch, error: state.bestError ?? Infinity, weights: checkpoint.best },
    average: { count: state.averageCount ?? 0, weights: checkpoint.average ?? null },
    startEpoch: checkpoint.epoch,
    startBatch: checkpoint.batch,
    generation: checkpoint.generation + 1,
  };
}

/**
 * A resumed run's weight average must hold the epochs its config averages so far, and be there when it holds any (a
 * checkpoint written under another averageWeights, or before averaging existed, would silently average fewer).
 */
function resumedAverageProblem(count: number, saved: boolean, completedEpochs: number,
  config: TrainConfig): string | undefined {
  const from = config.averageWeights?.fromEpoch;
  const expected = from === undefined ? 0 : Math.max(0, completedEpochs - from + 1);
  if (count === expected && saved === count > 0) return undefined;
  return `the checkpoint's weight average holds ${count} epochs${saved ? '' : ' (and no weights)'} where ` +
    `averageWeights expects ${expected} after ${completedEpochs}: it was written under another config; remove the ` +
    `checkpoint folder to train afresh`;
}

/** One optimizer step on the given rows; returns the batch's loss and each term (and T²·KL when distilling). */
function trainStep(model: tf.LayersModel, optimizer: tf.Optimizer, train: TrainingSet, rows: Int32Array,
  xBatch: Float32Array, config: TrainConfig, targets: Targets, classes: number): Record<string, number> {
  const { temperature, softWeight, hardWeight, softKind } = config.loss;
  const labels = Int32Array.from(rows, (r) => train.labels[r]);
  const soft = targets.teacherTargets ? gatherRows(targets.teacherTargets, classes, rows) : undefined;
  const values = tf.tidy(() => {
    const x = tf.tensor2d(xBatch, [rows.length, train.features]); // [batch, features]
    const y = tf.tensor1d(labels, 'int32'); // [batch]
    const teacher = soft ? tf.tensor2d(soft, [rows.length, classes]) : undefined; // [batch, classes]
    let terms: LossTerms = {};
    const loss = optimizer.minimize(() => {
      const logits = model.apply(x, { training: true }) as tf.Tensor; // [batch, classes]
      terms = {};
      if (teacher) {
        terms.soft = { weight: softWeight, value: softKind === 'soft' ?
          softTargetLoss(logits, teacher, temperature) :
          logitMatchingLoss(logits, teacher) };
      }
      if (hardWeight > 0) terms.hard = { weight: targets.useTeacher ? hardWeight : 1, value: hardLabelLoss(logits, y) };
      // Kept past the gradient scope so each term can be logged; read and freed just below.
      for (const term of Object.values(terms)) tf.keep(term.value);
      return weightedSum(terms);
    }, true)!;
    const termValues = Object.entries(terms).map(([k, t]) => [k, t.value.dataSync()[0]] as const);
    tf.dispose(Object.values(terms).map((t) => t.value));
    return { total: loss.dataSync()[0], ...Object.fromEntries(termValues) } as Record<string, number>;
  });
  if (targets.teacherFloor) {
    let floor = 0;
    for (const r of rows) floor += targets.teacherFloor[r];
    values.kl = values.soft - floor / rows.length;
  }
  // tfjs applies layer constraints only when a weight is written, which minimize() never does.
  enforceConstraints(model);
  return values;
}

/** The epoch's line: loss and terms, validation error, learning rate, momentum, speed and ETA. */
function epochLine(name: string, config: TrainConfig, record: EpochRecord, hasValidation: boolean,
  stoppedEarly: boolean): string {
  const termText = Object.entries(record.terms).map(([k, v]) => `${k} ${v.toFixed(4)}`).join(', ');
  const remaining = (config.epochs - record.epoch) * record.seconds;
  return `${name} epoch ${record.epoch}/${config.epochs}  loss ${record.loss.toFixed(4)}${
    termText ? ` (${termText})` : ''
  }  ` +
    `${hasValidation ? `val err ${(record.validationError * 100).toFixed(2)}%` : 'no validation'}${
      record.averagedEpochs ? ` (mean of ${record.averagedEpochs})` : ''
    }  lr ${
      record.learningRate.toPrecision(3)
    }` +
    `${record.momentum !== undefined ? ` m ${record.momentum.toFixed(3)}` : ''}  ${record.seconds.toFixed(1)}s  ` +
    `${Math.round(record.examplesPerSecond)} ex/s  ETA ${stoppedEarly ? 'early stop' : formatDuration(remaining)}`;
}

/**
 * Keeps a copy of the scored weights (the epoch's own, or the running mean when averaging) when they are the best so
 * far (with no validation rows, every epoch's are); true when patience ran out.
 */
function selectEpoch(scored: Named[], progress: Progress, record: EpochRecord, hasValidation: boolean,
  patience: number): boolean {
  const { best } = progress;
  if (!hasValidation || record.validationError < best.error || best.epoch < 0) {
    tf.dispose(best.weights?.map((w) => w.tensor) ?? []);
    progress.best = { epoch: record.epoch, error: record.validationError,
      weights: scored.map((w) => ({ name: w.name, tensor: tf.clone(w.tensor) })) };
    return false;
  }
  return patience > 0 && record.epoch - best.epoch >= patience;
}

/** What one epoch's batches need from trainModel. */
interface EpochContext {
  model: tf.LayersModel;
  optimizer: tf.Optimizer;
  train: TrainingSet;
  config: TrainConfig;
  targets: Targets;
  classes: number;
  options: TrainOptions;
  name: string;
  log: (line: string) => void;
  save: (epoch: number, batch: number) => Promise<void>;
}

/** Loss sums weighted by rows and the rows seen; interrupted when shouldStop asked (a checkpoint is saved first). */
interface BatchesRun {
  interrupted: boolean;
  sums: Record<string, number>;
  seen: number;
}

/** The epoch's batches from `startBatch` on, in the order its seed gives, with a progress bar. */
async function runBatches(run: EpochContext, epoch: number, startBatch: number, lr: number): Promise<BatchesRun> {
  const { model, optimizer, train, config, targets, classes, options, name } = run;
  const epochStart = performance.now();
  // One generator per epoch, derived from the seed: a resumed epoch replays the same order.
  const rng = createRng(config.seed * 100003 + epoch);
  const order = options.sampler ? options.sampler(epoch, rng) : shuffled(train.n, rng);
  const batches = Math.ceil(order.length / config.batchSize);
  const bar = epochProgress(batches, `${name} ${epoch + 1}/${config.epochs}`);
  const sums: Record<string, number> = { total: 0 };
  let seen = 0;
  try {
    for (let b = startBatch; b < batches; b++) {
      if (options.shouldStop?.()) {
        await run.save(epoch, b);
        const where = options.checkpointDir ? ` to ${options.checkpointDir}` : '';
        run.log(`${name}: stopped at epoch ${epoch + 1}, batch ${b}; checkpoint saved${where}`);
        return { interrupted: true, sums, seen };
      }
      const rows = order.subarray(b * config.batchSize, Math.min(order.length, (b + 1) * config.batchSize));
      const gathered = gatherRows(train.x, train.features, rows);
      const x = options.augment ? options.augment(gathered, rows.length, rng) : gathered;
      const values = trainStep(model, optimizer, train, rows, x, config, targets, classes);
      if (!Number.isFinite(values.total)) {
        // Diverged: every later step would be NaN too, and the epoch would still be logged as trained.
        throw new Error(`${name}: the loss became ${values.total} at epoch ${epoch + 1}, batch ${b + 1} ` +
          `(lr ${lr.toPrecision(3)}); lower the learning rate or add a momentum ramp`);
      }
      for (const [k, v] of Object.entries(values)) sums[k] = (sums[k] ?? 0) + v * rows.length;
      seen += rows.length;
      const rate = Math.round(seen / ((performance.now() - epochStart) / 1000));
      bar.update(b + 1, { loss: (sums.total / seen).toFixed(4), rate });
    }
  } finally {
    bar.stop();
  }
  return { interrupted: false, sums, seen };
}

/** The epoch as history keeps it: mean loss and terms over the rows seen, errors, schedule and speed. */
function epochRecord(epoch: number, lr: number, momentum: number | undefined, run: BatchesRun, seconds: number,
  scores: { valError: number; monitorError?: number; averagedEpochs?: number }): EpochRecord {
  const { valError: validationError, monitorError, averagedEpochs } = scores;
  const means = Object.entries(run.sums).map(([k, v]) => [k, v / Math.max(1, run.seen)]);
  const { total, ...terms } = Object.fromEntries(means) as Record<string, number>;
  return {
    epoch: epoch + 1,
    learningRate: lr,
    ...(momentum !== undefined ? { momentum } : {}),
    loss: total,
    terms,
    validationError,
    ...(monitorError !== undefined ? { monitorError } : {}),
    ...(averagedEpochs !== undefined ? { averagedEpochs } : {}),
    seconds,
    examplesPerSecond: run.seen / seconds,
  };
}

/**
 * Trains `model` on `train` and selects on `validation`: hard labels alone, or distillation from
 * the teacher's logits (soft targets at temperature T scaled by T², plus a low-weight hard term).
 * Every epoch is checkpointed; a resumed run continues at the batch where the last one stopped,
 * with the same shuffles. At the end the model holds the weights of its best validation epoch (with no validation rows,
 * its last); with averageWeights, the best of the running means.
 *
 * @example
 *   const result = await trainModel(model, trainSet, validationSet, { epochs: 20, optimizer: { kind: 'momentum',
 *     learningRate: 0.05 } });
 */
export async function trainModel(model: tf.LayersModel, train: TrainingSet, validation: TrainingSet,
  configInput: TrainConfigInput, options: TrainOptions = {}): Promise<TrainResult> {
  const config = TrainConfig.parse(configInput);
  const log = options.log ?? ((line: string) => console.error(line));
  const name = options.name ?? 'train';
  const classes = model.outputs[0].shape[1] as number;
  const targets = prepareTargets(name, train, config, classes);
  const optimizer = createOptimizer(config.optimizer);
  const progress = await restore(model, optimizer, options, log, name, config).catch((error: unknown) => {
    optimizer.dispose(); // Adam's accumulated β powers are variables of their own
    throw error;
  });
  const save = async (epoch: number, batch: number) => {
    if (!options.checkpointDir) return;
    const optimizerWeights = await optimizer.getWeights();
    // getWeights makes a new scalar for the step count each call; the slots are the optimizer's own.
    const stepCount = optimizerWeights.find((w) => w.name === 'iter')?.tensor;
    await saveCheckpoint(options.checkpointDir, {
      epoch,
      batch,
      state: { history: progress.history, bestEpoch: progress.best.epoch, bestError: progress.best.error, config,
        averageCount: progress.average.count },
      model: current(model),
      optimizer: optimizerWeights,
      best: progress.best.weights,
      average: progress.average.weights,
    }, progress.generation++).finally(() => stepCount?.dispose());
  };

  const run: EpochContext = { model, optimizer, train, config, targets, classes, options, name, log, save };
  const started = performance.now();
  let interrupted = false;
  let stoppedEarly = false;
  for (let epoch = progress.startEpoch; epoch < config.epochs && !interrupted && !stoppedEarly; epoch++) {
    const epochStart = performance.now();
    const { lr, momentum } = scheduleEpoch(optimizer, config, epoch);
    const batches = await runBatches(run, epoch, epoch === progress.startEpoch ? progress.startBatch : 0, lr);
    interrupted = batches.interrupted;
    if (interrupted) break;
    const averaging = config.averageWeights !== undefined && epoch + 1 >= config.averageWeights.fromEpoch;
    if (averaging) addToAverage(progress.average, model);
    const score = () => ({
      valError: validationError(model, validation, options.selectOn),
      monitorError: options.monitor ? validationError(model, options.monitor) : undefined,
    });
    const scoresAnything = validation.n > 0 || options.monitor !== undefined;
    const scores = averaging && scoresAnything ? withWeights(model, progress.average.weights!, score) : score();
    // The epoch's seconds include scoring it, as they always have: the ETA and ex/s in reports count them.
    const record = epochRecord(epoch, lr, momentum, batches, (performance.now() - epochStart) / 1000,
      { ...scores, ...(averaging ? { averagedEpochs: progress.average.count } : {}) });
    progress.history.push(record);
    if (averaging || !config.averageWeights) {
      const scored = averaging ? progress.average.weights! : current(model);
      stoppedEarly = selectEpoch(scored, progress, record, validation.n > 0, config.patience);
    }
    log(epochLine(name, config, record, validation.n > 0, stoppedEarly));
    await save(epoch + 1, 0);
  }

  const { best } = progress;
  if (best.weights && !interrupted) model.setWeights(best.weights.map((w) => w.tensor));
  tf.dispose([...best.weights ?? [], ...progress.average.weights ?? []].map((w) => w.tensor));
  optimizer.dispose();
  return {
    history: progress.history,
    bestEpoch: best.epoch,
    bestValidationError: best.error,
    interrupted,
    stoppedEarly,
    seconds: (performance.now() - started) / 1000,
  };
}

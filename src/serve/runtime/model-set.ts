import * as tf from '@tensorflow/tfjs';
import type { LoadedBundle, Manifest } from '../../bundle/index.js';
import { softmaxRowsAt } from '../../distill/index.js';
import { averageMemberArrays, type Averaging } from '../../ensemble/index.js';
import { compileDenseForward, type DenseForward, engineInfo } from '../../engine/index.js';
import type { OnnxLogits } from '../../export/index.js';
import { Batcher, type BatcherOptions, ItemFailure } from './batcher.js';
import type { ModelName } from '../config.js';
import { ensembleFromBundle, type EnsembleModels, type EnsembleOptions, predictEnsemble,
  specialistDistributions } from './ensemble-adapter.js';

/** One instance's answer before formatting: the distribution and, on the ensemble path, how it was made. */
export interface Prediction {
  probabilities: Float32Array; // [N]
  /** Student and generalist: the logits z that `probabilities` is softmax(z) of, for answers at another temperature. */
  logits?: Float32Array; // [N]
  ensemble?: { generalistTop: number; active: string[]; iterations: number };
}

/** One request's rows, row-major [rows, inputSize]. */
export interface BatchItem {
  x: Float32Array;
  rows: number;
}

export interface ModelSetHooks {
  onBatch?: (model: ModelName, rows: number) => void;
  onDepth?: (model: ModelName, depth: number) => void;
  onQueued?: (model: ModelName, seconds: number) => void;
  onRun?: (model: ModelName, seconds: number) => void;
  /** Per example of an ensemble batch, the specialists that ran on it. */
  onActive?: (active: string[][]) => void;
  /** Each member's share of a members batch (its forward pass alone). */
  onMember?: (member: string, seconds: number) => void;
}

/** Each model's forward pass on a whole batch: x is [rows, inputSize] row-major → one Prediction per row. */
type Forward = (x: Float32Array, rows: number) => Promise<Prediction[]>;

function rowsOf(probabilities: Float32Array, n: number): Float32Array[] {
  return Array.from({ length: probabilities.length / n }, (_, b) => probabilities.slice(b * n, (b + 1) * n));
}

/**
 * Each model's compiled BLAS forward, compiled once per bundle: on the blas engine a dense stack
 * skips tfjs, whose per-call cost rivals the matrix products at serving batch sizes. Elsewhere the
 * user chose the backend (a GPU, or stock for comparison) and every model runs through tfjs.
 */
function compileAll(models: tf.LayersModel[]): Map<tf.LayersModel, DenseForward> {
  if (engineInfo().backend !== 'blas') return new Map();
  return new Map(models.flatMap((model) => {
    const forward = compileDenseForward(model);
    return typeof forward === 'string' ? [] : [[model, forward] as const];
  }));
}

/** The ensemble's members through their compiled forwards where they have one, tfjs otherwise. */
function compiledLogitsOf(compiled: Map<tf.LayersModel, DenseForward>): EnsembleModels['logitsOf'] {
  if (compiled.size === 0) return undefined;
  return (model, x) => {
    const forward = compiled.get(model);
    if (!forward) return model.apply(x, { training: false }) as tf.Tensor2D;
    const rows = x.shape[0];
    return tf.tensor2d(forward(x.dataSync() as Float32Array, rows), [rows, forward.outputSize]); // [rows, outputs]
  };
}

/** Host rows to host logits outside tfjs: the compiled blas forward, or ONNX Runtime. */
type HostLogits = (x: Float32Array, rows: number) => Float32Array | Promise<Float32Array>;

/** A model's logits through tfjs, read without blocking the event loop: the path where no host runtime compiled it. */
function tfjsLogits(model: tf.LayersModel, inputSize: number): HostLogits {
  // Requests are flat rows; a convolutional model takes them in its own shape ([B, 28, 28, 1]).
  const shape = model.inputs[0].shape.slice(1) as number[];
  return async (x, rows) => {
    const logits = tf.tidy(() => {
      const input = tf.tensor2d(x, [rows, inputSize]);
      return model.predict(shape.length > 1 ? input.reshape([-1, ...shape]) : input) as tf.Tensor2D; // [B, N]
    });
    try {
      return (await logits.data()) as Float32Array;
    } finally {
      logits.dispose();
    }
  };
}

/** Rows of logits as answers: T = 1 softmax gives the served distribution, and the logits are kept for other T. */
function answersOf(logits: Float32Array, numClasses: number): Prediction[] {
  const zRows = rowsOf(logits, numClasses);
  return rowsOf(softmaxRowsAt(logits, numClasses, 1), numClasses).map((probabilities, b) => ({ probabilities,
    logits: zRows[b] })
  );
}

/** Student and generalist: one model's logits, from a host runtime (compiled forward, ONNX Runtime) or tfjs. */
function logitsForward(model: tf.LayersModel, numClasses: number, inputSize: number,
  host: HostLogits | undefined): Forward {
  const logitsOf = host ?? tfjsLogits(model, inputSize);
  return async (x, rows) => answersOf(await logitsOf(x, rows), numClasses);
}

/**
 * The generalist and its fellow members, each on the whole batch (timed alone, for onMember), their
 * distributions pooled. The pooled log-probabilities are the answer's logits: softmax of them is it.
 */
function membersForward(members: { id: string; model: tf.LayersModel }[], averaging: Averaging,
  compiled: Map<tf.LayersModel, DenseForward>, numClasses: number, inputSize: number,
  onMember: ModelSetHooks['onMember']): Forward {
  const logitsOf = members.map(({ model }) => compiled.get(model) ?? tfjsLogits(model, inputSize));
  return async (x, rows) => {
    const memberLogits: Float32Array[] = [];
    for (const [i, { id }] of members.entries()) {
      const started = performance.now();
      memberLogits.push(await logitsOf[i](x, rows));
      onMember?.(id, (performance.now() - started) / 1000);
    }
    return answersOf(averageMemberArrays(memberLogits, numClasses, averaging), numClasses);
  };
}

function ensembleForward(models: EnsembleModels, options: EnsembleOptions, hooks: ModelSetHooks,
  inputSize: number): Forward {
  return async (x, rows) => {
    // One call per batch: one generalist pass, each active specialist once on its rows, one combine.
    const input = tf.tensor2d(x, [rows, inputSize]);
    let out: ReturnType<typeof predictEnsemble>;
    try {
      out = predictEnsemble(models, input, options);
    } finally {
      input.dispose();
    }
    try {
      hooks.onActive?.(out.active);
      const probabilities = rowsOf((await out.probabilities.data()) as Float32Array, models.numClasses);
      return probabilities.map((p, b) => ({
        probabilities: p,
        ensemble: { generalistTop: out.generalistTop[b], active: out.active[b], iterations: out.iterations },
      }));
    } finally {
      out.probabilities.dispose();
    }
  };
}

/**
 * A loaded bundle behind one batcher per model. Requests hold on to the set they started with,
 * so a reload swaps sets without touching requests in flight; the old set is disposed once idle.
 */
export class ModelSet {
  readonly dir: string;
  readonly manifest: Manifest;
  readonly inputSize: number;
  readonly numClasses: number;
  readonly classNames: readonly string[];
  /** Models this bundle can serve, and why the others cannot. */
  readonly unavailable = new Map<ModelName, string>();
  private readonly batchers = new Map<ModelName, Batcher<BatchItem, Prediction[]>>();
  private readonly forwards = new Map<ModelName, Forward>();
  private inCanary = false;
  /** The generalist's forward, which tells whether a failed request's own rows overflow the models. */
  private readonly generalistForward: Forward;
  private readonly ensembleModels: EnsembleModels | undefined;

  /**
   * `studentLogits` serves the student through another runtime (ONNX Runtime) instead of the
   * compiled forward; the set releases it with the bundle.
   */
  constructor(private readonly bundle: LoadedBundle, options: BatcherOptions, hooks: ModelSetHooks = {},
    private readonly studentLogits?: OnnxLogits) {
    this.dir = bundle.dir;
    this.manifest = bundle.manifest;
    this.inputSize = bundle.manifest.dataset.inputShape.reduce((a, b) => a * b, 1);
    this.classNames = bundle.manifest.dataset.classNames;
    this.numClasses = this.classNames.length;
    const compiled = compileAll([bundle.generalist, ...(bundle.student ? [bundle.student] : []),
      ...bundle.specialists.values(), ...bundle.members.values()]);
    this.generalistForward = logitsForward(bundle.generalist, this.numClasses, this.inputSize,
      compiled.get(bundle.generalist));
    const forwards = new Map<ModelName, Forward>([['generalist', this.generalistForward]]);
    if (bundle.student) {
      forwards.set('student',
        logitsForward(bundle.student, this.numClasses, this.inputSize, studentLogits ?? compiled.get(bundle.student)));
    } else this.unavailable.set('student', 'the bundle has no student');
    const { models, options: combine } = ensembleFromBundle(bundle);
    if (typeof combine === 'string') this.unavailable.set('ensemble', combine);
    else {
      this.ensembleModels = { ...models, logitsOf: compiledLogitsOf(compiled) };
      // The canary's own row is not traffic: it must not show in the activation metrics.
      const onActive = (active: string[][]) => {
        if (!this.inCanary) hooks.onActive?.(active);
      };
      forwards.set('ensemble', ensembleForward(this.ensembleModels, combine, { onActive }, this.inputSize));
    }
    const membersInfo = bundle.manifest.members;
    if (!membersInfo) {
      this.unavailable.set('members',
        'the bundle has no members (a pipeline whose student.teacher is { "kind": "members" } trains them)');
    } else {
      const members = [{ id: 'generalist', model: bundle.generalist },
        ...[...bundle.members].map(([id, model]) => ({ id, model }))];
      const onMember = (id: string, seconds: number) => {
        if (!this.inCanary) hooks.onMember?.(id, seconds);
      };
      forwards.set('members',
        membersForward(members, membersInfo.averaging, compiled, this.numClasses, this.inputSize, onMember));
    }
    for (const [name, forward] of forwards) {
      this.forwards.set(name, forward);
      const run = (items: BatchItem[]) => this.runBatch(forward, items);
      this.batchers.set(name, new Batcher(name, run, (item) => item.rows, options, {
        onBatch: (rows) => hooks.onBatch?.(name, rows),
        onDepth: (depth) => hooks.onDepth?.(name, depth),
        onQueued: (seconds) => hooks.onQueued?.(name, seconds),
        onRun: (seconds) => hooks.onRun?.(name, seconds),
      }));
    }
  }

  has(model: ModelName): boolean {
    return this.batchers.has(model);
  }

  /** Queues rows for `model`; 503 when its queue is full, 504 past `deadlineAt` (performance.now() time). */
  predict(model: ModelName, item: BatchItem, deadlineAt: number): Promise<Prediction[]> {
    return this.batcher(model).submit(item, deadlineAt);
  }

  /** Like predict, but declines (undefined) rather than crowd real traffic: for shadow runs. */
  offer(model: ModelName, item: BatchItem, deadlineAt: number): Promise<Prediction[]> | undefined {
    return this.batcher(model).offer(item, deadlineAt);
  }

  /**
   * Per row of `item`, each specialist in `active[row]` on its own: its distribution over its
   * classes then its dustbin. Runs at once, outside the batcher: it explains a few rows on request.
   */
  specialistViews(item: BatchItem, active: readonly string[][]): Map<string, Float32Array>[] {
    if (!this.ensembleModels) throw new Error(`the ensemble is not served: ${this.unavailable.get('ensemble')}`);
    const x = tf.tensor2d(item.x, [item.rows, this.inputSize]);
    try {
      return specialistDistributions(this.ensembleModels.specialists, x, active);
    } finally {
      x.dispose();
    }
  }

  /**
   * Runs every served model once on an all-zeros row, outside the batchers, and says what is wrong
   * with its answer: a bundle whose checksums match can still hold NaN weights, and it must fail
   * before it serves, not on every request after. Empty when every answer is a distribution.
   */
  async canary(): Promise<string[]> {
    const problems: string[] = [];
    this.inCanary = true;
    for (const [name, forward] of this.forwards) {
      try {
        const [answer] = await forward(new Float32Array(this.inputSize), 1);
        const p = answer.probabilities;
        const sum = p.reduce((a, b) => a + b, 0);
        if (p.length !== this.numClasses) {
          problems.push(`${name}: ${p.length} probabilities for ${this.numClasses} classes`);
        } else if (!allFinite(p) || p.some((v) => v < 0) || Math.abs(sum - 1) > 1e-3) {
          problems.push(`${name}: its answer is not a distribution (sum ${sum})`);
        }
      } catch (error) {
        problems.push(`${name}: ${(error as Error).message}`);
      }
    }
    if (this.ensembleModels) {
      // A zeros row reaches only the specialists of the generalist's top class: run them all.
      const views =
        this.specialistViews({ x: new Float32Array(this.inputSize), rows: 1 }, [
          this.ensembleModels.specialists.map((s) => s.id),
        ])[0];
      for (const [id, p] of views) if (!allFinite(p)) problems.push(`specialist ${id}: its distribution is not finite`);
    }
    this.inCanary = false;
    return problems;
  }

  async idle(): Promise<void> {
    await Promise.all([...this.batchers.values()].map((b) => b.idle()));
  }

  dispose(): void {
    this.bundle.dispose();
    void this.studentLogits?.release();
  }

  private batcher(model: ModelName): Batcher<BatchItem, Prediction[]> {
    const batcher = this.batchers.get(model);
    if (!batcher) throw new Error(`model ${model} is not served: ${this.unavailable.get(model)}`);
    return batcher;
  }

  /**
   * Concatenates the requests' rows into one [B, inputSize] batch, runs it, and splits the answer
   * back. A request whose rows make a model non-finite (finite float32 inputs can still overflow a
   * forward pass) gets its own 422. When the whole batch throws (the ensemble's combine refuses a
   * non-finite row), its halves run again, and theirs, down to the request at fault: its
   * batch-mates are answered, at the cost of ~2·log2(requests) smaller calls, only on that path.
   */
  private async runBatch(forward: Forward, items: BatchItem[]): Promise<(Prediction[] | ItemFailure)[]> {
    let predictions: Prediction[];
    try {
      predictions = await forward(concatRows(items, this.inputSize), items.reduce((sum, item) => sum + item.rows, 0));
    } catch (error) {
      if (items.length === 1) return [new ItemFailure((await this.nonFiniteFailure(items[0])) ?? error)];
      const half = Math.ceil(items.length / 2);
      return [...(await this.runBatch(forward, items.slice(0, half))),
        ...(await this.runBatch(forward, items.slice(half)))];
    }
    let row = 0;
    return items.map((item) => {
      const answer = predictions.slice(row, row += item.rows);
      const bad = answer.findIndex((p) => !allFinite(p.probabilities));
      return bad < 0 ? answer : new ItemFailure(nonFiniteError(bad));
    });
  }

  /**
   * The 422 for a request whose failure is its own rows overflowing a model (the generalist, or any
   * specialist the ensemble could route them to), else undefined: the failure is then the server's.
   */
  private async nonFiniteFailure(item: BatchItem): Promise<unknown> {
    try {
      const generalist = await this.generalistForward(item.x, item.rows);
      let bad = generalist.findIndex((p) => !allFinite(p.logits ?? p.probabilities));
      if (bad < 0 && this.ensembleModels) {
        const everyone = Array.from({ length: item.rows }, () => this.ensembleModels!.specialists.map((s) => s.id));
        bad = this.specialistViews(item, everyone).findIndex((views) => [...views.values()].some((p) => !allFinite(p)));
      }
      return bad < 0 ? undefined : nonFiniteError(bad);
    } catch {
      return undefined;
    }
  }
}

function concatRows(items: BatchItem[], inputSize: number): Float32Array {
  const x = new Float32Array(items.reduce((sum, item) => sum + item.rows, 0) * inputSize);
  let at = 0;
  for (const item of items) {
    x.set(item.x, at);
    at += item.x.length;
  }
  return x;
}

function allFinite(values: Float32Array): boolean {
  for (let i = 0; i < values.length; i++) if (!Number.isFinite(values[i])) return false;
  return true;
}

const nonFiniteError = (row: number) => new NonFiniteRow(row);

/**
 * Row `row` of a request made a model's output non-finite: its values are so far outside the range
 * the model was trained on that the forward pass overflows. Each API answers it in its own terms.
 */
export class NonFiniteRow extends Error {
  constructor(readonly row: number) {
    super(`row ${row} makes the model's output non-finite`);
  }
}

/** A bundle that loaded and checked but answers nonsense (NaN weights): it is never swapped in. */
export class CanaryError extends Error {
  constructor(message: string, readonly problems: string[]) {
    super(message);
  }
}

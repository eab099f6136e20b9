import type { ChildProcess } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type * as tf from '@tensorflow/tfjs';
import { runChild } from '../cli/index.js';
import { jitterBatches } from '../data/index.js';
import type { TrainConfigInput, TrainingSet } from '../distill/index.js';
import { type BackendName, YOUNG_GENERATION_FLAG } from '../engine/index.js';
import { buildMlp, type MlpConfig } from '../nets/index.js';
import { writeAtomic, writeJson } from '../files/index.js';
import { type RunRecord, runSetup, trainedRecord, trainOnce } from './runner.js';

/** A run as plain data, so that another process can train it. */
export interface RunSpec {
  name: string;
  net: MlpConfig;
  classes: number;
  train: TrainingSet;
  validation: TrainingSet;
  config: TrainConfigInput;
  /** ±maxShift px jitter on every batch, for images of this shape. */
  jitter?: { inputShape: number[]; maxShift: number };
  /** Scored every epoch for the report's curves, never for selection (TrainOptions.monitor). */
  monitor?: TrainingSet;
}

/** A training set whose arrays a worker reads from files (raw little-endian float32 / int32). */
export interface StoredSet {
  n: number;
  features: number;
  x: string;
  labels: string;
  teacherLogits?: string;
}

/** What a worker process reads: one RunSpec, its arrays in files, and the engine to train on. */
export interface WorkerJob extends Omit<RunSpec, 'train' | 'validation' | 'monitor'> {
  dir: string;
  backend: BackendName;
  blasThreads: number;
  train: StoredSet;
  validation: StoredSet;
  monitor?: StoredSet;
}

export interface RunPoolOptions {
  /** Runs trained at once. 1 trains in this process, one after another; more spawn worker processes. */
  workers: number;
  /** The backend the workers initialise (this process's). */
  backend: BackendName;
  /** OpenBLAS threads per worker; default the cores shared out among the workers (at least 1). */
  blasThreads?: number;
  log: (line: string) => void;
  shouldStop: () => boolean;
}

const WORKER_MAIN = fileURLToPath(new URL('./worker-main.ts', import.meta.url));

/**
 * `trainOnce` on a spec, as this process and a worker both call it: the run's setup string (what
 * decides whether a saved run is reused) must come out the same in both.
 */
export function trainSpec(dir: string, spec: RunSpec, { log, shouldStop }: Pick<RunPoolOptions, 'log' | 'shouldStop'>) {
  return trainOnce(dir, spec.name, () => buildMlp(spec.net, spec.train.features, spec.classes), spec.train,
    spec.validation, spec.config, {
    augment: spec.jitter ? jitterBatches(spec.jitter.inputShape, spec.jitter.maxShift) : undefined,
    log,
    setup: spec.net,
    shouldStop,
    monitor: spec.monitor,
  });
}

/**
 * Trains an experiment's runs, up to `workers` at a time, each once per experiment folder
 * (`trainOnce`). On the CPU engine much of a training step outside the matrix products is
 * single-threaded JavaScript: here (measured before the engine kept its heap, so the absolute
 * figures are lower than today's) two 800-800 students side by side, one OpenBLAS thread each,
 * trained ~6,700 examples/s each, one alone on two threads ~7,500–9,600. The 1200-1200 teacher is
 * different: beside a student it fell from ~3,400 to ~2,250 examples/s (its larger matrices
 * probably contend for cache and memory bandwidth), so it trains `alone`. Runs start in the order
 * asked for; the caller decides what may run together by what it awaits.
 */
export class RunPool {
  private free: number;
  private readonly waiting: { slots: number; start: () => void }[] = [];
  private readonly children = new Set<ChildProcess>();
  private readonly files = new WeakMap<ArrayBufferView, Promise<string>>();
  private fileCount = 0;
  private closed = false;
  private readonly jobDir: string;
  private readonly stopWatch: NodeJS.Timeout | undefined;
  private readonly killChildren = () => {
    for (const child of this.children) child.kill('SIGKILL');
  };

  constructor(private readonly dir: string, private readonly options: RunPoolOptions) {
    if (!(Number.isInteger(options.workers) && options.workers >= 1)) {
      throw new Error(`workers must be a whole number ≥ 1, got ${options.workers}`);
    }
    this.free = options.workers;
    this.jobDir = join(dir, `.jobs-${process.pid}`);
    if (options.workers > 1) {
      // Workers run in their own process group, so a terminal's Ctrl-C reaches them once, from here:
      // a second SIGINT would make them quit without their checkpoint.
      this.stopWatch = setInterval(() => {
        if (!options.shouldStop()) return;
        for (const child of this.children) child.kill('SIGINT');
        clearInterval(this.stopWatch);
      }, 200);
      this.stopWatch.unref();
      process.on('exit', this.killChildren);
    }
  }

  /**
   * Trains the run (or reloads it when it is already trained) and returns the model. `alone`
   * trains it in this process with every worker slot held: a run whose matrix products are large
   * enough to use every core (the MNIST teacher) goes faster alone than beside another run.
   */
  async train(spec: RunSpec, { alone = false } = {}): Promise<{ model: tf.LayersModel; record: RunRecord }> {
    const slots = alone ? this.options.workers : 1;
    await this.acquire(slots);
    try {
      if (!alone && this.options.workers > 1 &&
        !(await trainedRecord(this.dir, spec.name, runSetup(spec.train, spec.config, spec.net)))) {
        await this.trainInWorker(spec);
      }
      // In-process training, or reloading what the worker saved.
      return await trainSpec(this.dir, spec, this.options);
    } finally {
      this.release(slots);
    }
  }

  /** Stops unfinished workers (they checkpoint first) and removes the job files. */
  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.stopWatch);
    process.off('exit', this.killChildren);
    const exits = [...this.children].map((child) =>
      new Promise((resolve) => {
        child.once('exit', resolve);
        child.kill('SIGINT');
      })
    );
    await Promise.all(exits);
    await rm(this.jobDir, { recursive: true, force: true });
  }

  /** Runs start in the order they asked, each once its slots are free. */
  private async acquire(slots: number): Promise<void> {
    if (this.waiting.length === 0 && this.free >= slots) {
      this.free -= slots;
      return;
    }
    await new Promise<void>((start) => this.waiting.push({ slots, start }));
  }

  private release(slots: number): void {
    this.free += slots;
    while (this.waiting.length > 0 && this.waiting[0].slots <= this.free) {
      const next = this.waiting.shift()!;
      this.free -= next.slots;
      next.start();
    }
  }

  private async trainInWorker(spec: RunSpec): Promise<void> {
    // A run still queued when the experiment failed or stopped must not start a worker nobody waits
    // for; close() may come while its files are being written (and removes them), so check after too.
    const notStarted = () => new Error(`${spec.name} not started: the pool is ${this.closed ? 'closed' : 'stopping'}`);
    if (this.closed || this.options.shouldStop()) throw notStarted();
    const { train, validation, monitor, ...rest } = spec;
    const jobPath = join(this.jobDir, `${spec.name}.json`);
    try {
      const job: WorkerJob = {
        ...rest,
        dir: this.dir,
        backend: this.options.backend,
        blasThreads: this.options.blasThreads ?? Math.max(1, Math.floor(availableParallelism() / this.options.workers)),
        train: await this.store(train),
        validation: await this.store(validation),
        ...(monitor ? { monitor: await this.store(monitor) } : {}),
      };
      await writeJson(jobPath, job);
    } catch (error) {
      if (this.closed) throw notStarted();
      throw error;
    }
    if (this.closed || this.options.shouldStop()) throw notStarted();
    await runChild(WORKER_MAIN, [jobPath], {
      label: spec.name,
      nodeFlags: [YOUNG_GENERATION_FLAG],
      onLine: this.options.log,
      detached: true,
      onSpawn: (child) => {
        this.children.add(child);
        child.once('exit', () => this.children.delete(child));
      },
    });
  }

  /** Writes each array once per pool (every run shares the training images) and names its file. */
  private async store(set: TrainingSet): Promise<StoredSet> {
    const file = (array: Float32Array | Int32Array) => {
      let path = this.files.get(array);
      if (!path) {
        const target = join(this.jobDir, `${this.fileCount++}.bin`);
        path = writeAtomic(target, Buffer.from(array.buffer, array.byteOffset, array.byteLength)).then(() => target);
        this.files.set(array, path);
      }
      return path;
    };
    return {
      n: set.n,
      features: set.features,
      x: await file(set.x),
      labels: await file(set.labels),
      ...(set.teacherLogits ? { teacherLogits: await file(set.teacherLogits) } : {}),
    };
  }
}

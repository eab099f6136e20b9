import * as tf from '@tensorflow/tfjs';
import { type BackendName, compileDenseForward, createOptimizer, type DenseForward, initEngine, loadBlas,
  type OptimizerConfig } from '../engine/index.js';
import { timeAdaptive } from './timing.js';

/** The paper's MNIST teacher: the network every engine figure is quoted for. */
export const TEACHER_LAYERS = [784, 1200, 1200, 10];

export interface EngineBenchResult {
  backend: BackendName;
  matmulGflops: number;
  trainSgdExamplesPerSecond: number;
  trainAdamExamplesPerSecond: number;
  /** The serving path: the compiled dense forward where the backend is blas, else model.predict. */
  predictBatch1Micros: number;
  predictBatch64Micros: number;
  /** tfjs-layers' model.predict on the same backend, for comparison. */
  layersPredictBatch1Micros: number;
  layersPredictBatch64Micros: number;
}

function mlp(layers: number[]): tf.Sequential {
  const model = tf.sequential();
  for (let i = 1; i < layers.length; i++) {
    model.add(tf.layers.dense({
      units: layers[i],
      activation: i < layers.length - 1 ? 'relu' : 'linear',
      ...(i === 1 ? { inputShape: [layers[0]] } : {}),
    }));
  }
  return model;
}

export function trainingStep(model: tf.LayersModel, optimizer: tf.Optimizer, x: tf.Tensor, y: tf.Tensor): () => void {
  return () => {
    const loss = optimizer.minimize(
      () => tf.losses.softmaxCrossEntropy(y, model.apply(x, { training: true }) as tf.Tensor) as tf.Scalar,
      true,
    );
    loss?.dataSync();
    loss?.dispose();
  };
}

function trainingSpeed(layers: number[], batch: number, config: OptimizerConfig, budget: number, runs: number): number {
  const model = mlp(layers);
  const optimizer = createOptimizer(config);
  const x = tf.randomNormal([batch, layers[0]]);
  const y = tf.oneHot(tf.randomUniform([batch], 0, layers[layers.length - 1], 'int32'), layers[layers.length - 1]);
  const seconds = timeAdaptive(trainingStep(model, optimizer, x, y), { budget, runs });
  tf.dispose([x, y]);
  optimizer.dispose();
  model.dispose();
  return batch / seconds;
}

function layersPredictMicros(model: tf.LayersModel, batch: number, inputs: number, budget: number,
  runs: number): number {
  const x = tf.randomNormal([batch, inputs]);
  // batchSize = the whole batch: predict otherwise splits into chunks of 32, which serving never does.
  const seconds = timeAdaptive(() =>
    tf.tidy(() => {
      (model.predict(x, { batchSize: batch }) as tf.Tensor).dataSync();
    }), { budget, runs });
  x.dispose();
  return seconds * 1e6;
}

/** From a host array to host logits, as a request is served. */
function forwardMicros(forward: DenseForward, batch: number, budget: number, runs: number): number {
  const x = Float32Array.from({ length: batch * forward.inputSize }, () => Math.random() * 2 - 1);
  return timeAdaptive(() => {
    forward(x, batch);
  }, { budget, runs }) * 1e6;
}

function matmulGflops(m: number, k: number, n: number, budget: number, runs: number): number {
  const a = tf.randomNormal([m, k]);
  const b = tf.randomNormal([k, n]);
  const seconds = timeAdaptive(() =>
    tf.tidy(() => {
      tf.matMul(a, b).dataSync();
    }), { budget, runs });
  tf.dispose([a, b]);
  return (2 * m * k * n) / seconds / 1e9;
}

/**
 * Training examples/s (momentum SGD and Adam), predict latency and matmul throughput of one
 * backend, each the median of `runs` runs of about `budget` seconds.
 */
export async function benchEngine(backend: BackendName,
  { layers = TEACHER_LAYERS, batch = 128, budget = 1, runs = 5 } = {}): Promise<EngineBenchResult> {
  await initEngine({ backend, log: () => {} });
  const predictModel = mlp(layers);
  const layersPredict = [1, 64].map((b) => layersPredictMicros(predictModel, b, layers[0], budget, runs));
  // Serving compiles dense stacks to direct BLAS calls on the blas engine (src/engine/forward.ts).
  const forward = backend === 'blas' ? compileDenseForward(predictModel) : undefined;
  const servedPredict = forward && typeof forward !== 'string' ?
    [1, 64].map((b) => forwardMicros(forward, b, budget, runs)) :
    layersPredict;
  const result: EngineBenchResult = {
    backend,
    matmulGflops: matmulGflops(batch, layers[1], layers[2] ?? layers[1], budget, runs),
    trainSgdExamplesPerSecond: trainingSpeed(layers, batch, { kind: 'momentum', learningRate: 0.01, momentum: 0.9 },
      budget, runs),
    trainAdamExamplesPerSecond: trainingSpeed(layers, batch, { kind: 'adam', learningRate: 1e-3 }, budget, runs),
    predictBatch1Micros: servedPredict[0],
    predictBatch64Micros: servedPredict[1],
    layersPredictBatch1Micros: layersPredict[0],
    layersPredictBatch64Micros: layersPredict[1],
  };
  predictModel.dispose();
  return result;
}

export interface StepProfile {
  stepMs: number;
  sgemmMs: number;
  sgemmShare: number;
  /** Minor page faults per step: fresh kernel outputs faulting in, which keepFreedMemory avoids. */
  pageFaultsPerStep: number;
  kernels: { name: string; ms: number }[];
}

/**
 * Where one momentum-SGD training step spends its time on the blas backend: the BLAS calls
 * (timed by wrapping them) against everything else, plus tfjs's per-kernel breakdown.
 */
export async function profileTrainingStep(layers = TEACHER_LAYERS, batch = 128, steps = 20): Promise<StepProfile> {
  const load = loadBlas();
  if (!load.ok) throw new Error(load.reason);
  await initEngine({ backend: 'blas', log: () => {} });
  const model = mlp(layers);
  const optimizer = createOptimizer({ kind: 'momentum', learningRate: 0.01, momentum: 0.9 });
  const x = tf.randomNormal([batch, layers[0]]);
  const y = tf.oneHot(tf.randomUniform([batch], 0, layers[layers.length - 1], 'int32'), layers[layers.length - 1]);
  const step = trainingStep(model, optimizer, x, y);
  // Enough steps for the heap to reach its steady size: its first growth page-faults once.
  for (let i = 0; i < 10; i++) step();

  const blas = load.blas as unknown as Record<string, (...args: unknown[]) => void>;
  const originals = { sgemm: blas.sgemm, sgemv: blas.sgemv };
  let blasNs = 0n;
  for (const name of ['sgemm', 'sgemv'] as const) {
    blas[name] = (...args: unknown[]) => {
      const start = process.hrtime.bigint();
      originals[name](...args);
      blasNs += process.hrtime.bigint() - start;
    };
  }
  const faultsBefore = process.resourceUsage().minorPageFault;
  const start = process.hrtime.bigint();
  try {
    for (let i = 0; i < steps; i++) step();
  } finally {
    Object.assign(blas, originals);
  }
  const stepMs = Number(process.hrtime.bigint() - start) / 1e6 / steps;
  const pageFaultsPerStep = (process.resourceUsage().minorPageFault - faultsBefore) / steps;
  const sgemmMs = Number(blasNs) / 1e6 / steps;

  const profile = await tf.profile(() => step());
  const byKernel = new Map<string, number>();
  for (const k of profile.kernels) byKernel.set(k.name, (byKernel.get(k.name) ?? 0) + Number(k.kernelTimeMs));
  tf.dispose([x, y]);
  optimizer.dispose();
  model.dispose();
  return {
    stepMs,
    sgemmMs,
    sgemmShare: sgemmMs / stepMs,
    pageFaultsPerStep,
    kernels: [...byKernel].map(([name, ms]) => ({ name, ms })).sort((a, b) => b.ms - a.ms).slice(0, 8),
  };
}

import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createOptimizer, initEngine, loadBlas, type OptimizerConfig } from '../../src/engine/index.js';
import { randomHost, seededRandom } from './compare.js';

/** Every backend this machine can run, so the parity tests cover each one that exists here. */
const available: string[] = [];

beforeAll(async () => {
  await initEngine({ backend: loadBlas().ok ? 'blas' : 'cpu', log: () => {} });
  for (const name of ['blas', 'wasm', 'cpu']) {
    try {
      if (name === 'wasm') await import('@tensorflow/tfjs-backend-wasm');
      if (await tf.setBackend(name)) available.push(name);
    } catch {
      // Not available here: the parity test simply has one backend fewer to compare.
    }
  }
});

afterAll(async () => {
  await tf.setBackend(loadBlas().ok ? 'blas' : 'cpu');
});

const random = seededRandom(42);
const X = randomHost([32, 20], random);
const LABELS = Array.from({ length: 32 }, (_, i) => i % 5);

function mlp(): tf.Sequential {
  const init = (seed: number) => tf.initializers.glorotUniform({ seed });
  return tf.sequential({
    layers: [tf.layers.dense({ inputShape: [20], units: 16, activation: 'relu', kernelInitializer: init(1) }),
      tf.layers.dense({ units: 16, activation: 'relu', kernelInitializer: init(2) }),
      tf.layers.dense({ units: 5, kernelInitializer: init(3) })],
  });
}

/** Losses of `steps` full-batch steps on one backend, from identical initial weights. */
async function trainLosses(backend: string, config: OptimizerConfig, steps: number): Promise<number[]> {
  await tf.setBackend(backend);
  const model = mlp();
  const optimizer = createOptimizer(config);
  const x = tf.tensor(X.values, X.shape);
  const y = tf.oneHot(tf.tensor1d(LABELS, 'int32'), 5);
  const losses: number[] = [];
  for (let step = 0; step < steps; step++) {
    const loss = optimizer.minimize(
      () => tf.losses.softmaxCrossEntropy(y, model.apply(x, { training: true }) as tf.Tensor) as tf.Scalar,
      true,
    )!;
    losses.push(loss.dataSync()[0]);
    loss.dispose();
  }
  tf.dispose([x, y]);
  optimizer.dispose();
  model.dispose();
  return losses;
}

/** One optimizer step on softmax cross-entropy, its loss disposed. */
function crossEntropyStep(model: tf.Sequential, optimizer: tf.Optimizer, x: tf.Tensor, y: tf.Tensor): void {
  optimizer.minimize(
    () => tf.losses.softmaxCrossEntropy(y, model.apply(x, { training: true }) as tf.Tensor) as tf.Scalar,
    true,
  )?.dispose();
}

const OPTIMIZERS: OptimizerConfig[] = [{ kind: 'momentum', learningRate: 0.1, momentum: 0.9 }, { kind: 'momentum',
  learningRate: 0.1, momentum: 0.9, nesterov: true }, { kind: 'adam', learningRate: 0.01 }];

describe('training on every available backend', () => {
  it.each(OPTIMIZERS)('gives the stock cpu losses with %j', async (config) => {
    const reference = await trainLosses('cpu', config, 15);
    expect(reference[14]).toBeLessThan(reference[0]);
    for (const backend of available.filter((b) => b !== 'cpu')) {
      const losses = await trainLosses(backend, config, 15);
      losses.forEach((loss, i) => expect(loss, `${backend} step ${i}`).toBeCloseTo(reference[i], 4));
    }
  });

  it('keeps the tensor count flat over 100 training steps', async () => {
    await tf.setBackend(available[0]);
    const model = mlp();
    const optimizer = createOptimizer({ kind: 'adam', learningRate: 0.001 });
    const x = tf.tensor(X.values, X.shape);
    const y = tf.oneHot(tf.tensor1d(LABELS, 'int32'), 5);
    const step = () => crossEntropyStep(model, optimizer, x, y);
    step(); // creates the optimizer's slots
    const baseline = tf.memory().numTensors;
    for (let i = 0; i < 100; i++) step();
    expect(tf.memory().numTensors).toBe(baseline);
    tf.dispose([x, y]);
    optimizer.dispose();
    model.dispose();
  });

  it.each(OPTIMIZERS)('leaves a snapshot of the weights untouched by later steps (%j)', async (config) => {
    await tf.setBackend(available[0]);
    const model = mlp();
    const optimizer = createOptimizer(config);
    const x = tf.tensor(X.values, X.shape);
    const y = tf.oneHot(tf.tensor1d(LABELS, 'int32'), 5);
    const step = () => crossEntropyStep(model, optimizer, x, y);
    step();
    // shares buffers, as early stopping's best-weights copy does
    const snapshot = model.weights.map((w) => tf.clone(w.read()));
    const frozen = snapshot.map((t) => Array.from(t.dataSync()));
    step();
    step();
    snapshot.forEach((t, i) => expect(Array.from(t.dataSync())).toEqual(frozen[i]));
    expect(Array.from(model.weights[0].read().dataSync())).not.toEqual(frozen[0]);
    tf.dispose([...snapshot, x, y]);
    optimizer.dispose();
    model.dispose();
  });

  it('updates in place without touching tensors that share a variable buffer', async () => {
    await tf.setBackend(available[0]);
    const initial = tf.tensor1d([1, 2, 3]);
    const variable = tf.variable(initial); // shares initial's buffer until the first in-place write
    const optimizer = createOptimizer({ kind: 'momentum', learningRate: 0.5, momentum: 0.9 });
    optimizer.applyGradients({ [variable.name]: tf.tensor1d([1, 1, 1]) });
    expect(Array.from(initial.dataSync())).toEqual([1, 2, 3]);
    expect(Array.from(variable.dataSync())).toEqual([0.5, 1.5, 2.5]);
    tf.dispose([initial, variable]);
    optimizer.dispose();
  });
});

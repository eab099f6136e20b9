import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import type { BundleDraft } from '../../src/bundle/index.js';

export const CLASS_NAMES = ['a', 'b', 'c', 'd', 'e'];
export const INPUT_SIZE = 4;

/** A tiny MLP with seeded initial weights, so two calls with one seed build equal models. */
export function tinyModel(outputs: number, seed = 1): tf.LayersModel {
  const model = tf.sequential();
  model.add(
    tf.layers.dense({ inputShape: [INPUT_SIZE], units: 8, activation: 'relu',
      kernelInitializer: tf.initializers.glorotUniform({ seed }) }),
  );
  model.add(
    tf.layers.dense({ units: outputs, kernelInitializer: tf.initializers.glorotUniform({ seed: seed + 1 }),
      biasInitializer: 'ones' }),
  );
  return model;
}

/** A generalist, two specialists and a student over five classes; `version` marks which save wrote it. */
export function draft(version: number): BundleDraft {
  return {
    name: 'tiny',
    dataset: { name: 'toy', inputShape: [INPUT_SIZE], classNames: CLASS_NAMES },
    generalist: { model: tinyModel(5, version), kind: 'mlp', metrics: { testAccuracy: 0.9 } },
    specialists: [{ id: 's0', model: tinyModel(3, version + 10), classes: [0, 1], dustbinOffset: Math.log(0.4),
      cluster: { index: 0 } }, { id: 's1', model: tinyModel(4, version + 20), classes: [2, 3, 4], dustbinOffset: -0.5,
      cluster: { index: 1, metrics: { size: 3 } } }],
    student: { model: tinyModel(5, version + 30), teacher: 'ensemble', temperature: 20, hardWeight: 0.1 },
    clustering: { method: 'kmeans', clusters: 2, seed: 7 },
    combiner: { solver: 'em', iterations: 50, tolerance: 1e-6 },
    metrics: { version },
  };
}

export async function tempDir(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'bundle-test-'));
}

export const INPUT = (): tf.Tensor2D => tf.tensor2d([[0.1, -0.2, 0.3, 0.9], [1, 0, -1, 0.5]]);

/** Predictions of a model on INPUT, as plain numbers. */
export function predict(model: tf.LayersModel): number[] {
  return tf.tidy(() => Array.from((model.predict(INPUT()) as tf.Tensor).dataSync()));
}

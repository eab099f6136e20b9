import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRng, generateSynthetic, type Split } from '../../src/data/index.js';
import { trainModel, type TrainingSet } from '../../src/distill/index.js';
import { engineInfo, initEngine } from '../../src/engine/index.js';
import { buildMlp, capUnitNorms, UnitNormCap } from '../../src/nets/index.js';
import { loadModel, saveModel } from '../../src/bundle/index.js';

const tmp = mkdtempSync(join(tmpdir(), 'constraint-'));
beforeAll(async () => {
  await initEngine({ backend: 'auto', log: () => {} });
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** Float64 L2 norm of each column of a row-major [rows, cols] array. */
function columnNorms(values: ArrayLike<number>, rows: number, cols: number): number[] {
  return Array.from({ length: cols }, (_, c) => {
    let sum = 0;
    for (let r = 0; r < rows; r++) sum += values[r * cols + c] ** 2;
    return Math.sqrt(sum);
  });
}

function randomKernel(rows: number, cols: number, seed: number): Float32Array {
  const rng = createRng(seed);
  // Column c has scale c/16: the first columns sit well inside a cap of 1, the last well outside.
  return Float32Array.from({ length: rows * cols }, (_, i) => (rng() - 0.5) * (i % cols) / 16);
}

const kernelNorms = (model: tf.LayersModel) =>
  model.trainableWeights.filter((w) => w.shape.length === 2).map((w) => {
    const [rows, cols] = w.shape as number[];
    return Math.max(...columnNorms(w.read().dataSync(), rows, cols));
  });

describe('capUnitNorms', () => {
  it('scales columns over the cap onto it and leaves the others bit for bit', () => {
    const [rows, cols] = [37, 23];
    const kernel = randomKernel(rows, cols, 1);
    const before = columnNorms(kernel, rows, cols);
    const original = kernel.slice();
    const scaled = capUnitNorms(kernel, rows, cols, 1);
    const after = columnNorms(kernel, rows, cols);
    expect(scaled).toBe(before.filter((n) => n > 1).length);
    expect(scaled).toBeGreaterThan(3);
    expect(scaled).toBeLessThan(cols - 3);
    for (let c = 0; c < cols; c++) {
      if (before[c] > 1) {
        expect(after[c]).toBeCloseTo(1, 5);
        for (let r = 0; r < rows; r++) expect(kernel[r * cols + c]).toBeCloseTo(original[r * cols + c] / before[c], 6);
      } else {
        for (let r = 0; r < rows; r++) expect(kernel[r * cols + c]).toBe(original[r * cols + c]);
      }
    }
  });
});

describe('UnitNormCap', () => {
  it('applies the same projection as capUnitNorms, identity within the cap, biases untouched', () => {
    const [rows, cols] = [29, 17];
    const kernel = randomKernel(rows, cols, 2);
    const expected = kernel.slice();
    capUnitNorms(expected, rows, cols, 1.5);
    const cap = new UnitNormCap({ maxValue: 1.5 });
    const projected = tf.tidy(() => cap.apply(tf.tensor2d(kernel, [rows, cols])).dataSync());
    for (let i = 0; i < kernel.length; i++) expect(projected[i]).toBeCloseTo(expected[i], 6);
    const inside = tf.tidy(() => cap.apply(tf.tensor2d(projected, [rows, cols])).dataSync());
    expect(Array.from(inside)).toEqual(Array.from(projected)); // already on or inside the ball: bit for bit
    const bias = tf.tensor1d([10, -20, 30]);
    expect(Array.from(tf.tidy(() => cap.apply(bias).dataSync()))).toEqual([10, -20, 30]);
    bias.dispose();
  });

  it('serialises as the stock MaxNorm class with the stock config', () => {
    const cap = new UnitNormCap({ maxValue: 3.5 });
    expect(cap.getClassName()).toBe('MaxNorm');
    expect(cap.getConfig()).toEqual({ maxValue: 3.5, axis: 0 });
  });
});

describe('max-norm while training', () => {
  const data = generateSynthetic({ superclasses: 3, finePerSuperclass: 2, inputSize: 12, trainPerClass: 40,
    validationPerClass: 10, testPerClass: 5, seed: 5 });
  const asSet = (split: Split): TrainingSet => ({ x: split.x, n: split.n, features: split.features, labels: split.y });
  const net = (maxNorm: number) => ({ kind: 'mlp' as const, hidden: [16, 16], inputDropout: 0, hiddenDropout: 0,
    maxNorm, seed: 3 });
  // A large learning rate grows the incoming norms far past 0.5 within a few steps when nothing caps them.
  const config = { epochs: 4, batchSize: 16,
    optimizer: { kind: 'momentum' as const, learningRate: 0.5, momentum: 0.9 } };

  async function normsAtEveryEpoch(maxNorm: number): Promise<{ model: tf.LayersModel; norms: number[] }> {
    const model = buildMlp(net(maxNorm), data.train.features, data.numClasses);
    const norms: number[] = [];
    // The epoch line is logged after the epoch's last step and before the best epoch is restored.
    await trainModel(model, asSet(data.train), asSet(data.validation), config, {
      log: () => norms.push(...kernelNorms(model)),
    });
    return { model, norms };
  }

  it(`never lets a unit's incoming norm exceed the cap (engine: the backend chosen here)`, async () => {
    expect(engineInfo().backend).toBeDefined();
    const free = await normsAtEveryEpoch(0);
    expect(Math.max(...free.norms)).toBeGreaterThan(1); // the check below can fail
    free.model.dispose();
    const capped = await normsAtEveryEpoch(0.5);
    expect(capped.norms.length).toBeGreaterThanOrEqual(4 * 3);
    for (const norm of capped.norms) expect(norm).toBeLessThanOrEqual(0.5 * (1 + 1e-5));
    expect(Math.max(...kernelNorms(capped.model))).toBeLessThanOrEqual(0.5 * (1 + 1e-5));

    await saveModel(capped.model, join(tmp, 'capped'));
    const loaded = await loadModel(join(tmp, 'capped'));
    const bits = (model: tf.LayersModel) =>
      model.getWeights().map((w) => Array.from(new Uint32Array(Float32Array.from(w.dataSync()).buffer)));
    expect(bits(loaded)).toEqual(bits(capped.model));
    capped.model.setWeights(loaded.getWeights());
    expect(bits(capped.model)).toEqual(bits(loaded));
    capped.model.dispose();
    loaded.dispose();
  });
});

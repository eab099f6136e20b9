import { readFile, rm, truncate } from 'node:fs/promises';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initEngine } from '../../src/engine/index.js';
import { expectedWeightBytes, fileSystem } from './exports.js';
import { predict, tempDir, tinyModel } from './helpers.js';

let base: string;

beforeAll(async () => {
  await initEngine({ backend: 'auto', log: () => {} });
  base = await tempDir();
});
afterAll(async () => rm(base, { recursive: true, force: true }));

describe('fileSystem', () => {
  it('saves model.json + weights.bin that tf.loadLayersModel reads back exactly', async () => {
    const dir = join(base, 'round-trip');
    const model = tinyModel(3);
    const result = await model.save(fileSystem(dir));
    expect(result.modelArtifactsInfo.weightDataBytes).toBe((4 * 8 + 8 + 8 * 3 + 3) * 4);
    const loaded = await tf.loadLayersModel(fileSystem(dir));
    expect(predict(loaded)).toEqual(predict(model));
    const modelJson = JSON.parse(await readFile(join(dir, 'model.json'), 'utf8'));
    expect(modelJson).toMatchObject({ format: 'layers-model', weightsManifest: [{ paths: ['weights.bin'] }] });
    expect(modelJson.generatedBy).toMatch(/TensorFlow\.js/);
    model.dispose();
    loaded.dispose();
  });

  it('keeps the training config and optimizer state when asked to', async () => {
    const dir = join(base, 'compiled');
    const model = tinyModel(3);
    model.compile({ optimizer: tf.train.adam(0.01), loss: 'categoricalCrossentropy' });
    await model.fit(tf.ones([2, 4]), tf.oneHot([0, 1], 3), { epochs: 1, verbose: 0 });
    await model.save(fileSystem(dir), { includeOptimizer: true });
    const modelJson = JSON.parse(await readFile(join(dir, 'model.json'), 'utf8'));
    expect(modelJson.trainingConfig.loss).toBe('categorical_crossentropy');
    const loaded = await tf.loadLayersModel(fileSystem(dir));
    expect(predict(loaded)).toEqual(predict(model));
    expect(loaded.optimizer).toBeDefined();
    model.dispose();
    loaded.dispose();
  });

  it('names a truncated weights file instead of failing inside tfjs', async () => {
    const dir = join(base, 'truncated');
    const model = tinyModel(3);
    await model.save(fileSystem(dir));
    await truncate(join(dir, 'weights.bin'), 12);
    await expect(tf.loadLayersModel(fileSystem(dir))).rejects.toMatchObject({ code: 'TRUNCATED',
      file: `${dir}/weights.bin` });
    model.dispose();
  });

  it('names a missing folder', async () => {
    await expect(tf.loadLayersModel(fileSystem(join(base, 'absent')))).rejects.toMatchObject({ code: 'MISSING_FILE' });
  });
});

describe('expectedWeightBytes', () => {
  it('counts bytes per dtype, quantized or not', () => {
    expect(
      expectedWeightBytes([{ name: 'w', shape: [2, 3], dtype: 'float32' }, { name: 'b', shape: [3], dtype: 'int32' }]),
    ).toBe(36);
    expect(
      expectedWeightBytes([{ name: 'q', shape: [10], dtype: 'float32',
        quantization: { dtype: 'uint8', min: 0, scale: 1 } }]),
    ).toBe(10);
    expect(expectedWeightBytes([{ name: 's', shape: [2], dtype: 'string' }])).toBeUndefined();
  });
});

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateSynthetic, sliceRows, type Split } from '../../src/data/index.js';
import { evaluateModel, trainModel, TrainConfig, type TrainingSet } from '../../src/distill/index.js';
import { initEngine } from '../../src/engine/index.js';
import { buildMlp } from '../../src/nets/index.js';

const data = generateSynthetic({ superclasses: 4, finePerSuperclass: 3, inputSize: 16, trainPerClass: 40,
  validationPerClass: 10, testPerClass: 10, seed: 3 });
const asSet = (split: Split): TrainingSet => ({ x: split.x, n: split.n, features: split.features, labels: split.y });
const net = { kind: 'mlp' as const, hidden: [32], inputDropout: 0, hiddenDropout: 0, maxNorm: 0, seed: 1 };
const config = { epochs: 5, batchSize: 32, optimizer: { kind: 'adam' as const, learningRate: 0.01 },
  averageWeights: { fromEpoch: 3 } };
const tmp = mkdtempSync(join(tmpdir(), 'distill-average-'));
const weightsOf = (model: tf.LayersModel) => model.getWeights().map((w) => Array.from(w.dataSync()));

beforeAll(async () => {
  await initEngine({ backend: 'auto', log: () => {} });
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('trainModel with averageWeights', () => {
  it('returns the mean of the weights epochs 3–5 ended with (to 1e-5) and leaves no tensor behind', async () => {
    const model = buildMlp(net, 16, data.numClasses);
    const ends: number[][][] = []; // the log runs once per epoch, after scoring, with the epoch's own weights back
    const tensorsBefore = tf.memory().numTensors; // the model's own
    await trainModel(model, asSet(data.train), asSet(sliceRows(data.validation, 0, 0)), config,
      { log: () => ends.push(weightsOf(model)) });
    expect(ends).toHaveLength(5);
    const tail = ends.slice(2);
    const mean = tail[0].map((layer, i) => layer.map((_, j) => tail.reduce((s, e) => s + e[i][j], 0) / tail.length));
    const returned = weightsOf(model);
    mean.forEach((layer, i) => layer.forEach((v, j) => expect(returned[i][j]).toBeCloseTo(v, 5)));
    expect(returned).not.toEqual(ends[4]);
    expect(tf.memory().numTensors).toBe(tensorsBefore);
    model.dispose();
  });

  it('scores the running mean on validation, marks those epochs, and selects among means only', async () => {
    const model = buildMlp(net, 16, data.numClasses);
    const ends: tf.Tensor[][] = [];
    const result = await trainModel(model, asSet(data.train), asSet(data.validation), config,
      { log: () => ends.push(model.getWeights().map((w) => w.clone())) });
    expect(result.history.map((h) => h.averagedEpochs)).toEqual([undefined, undefined, 1, 2, 3]);
    const probe = buildMlp(net, 16, data.numClasses);
    for (const k of [3, 4, 5]) {
      const tail = ends.slice(2, k);
      const mean = tail[0].map((_, i) => tf.tidy(() => tf.addN(tail.map((e) => e[i])).div(tail.length)));
      probe.setWeights(mean);
      tf.dispose(mean);
      expect(evaluateModel(probe, data.validation.x, data.validation.y).errorRate)
        .toBeCloseTo(result.history[k - 1].validationError, 6);
    }
    expect(result.bestEpoch).toBeGreaterThanOrEqual(3);
    expect(evaluateModel(model, data.validation.x, data.validation.y).errorRate)
      .toBeCloseTo(result.history[result.bestEpoch - 1].validationError, 6);
    tf.dispose(ends.flat());
    [model, probe].forEach((m) => m.dispose());
  });

  it('resumes with its running mean: an interrupted run ends with the weights of an uninterrupted one', async () => {
    // No validation rows, so the result is the full mean and depends on the restored one.
    const none = asSet(sliceRows(data.validation, 0, 0));
    const straight = buildMlp(net, 16, data.numClasses);
    await trainModel(straight, asSet(data.train), none, config, { log: () => {} });
    const dir = join(tmp, 'resume');
    let batches = 0;
    const first = buildMlp(net, 16, data.numClasses);
    const stopped = await trainModel(first, asSet(data.train), none, config,
      { log: () => {}, checkpointDir: dir, shouldStop: () => ++batches > 55 }); // epoch 4, after averaging began
    expect(stopped.interrupted).toBe(true);
    const tensorsBefore = tf.memory().numTensors;
    const refused = buildMlp(net, 16, data.numClasses);
    await expect(trainModel(refused, asSet(data.train), none, { ...config, averageWeights: { fromEpoch: 2 } },
      { log: () => {}, checkpointDir: dir, resume: true }))
      .rejects.toThrow(/weight average holds 1 epochs where averageWeights expects 2/);
    refused.dispose();
    expect(tf.memory().numTensors).toBe(tensorsBefore); // the refused checkpoint's tensors were freed
    const resumed = buildMlp({ ...net, seed: 9 }, 16, data.numClasses);
    await trainModel(resumed, asSet(data.train), none, config, { log: () => {}, checkpointDir: dir, resume: true });
    // Only the model's own weights outlive a resumed, checkpointing run.
    expect(tf.memory().numTensors).toBe(tensorsBefore + resumed.weights.length);
    // Not bit-equal: Adam's restored bias correction is recomputed as β^t in float32.
    const got = weightsOf(resumed);
    weightsOf(straight).forEach((layer, i) => layer.forEach((v, j) => expect(got[i][j]).toBeCloseTo(v, 5)));
    [straight, first, resumed].forEach((m) => m.dispose());
  });

  it('refuses to start averaging after the last epoch, and starts that are not whole epochs', () => {
    expect(() => TrainConfig.parse({ ...config, averageWeights: { fromEpoch: 6 } })).toThrow(/past the last epoch/);
    for (const fromEpoch of [0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, 1e12, '3', null]) {
      expect(() => TrainConfig.parse({ ...config, averageWeights: { fromEpoch } })).toThrow();
    }
    expect(() => TrainConfig.parse({ ...config, averageWeights: {} })).toThrow();
  });
});

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateSynthetic, sliceRows, type Split } from '../../src/data/index.js';
import { evaluateModel, predictLogits, trainModel, type TrainingSet } from '../../src/distill/index.js';
import { initEngine } from '../../src/engine/index.js';
import { buildMlp } from '../../src/nets/index.js';

const data = generateSynthetic({ superclasses: 4, finePerSuperclass: 3, inputSize: 16, trainPerClass: 40,
  validationPerClass: 10, testPerClass: 10, seed: 3 });
const asSet = (split: Split, teacherLogits?: Float32Array): TrainingSet => ({ x: split.x, n: split.n,
  features: split.features, labels: split.y, teacherLogits });
const tmp = mkdtempSync(join(tmpdir(), 'distill-train-'));
const quiet = { log: () => {} };
const small = { kind: 'mlp' as const, hidden: [32], inputDropout: 0, hiddenDropout: 0, maxNorm: 0, seed: 1 };

beforeAll(async () => {
  await initEngine({ backend: 'auto', log: () => {} });
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('trainModel', () => {
  it('learns hard labels far better than chance and logs one line per epoch with an ETA', async () => {
    const model = buildMlp(small, 16, data.numClasses);
    const lines: string[] = [];
    const tensorsBefore = tf.memory().numTensors;
    const result = await trainModel(model, asSet(data.train), asSet(data.validation), { epochs: 8, batchSize: 32,
      optimizer: { kind: 'adam', learningRate: 0.01 } }, { log: (l) => lines.push(l) });
    expect(result.history).toHaveLength(8);
    expect(lines.filter((l) => /epoch \d+\/8 .*val err .*ETA/.test(l))).toHaveLength(8);
    expect(evaluateModel(model, data.test.x, data.test.y).errorRate).toBeLessThan(0.5); // chance: 11/12
    expect(tf.memory().numTensors).toBe(tensorsBefore); // no tensor outlives training
    model.dispose();
  });

  it('distils: a student trained on soft targets alone gets close to its teacher', async () => {
    const teacher = buildMlp({ ...small, hidden: [64, 64] }, 16, data.numClasses);
    await trainModel(teacher, asSet(data.train), asSet(data.validation), { epochs: 10, batchSize: 32,
      optimizer: { kind: 'adam', learningRate: 0.01 } }, quiet);
    const teacherLogits = predictLogits(teacher, data.train.x, data.train.n);
    const student = buildMlp({ ...small, seed: 2 }, 16, data.numClasses);
    const result = await trainModel(student, asSet(data.train, teacherLogits), asSet(data.validation), {
      epochs: 10,
      batchSize: 32,
      optimizer: { kind: 'adam', learningRate: 0.01 },
      loss: { temperature: 4, softWeight: 1, hardWeight: 0 },
    }, quiet);
    // kl = soft − T²·H(teacher at T): never negative, and what falls while the floor stays put.
    expect(Object.keys(result.history[0].terms)).toEqual(['soft', 'kl']);
    const floor = (() => {
      let sum = 0;
      for (let r = 0; r < data.train.n; r++) {
        const z = Array.from(teacherLogits.subarray(r * data.numClasses, (r + 1) * data.numClasses), (v) => v / 4);
        const max = Math.max(...z);
        const norm = Math.log(z.reduce((a, v) => a + Math.exp(v - max), 0)) + max;
        sum -= z.reduce((a, v) => a + Math.exp(v - norm) * (v - norm), 0);
      }
      return (16 * sum) / data.train.n;
    })();
    for (const epoch of result.history) {
      expect(epoch.terms.kl).toBeGreaterThanOrEqual(-1e-3);
      expect(epoch.terms.soft - epoch.terms.kl).toBeCloseTo(floor, 2);
    }
    expect(result.history[result.history.length - 1].terms.kl).toBeLessThan(result.history[0].terms.kl / 2);
    const agree = (a: tf.LayersModel, b: tf.LayersModel) => {
      const pa = predictLogits(a, data.test.x, data.test.n);
      const pb = predictLogits(b, data.test.x, data.test.n);
      let same = 0;
      for (let i = 0; i < data.test.n; i++) {
        const arg = (p: Float32Array) => {
          let best = 0;
          for (let j = 1; j < data.numClasses; j++) {
            if (p[i * data.numClasses + j] > p[i * data.numClasses + best]) best = j;
          }
          return best;
        };
        if (arg(pa) === arg(pb)) same++;
      }
      return same / data.test.n;
    };
    expect(agree(student, teacher)).toBeGreaterThan(0.8);
    tf.dispose([teacher, student].flatMap((m) => m.weights.map((w) => w.read())));
  });

  it.each([
    { kind: 'momentum' as const, learningRate: 0.05 },
    // Adam's bias correction depends on its step count, which the checkpoint must bring back as the integer it is.
    { kind: 'adam' as const, learningRate: 0.01 },
  ])('resumes an interrupted $kind run and ends with the weights of an uninterrupted one', async (optimizer) => {
    const config = { epochs: 3, batchSize: 32, optimizer };
    const straight = buildMlp(small, 16, data.numClasses);
    await trainModel(straight, asSet(data.train), asSet(data.validation), config, quiet);

    const dir = join(tmp, `resume-${optimizer.kind}`);
    const first = buildMlp(small, 16, data.numClasses);
    let batches = 0;
    const stopped = await trainModel(first, asSet(data.train), asSet(data.validation), config, { ...quiet,
      checkpointDir: dir, shouldStop: () => ++batches > 20 }); // mid epoch 2 (15 batches per epoch)
    expect(stopped.interrupted).toBe(true);

    const resumed = buildMlp({ ...small, seed: 99 }, 16, data.numClasses); // different init: the checkpoint must win
    const result = await trainModel(resumed, asSet(data.train), asSet(data.validation), config, { ...quiet,
      checkpointDir: dir, resume: true });
    expect(result.interrupted).toBe(false);
    expect(result.history.map((h) => h.epoch)).toEqual([1, 2, 3]);
    const a = straight.getWeights().map((w) => Array.from(w.dataSync()));
    const b = resumed.getWeights().map((w) => Array.from(w.dataSync()));
    a.forEach((values, i) => values.forEach((v, j) => expect(b[i][j]).toBeCloseTo(v, 5)));
  });

  it('stops early after `patience` epochs without improvement and keeps the best weights', async () => {
    const model = buildMlp(small, 16, data.numClasses);
    // A learning rate this large diverges after the first epochs, so validation stops improving.
    const result = await trainModel(model, asSet(data.train), asSet(data.validation), { epochs: 30, batchSize: 32,
      patience: 2, optimizer: { kind: 'adam', learningRate: 0.5 } }, quiet);
    expect(result.stoppedEarly).toBe(true);
    expect(result.history.length).toBeLessThan(30);
    const validation = evaluateModel(model, data.validation.x, data.validation.y).errorRate;
    expect(validation).toBeCloseTo(result.bestValidationError, 6);
  });

  it('keeps the last epoch when there are no validation rows to select on', async () => {
    const model = buildMlp(small, 16, data.numClasses);
    const noValidation = asSet(sliceRows(data.validation, 0, 0));
    const lastWeights: number[][] = [];
    const epochLines: string[] = [];
    const result = await trainModel(model, asSet(data.train), noValidation, { epochs: 3, batchSize: 32,
      optimizer: { kind: 'adam', learningRate: 0.01 } }, { log: (line) => {
        epochLines.push(line);
        lastWeights.splice(0, lastWeights.length, ...model.getWeights().map((w) => Array.from(w.dataSync())));
      } }); // log: once per epoch, at its end
    expect(result.bestEpoch).toBe(3);
    expect(model.getWeights().map((w) => Array.from(w.dataSync()))).toEqual(lastWeights);
    expect(epochLines.every((line) => /no validation/.test(line) && !/NaN/.test(line))).toBe(true);
    model.dispose();
  });

  it('selects epochs on the given validation measure, fed the validation logits', async () => {
    const model = buildMlp(small, 16, data.numClasses);
    const scores = [0.5, 0.1, 0.9];
    const seen: number[] = [];
    const lines: string[] = [];
    const result = await trainModel(model, asSet(data.train), asSet(data.validation), { epochs: 3, batchSize: 32,
      optimizer: { kind: 'adam', learningRate: 0.01 } }, { log: (line) => lines.push(line),
      selectOn: (logits, width, labels) => {
        seen.push(logits.length / width, labels.length);
        return scores[seen.length / 2 - 1];
      } });
    expect(seen).toEqual([data.validation.n, data.validation.n, data.validation.n, data.validation.n, data.validation.n,
      data.validation.n]);
    expect(result.bestEpoch).toBe(2);
    expect(result.history.map((h) => h.validationError)).toEqual(scores);
    expect(lines[1]).toMatch(/val err 10\.00%/);
    model.dispose();
  });

  it('rejects teacher logits of the wrong size and a config with nothing to learn from', async () => {
    const model = buildMlp(small, 16, data.numClasses);
    await expect(
      trainModel(model, asSet(data.train, new Float32Array(5)), asSet(data.validation), { epochs: 1,
        optimizer: { kind: 'adam', learningRate: 0.01 } }, quiet),
    ).rejects.toThrow(/teacherLogits has 5 values/);
    await expect(
      trainModel(model, asSet(data.train), asSet(data.validation), { epochs: 1,
        optimizer: { kind: 'adam', learningRate: 0.01 }, loss: { hardWeight: 0 } }, quiet),
    ).rejects.toThrow(/nothing to learn/);
    await expect(
      trainModel(model, asSet(data.train), asSet(data.validation), { epochs: 0,
        optimizer: { kind: 'adam', learningRate: 0.01 } }, quiet),
    ).rejects.toThrow();
  });
  it('fails at the first non-finite loss instead of training on NaN weights', async () => {
    const model = buildMlp(small, 16, data.numClasses);
    await expect(
      trainModel(model, asSet(data.train), asSet(data.validation), { epochs: 3, batchSize: 32,
        optimizer: { kind: 'momentum', learningRate: 1e8, momentum: 0.9 } }, quiet),
    ).rejects.toThrow(/train: the loss became (NaN|Infinity) at epoch 1, batch \d+ \(lr 1\.00e\+8\)/);
  });

  it('follows the momentum ramp epoch by epoch, records ' +
    'it, and scores the monitor set without selecting on it', async () => {
    const run = async (ramp?: { from: number; epochs: number }) => {
      const model = buildMlp(small, 16, data.numClasses);
      const result = await trainModel(model, asSet(data.train), asSet(data.validation), { epochs: 3, batchSize: 32,
        optimizer: { kind: 'momentum', learningRate: 0.05, momentum: 0.9, ramp } }, { ...quiet,
        monitor: asSet(data.test) });
      const weights = model.getWeights().map((w) => Array.from(w.dataSync()));
      model.dispose();
      return { result, weights };
    };
    const plain = await run();
    const flat = await run({ from: 0.9, epochs: 2 }); // a ramp that starts where it ends changes nothing
    const ramped = await run({ from: 0, epochs: 2 });
    expect(ramped.result.history.map((h) => h.momentum)).toEqual([0, 0.45, 0.9]);
    expect(flat.weights).toEqual(plain.weights);
    expect(ramped.weights).not.toEqual(plain.weights);
    for (const epoch of plain.result.history) {
      expect(epoch.monitorError).toBeGreaterThanOrEqual(0);
      expect(epoch.monitorError).toBeLessThanOrEqual(1);
    }
    expect(plain.result.history.map((h) => h.monitorError)).not.toEqual(
      plain.result.history.map((h) => h.validationError),
    );
  });
});

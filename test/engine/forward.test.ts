import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { compileDenseForward, initEngine, loadBlas } from '../../src/engine/index.js';
import { buildMlp } from '../../src/nets/index.js';
import { seededRandom } from './compare.js';

const hasBlas = loadBlas().ok;

beforeAll(async () => {
  await initEngine({ backend: hasBlas ? 'blas' : 'cpu', log: () => {} });
});

/** The same stack in float64 loops straight from the layer weights: an independent reference. */
function reference(model: tf.LayersModel, x: Float32Array, rows: number): Float64Array {
  let input = Float64Array.from(x);
  for (const layer of model.layers.filter((l) => l.getClassName() === 'Dense')) {
    const [kernel, bias] = layer.getWeights().map((w) => w.dataSync());
    const [inputs, units] = layer.getWeights()[0].shape;
    const relu = (layer.getConfig() as { activation: string }).activation === 'relu';
    const out = new Float64Array(rows * units);
    for (let r = 0; r < rows; r++) {
      for (let j = 0; j < units; j++) {
        let sum = bias ? bias[j] : 0;
        for (let i = 0; i < inputs; i++) sum += input[r * inputs + i] * kernel[i * units + j];
        out[r * units + j] = relu && sum < 0 ? 0 : sum;
      }
    }
    input = out;
  }
  return input;
}

function randomInput(rows: number, features: number, seed: number): Float32Array {
  const random = seededRandom(seed);
  return Float32Array.from({ length: rows * features }, () => random() * 2 - 1);
}

describe.skipIf(!hasBlas)('compileDenseForward', () => {
  const model = buildMlp({ kind: 'mlp', hidden: [37, 23], inputDropout: 0.2, hiddenDropout: 0.5, maxNorm: 0, seed: 3 },
    19, 7);
  const forward = compileDenseForward(model);

  it('compiles an MLP with dropout layers, which are the identity at inference', () => {
    expect(typeof forward).toBe('function');
    if (typeof forward === 'string') return;
    expect([forward.inputSize, forward.outputSize]).toEqual([19, 7]);
    expect(forward.layers).toEqual(['hidden1', 'hidden2', 'logits']);
  });

  it.each([1, 2, 64, 129])('matches a float64 reference and model.predict at batch %i', (rows) => {
    if (typeof forward === 'string') throw new Error(forward);
    const x = randomInput(rows, 19, rows);
    const logits = forward(x, rows);
    const expected = reference(model, x, rows);
    expect(logits.length).toBe(rows * 7);
    for (let i = 0; i < logits.length; i++) expect(logits[i]).toBeCloseTo(expected[i], 4);
    const predicted = tf.tidy(() => (model.predict(tf.tensor2d(x, [rows, 19])) as tf.Tensor).dataSync());
    for (let i = 0; i < logits.length; i++) expect(logits[i]).toBeCloseTo(predicted[i], 4);
  });

  it('returns a fresh answer each call, so reusing its buffers cannot overwrite a caller', () => {
    if (typeof forward === 'string') throw new Error(forward);
    const first = forward(randomInput(3, 19, 1), 3);
    const copy = first.slice();
    forward(randomInput(5, 19, 2), 5);
    expect(first).toEqual(copy);
    expect(forward(new Float32Array(0), 0)).toHaveLength(0);
  });

  it('keeps a non-finite row to itself: rows batched from other requests are untouched', () => {
    if (typeof forward === 'string') throw new Error(forward);
    const x = randomInput(3, 19, 5);
    const clean = forward(x, 3);
    x[19 + 4] = Number.NaN;
    x[2 * 19] = Number.POSITIVE_INFINITY;
    const dirty = forward(x, 3);
    expect(Array.from(dirty.subarray(0, 7))).toEqual(Array.from(clean.subarray(0, 7)));
    expect(Array.from(dirty.subarray(7, 14)).some((v) => !Number.isFinite(v))).toBe(true);
    expect(Array.from(dirty.subarray(14)).some((v) => !Number.isFinite(v))).toBe(true);
  });

  it('handles a batch far larger than any before it, growing its buffers', () => {
    if (typeof forward === 'string') throw new Error(forward);
    const rows = 5000;
    const x = randomInput(rows, 19, 9);
    const logits = forward(x, rows);
    const expected = reference(model, x.subarray((rows - 2) * 19), 2);
    for (let i = 0; i < 14; i++) expect(logits[(rows - 2) * 7 + i]).toBeCloseTo(expected[i], 4);
  });

  it('rejects an input of the wrong size', () => {
    if (typeof forward === 'string') throw new Error(forward);
    expect(() => forward(new Float32Array(20), 1)).toThrow(/20 values, expected 1 × 19/);
  });

  it('says why it cannot compile other models', () => {
    const softmax = tf.sequential({ layers: [tf.layers.dense({ units: 3, inputShape: [4], activation: 'softmax' })] });
    expect(compileDenseForward(softmax)).toMatch(/activation softmax/);
    const conv = tf.sequential({ layers: [tf.layers.conv2d({ filters: 2, kernelSize: 3, inputShape: [8, 8, 1] })] });
    expect(compileDenseForward(conv)).toMatch(/Conv2D/);
    const input = tf.input({ shape: [4] });
    const functional = tf.model({ inputs: input,
      outputs: tf.layers.dense({ units: 2 }).apply(input) as tf.SymbolicTensor });
    expect(compileDenseForward(functional)).toMatch(/not a Sequential/);
    for (const model of [softmax, conv, functional]) model.dispose();
  });
});

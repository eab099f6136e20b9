import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initEngine } from '../../src/engine/index.js';
import { summarizeModel } from './exports.js';

beforeAll(async () => {
  await initEngine({ backend: 'auto', log: () => {} });
});

describe('summarizeModel', () => {
  it("records the paper's MLP as 784-1200-1200-10", () => {
    const model = tf.sequential({
      layers: [tf.layers.dense({ inputShape: [784], units: 1200, activation: 'relu' }),
        tf.layers.dropout({ rate: 0.5 }), tf.layers.dense({ units: 1200, activation: 'relu' }),
        tf.layers.dropout({ rate: 0.5 }), tf.layers.dense({ units: 10 })],
    });
    const summary = summarizeModel(model, 'mlp');
    expect(summary).toMatchObject({ kind: 'mlp', inputShape: [784], outputSize: 10, sizes: [784, 1200, 1200, 10] });
    expect(summary.parameters).toBe(784 * 1200 + 1200 + 1200 * 1200 + 1200 + 1200 * 10 + 10);
    expect(summary.layers.map((l) => l.type)).toEqual(['Dense', 'Dropout', 'Dense', 'Dropout', 'Dense']);
    expect(summary.layers[1]).toMatchObject({ outputShape: [1200], parameters: 0 });
    model.dispose();
  });

  it('records an image input shape for a CNN', () => {
    const model = tf.sequential({
      layers: [tf.layers.conv2d({ inputShape: [28, 28, 1], filters: 4, kernelSize: 3 }), tf.layers.flatten(),
        tf.layers.dense({ units: 10 })],
    });
    const summary = summarizeModel(model);
    expect(summary).toMatchObject({ inputShape: [28, 28, 1], outputSize: 10, sizes: [784, 4, 10] });
    expect(summary.layers[0].outputShape).toEqual([26, 26, 4]);
    expect(summary).not.toHaveProperty('kind');
    model.dispose();
  });
});

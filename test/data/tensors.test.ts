import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initEngine } from '../../src/engine/index.js';
import { generateSynthetic, takeRows, toTensors } from '../../src/data/index.js';

beforeAll(async () => {
  await initEngine({ backend: 'auto', log: () => {} });
});

const data = generateSynthetic({ superclasses: 2, finePerSuperclass: 2, inputSize: 12, trainPerClass: 5,
  validationPerClass: 1, testPerClass: 1, seed: 1 });

describe('toTensors', () => {
  it('makes [n, features] float32 inputs and [n] int32 labels', () => {
    const { xs, ys } = toTensors(data.train);
    try {
      expect(xs.shape).toEqual([20, 12]);
      expect(xs.dtype).toBe('float32');
      expect(ys.shape).toEqual([20]);
      expect(ys.dtype).toBe('int32');
      expect(Array.from(xs.dataSync())).toEqual(Array.from(data.train.x));
      expect(Array.from(ys.dataSync())).toEqual(Array.from(data.train.y));
    } finally {
      xs.dispose();
      ys.dispose();
    }
  });

  it('reshapes to an image shape, and takes a batch of rows', () => {
    const batch = takeRows(data.train, Int32Array.of(3, 0, 7));
    const { xs, ys } = toTensors(batch, [3, 4, 1]);
    try {
      expect(xs.shape).toEqual([3, 3, 4, 1]);
      expect(Array.from(ys.dataSync())).toEqual([data.train.y[3], data.train.y[0], data.train.y[7]]);
      expect(Array.from(xs.dataSync().subarray(12, 24))).toEqual(Array.from(data.train.x.subarray(0, 12)));
    } finally {
      xs.dispose();
      ys.dispose();
    }
  });

  it('refuses a shape that does not hold the features, leaking no tensor', () => {
    const before = tf.memory().numTensors;
    expect(() => toTensors(data.train, [5, 5])).toThrow(/does not hold 12 features/);
    expect(tf.memory().numTensors).toBe(before);
  });
});

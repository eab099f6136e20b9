import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, it } from 'vitest';
import { initEngine, loadBlas } from '../../src/engine/index.js';
import { expectClose, randomHost, runOn, seededRandom } from './compare.js';

const hasBlas = loadBlas().ok;

beforeAll(async () => {
  await initEngine({ backend: hasBlas ? 'blas' : 'cpu', log: () => {} });
});

const REDUCTIONS = {
  sum: tf.sum,
  max: tf.max,
  min: tf.min,
  mean: tf.mean,
} as const;

// Inner, outer, middle and whole-tensor reductions, negative axes, size-1 and size-0 dims, and a
// non-contiguous axis set that the fast kernel hands to the stock one.
const CASES: [number[], number | number[] | undefined][] = [[[7], 0], [[3, 5], 1], [[3, 5], 0], [[3, 5], -1], [[3, 5],
  undefined], [[3, 5], [0, 1]], [[2, 3, 5], 1], [[2, 3, 5], [1, 2]], [[2, 3, 5], [0, 1]], [[2, 3, 5], [0, 2]], [[1, 5],
  0], [[5, 1], 1], [[128, 1200], 0], [[4, 0, 3], 2]];

describe.skipIf(!hasBlas)('reductions on blas', () => {
  for (const [name, reduce] of Object.entries(REDUCTIONS)) {
    for (const keepDims of [false, true]) {
      it.each(CASES)(`${name} of %j over axis %j (keepDims=${keepDims}) matches the stock kernel`, (shape, axis) => {
        const input = randomHost(shape, seededRandom(shape.length * 17 + name.length));
        const op = (x: tf.Tensor) => reduce(x, axis, keepDims);
        expectClose(runOn('blas', [input], op), runOn('cpu', [input], op), 1e-6, 1e-6, name);
      });
    }
  }

  it('max and min propagate NaN as the stock kernels do', () => {
    const input = randomHost([4, 6], seededRandom(3));
    input.values[7] = NaN;
    for (const axis of [0, 1]) {
      for (const op of [(x: tf.Tensor) => tf.max(x, axis), (x: tf.Tensor) => tf.min(x, axis)]) {
        expectClose(runOn('blas', [input], op), runOn('cpu', [input], op), 0, 0, `NaN axis ${axis}`);
      }
    }
  });

  it.each([[[10]], [[4, 10]], [[2, 3, 10]], [[128, 1000]]])('softmax of %j matches the stock kernel', (shape) => {
    const input = randomHost(shape, seededRandom(shape.length), 30);
    expectClose(runOn('blas', [input], (x) => tf.softmax(x)), runOn('cpu', [input], (x) => tf.softmax(x)), 1e-7, 1e-5,
      'softmax');
  });
});

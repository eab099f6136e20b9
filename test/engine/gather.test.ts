import * as tf from '@tensorflow/tfjs';
import type { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu';
import { beforeAll, describe, expect, it } from 'vitest';
import { gatherKernel } from '../../src/engine/kernels/gather.js';
import { initEngine, loadBlas } from '../../src/engine/index.js';
import { expectClose, type HostTensor, randomHost, runOn, seededRandom } from './compare.js';

const hasBlas = loadBlas().ok;

beforeAll(async () => {
  await initEngine({ backend: hasBlas ? 'blas' : 'cpu', log: () => {} });
});

const indicesOf = (shape: number[], values: number[]): HostTensor => ({ shape, values: Float32Array.from(values),
  dtype: 'int32' });

// The ensemble's case (a subset of a batch's rows), repeats and reordering, 2-D indices, rank-3
// inputs, a negative axis, no rows at all, and cases the fast kernel hands to the stock one.
const CASES: [string, number[], HostTensor, number, number?][] = [
  ['a subset of rows', [64, 784], indicesOf([5], [3, 0, 63, 17, 40]), 0],
  ['repeated, reordered rows', [6, 3], indicesOf([7], [5, 5, 0, 2, 2, 1, 5]), 0],
  ['2-D indices', [6, 4], indicesOf([2, 3], [1, 0, 5, 4, 4, 2]), 0],
  ['rank-3 input', [5, 2, 3], indicesOf([3], [4, 0, 2]), 0],
  ['axis -rank', [4, 3], indicesOf([2], [3, 1]), -2],
  ['no indices', [4, 3], indicesOf([0], []), 0],
  ['axis 1 (stock)', [4, 6], indicesOf([3], [5, 0, 2]), 1],
  ['batch dims (stock)', [2, 5], indicesOf([2, 2], [4, 0, 1, 3]), 1, 1],
];

describe.skipIf(!hasBlas)('gather on blas', () => {
  it.each(CASES)('%s matches the stock kernel', (_, shape, indices, axis, batchDims) => {
    const input = randomHost(shape, seededRandom(shape.length * 31 + indices.values.length));
    const op = (x: tf.Tensor, i: tf.Tensor) => tf.gather(x, i, axis, batchDims);
    expectClose(runOn('blas', [input, indices], op), runOn('cpu', [input, indices], op), 0, 0, 'gather');
  });

  it('takes the fast path for rows and declines the rest, so the stock kernel runs', () => {
    tf.setBackend('blas');
    const backend = tf.backend() as MathBackendCPU;
    const call = (x: tf.Tensor, indices: tf.Tensor, attrs: Record<string, unknown>) => {
      const result = gatherKernel()({ inputs: { x, indices }, backend, attrs });
      if (result) backend.disposeData(result.dataId);
      return result;
    };
    tf.tidy(() => {
      const x = tf.ones([8, 4]);
      const rows = tf.tensor1d([7, 0, 3], 'int32');
      expect(call(x, rows, { axis: 0, batchDims: 0 })).not.toBeNull();
      expect(call(x, rows, { axis: 1, batchDims: 0 })).toBeNull();
      expect(call(x, tf.tensor1d([8], 'int32'), { axis: 0, batchDims: 0 })).toBeNull();
      expect(call(x, tf.tensor1d([-1], 'int32'), { axis: 0, batchDims: 0 })).toBeNull();
      expect(call(tf.ones([8, 4], 'int32'), rows, { axis: 0, batchDims: 0 })).toBeNull();
    });
  });

  it('an index out of range raises the stock kernel\'s error', () => {
    tf.setBackend('blas');
    expect(() => tf.tidy(() => tf.gather(tf.ones([3, 2]), tf.tensor1d([3], 'int32')))).toThrow(/not in \[0, 2\]/);
  });
});

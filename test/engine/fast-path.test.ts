import * as tf from '@tensorflow/tfjs';
import type { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu';
import { beforeAll, describe, expect, it } from 'vitest';
import { fastKernels, initEngine, loadBlas } from '../../src/engine/index.js';

const load = loadBlas();

beforeAll(async () => {
  await initEngine({ backend: load.ok ? 'blas' : 'cpu', log: () => {} });
});

/**
 * The comparison tests pass whether a case runs on the fast kernel or falls back to the stock one;
 * these check that the cases training depends on really take the fast path.
 */
describe.skipIf(!load.ok)('fast kernels cover the training step', () => {
  const kernels = load.ok ? fastKernels(load.blas) : {};
  const call = (name: string, inputs: Record<string, tf.Tensor>, attrs: Record<string, unknown> = {}) => {
    const backend = tf.backend() as MathBackendCPU;
    const result = kernels[name]({ inputs, backend, attrs });
    if (result) backend.disposeData(result.dataId);
    return result;
  };

  it('takes the fast path for the shapes of an MLP step', () => {
    tf.setBackend('blas');
    tf.tidy(() => {
      const h = tf.ones([128, 1200]);
      const bias = tf.ones([1200]);
      const w = tf.ones([1200, 1200]);
      expect(call('BatchMatMul', { a: h, b: w }, { transposeA: false, transposeB: false })).not.toBeNull();
      expect(call('BatchMatMul', { a: h, b: h }, { transposeA: true, transposeB: false })).not.toBeNull();
      expect(call('_FusedMatMul', { a: h, b: w, bias }, { activation: 'relu' })).not.toBeNull();
      for (const op of ['Add', 'Sub', 'Multiply', 'RealDiv']) {
        expect(call(op, { a: h, b: h }), `${op} same`).not.toBeNull();
        expect(call(op, { a: h, b: bias }), `${op} row`).not.toBeNull();
        expect(call(op, { a: h, b: tf.scalar(2) }), `${op} scalar`).not.toBeNull();
        expect(call(op, { a: h, b: tf.ones([128, 1]) }), `${op} column`).not.toBeNull();
      }
      expect(call('Relu', { x: h })).not.toBeNull();
      expect(call('Step', { x: h }, { alpha: 0 })).not.toBeNull();
      expect(call('Sum', { x: h }, { axis: [0], keepDims: false })).not.toBeNull();
      expect(call('Max', { x: h }, { reductionIndices: [1], keepDims: true })).not.toBeNull();
      expect(call('Softmax', { logits: h }, { dim: -1 })).not.toBeNull();
    });
  });

  it('takes the fast path for the ensemble\'s row gather (GatherV2 is registered with the blas backend)', () => {
    tf.setBackend('blas');
    tf.tidy(() => {
      const rows = tf.tensor1d([63, 0, 17], 'int32');
      expect(call('GatherV2', { x: tf.ones([64, 784]), indices: rows }, { axis: 0, batchDims: 0 })).not.toBeNull();
    });
  });

  it('declines what it does not cover, so the stock kernel runs', () => {
    tf.setBackend('blas');
    tf.tidy(() => {
      expect(call('Add', { a: tf.ones([3, 1]), b: tf.ones([1, 4]) })).toBeNull();
      expect(call('Add', { a: tf.ones([3], 'int32'), b: tf.ones([3], 'int32') })).toBeNull();
      expect(call('Sum', { x: tf.ones([2, 3, 4]) }, { axis: [0, 2], keepDims: false })).toBeNull();
      expect(
        call('_FusedMatMul', { a: tf.ones([2, 3]), b: tf.ones([3, 4]), bias: tf.ones([2, 1]) }, {
          activation: 'linear',
        }),
      ).toBeNull();
    });
  });
});

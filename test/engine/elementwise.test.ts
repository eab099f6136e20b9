import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, it } from 'vitest';
import { BINARY_FORMULAS } from '../../src/engine/kernels/binary.js';
import { UNARY_FORMULAS } from '../../src/engine/kernels/unary.js';
import { initEngine, loadBlas } from '../../src/engine/index.js';
import { expectClose, type HostTensor, randomHost, runOn, seededRandom } from './compare.js';

const hasBlas = loadBlas().ok;

beforeAll(async () => {
  await initEngine({ backend: hasBlas ? 'blas' : 'cpu', log: () => {} });
});

const BINARY_OPS: Record<keyof typeof BINARY_FORMULAS, (a: tf.Tensor, b: tf.Tensor) => tf.Tensor> = {
  Add: tf.add,
  Sub: tf.sub,
  Multiply: tf.mul,
  RealDiv: tf.div,
  Maximum: tf.maximum,
  Minimum: tf.minimum,
  SquaredDifference: tf.squaredDifference,
};

// Every fast pattern (same, scalar on each side, row and column broadcast on each side, with rank
// differences), the general case the fast path declines, and empty tensors.
const SHAPE_PAIRS: [number[], number[]][] = [[[7], [7]], [[3, 5], [3, 5]], [[3, 5], []], [[], [3, 5]], [[3, 5], [1]], [[
  1,
  1,
], [3, 5]], [[3, 5], [5]], [[5], [3, 5]], [[2, 3, 5], [3, 5]], [[2, 3, 5], [1, 5]], [[3, 5], [3, 1]], [[3, 1], [3, 5]],
  [[2, 3, 5], [2, 3, 1]], [[2, 3, 5], [2, 1, 1]], [[3, 1], [1, 5]], [[2, 1, 5], [2, 3, 1]], [[0, 5], [5]], [[0], [0]], [
  [128, 1200],
  [1200],
]];

describe.skipIf(!hasBlas)('binary kernels on blas', () => {
  for (const [name, op] of Object.entries(BINARY_OPS)) {
    it.each(SHAPE_PAIRS)(`${name} %j with %j matches the stock cpu kernel`, (sa, sb) => {
      const random = seededRandom(name.length * 1000 + sa.length * 10 + sb.length);
      const inputs = [randomHost(sa, random), randomHost(sb, random)];
      expectClose(runOn('blas', inputs, op), runOn('cpu', inputs, op), 0, 1e-7, name);
    });
  }

  it('int32 operands go to the stock kernel', () => {
    const inputs: HostTensor[] = [{ shape: [4], values: new Float32Array([1, 2, 3, 4]), dtype: 'int32' }, { shape: [4],
      values: new Float32Array([5, 6, 7, 8]), dtype: 'int32' }];
    expectClose(runOn('blas', inputs, tf.add), runOn('cpu', inputs, tf.add), 0, 0, 'int32 add');
  });
});

const UNARY_OPS: Record<keyof typeof UNARY_FORMULAS, (x: tf.Tensor) => tf.Tensor> = {
  Relu: tf.relu,
  Relu6: tf.relu6,
  Step: (x) => tf.step(x, 0.3),
  Exp: tf.exp,
  Log: tf.log,
  Neg: tf.neg,
  Sqrt: tf.sqrt,
  Rsqrt: tf.rsqrt,
  Square: tf.square,
  Reciprocal: tf.reciprocal,
  Abs: tf.abs,
  Sigmoid: tf.sigmoid,
  Tanh: tf.tanh,
  Elu: tf.elu,
  Softplus: tf.softplus,
};

/** Random values plus the special ones whose handling differs most between formulas. */
function unaryInput(seed: number): HostTensor {
  const random = randomHost([6, 50], seededRandom(seed), 20);
  random.values.set([0, -0, 1, -1, NaN, Infinity, -Infinity, 1e-30, -1e-30, 13.95, -13.95, 88, -88, 6, 7]);
  return random;
}

describe.skipIf(!hasBlas)('unary kernels on blas', () => {
  it.each(Object.entries(UNARY_OPS))('%s matches the stock cpu kernel, NaN and infinities included', (name, op) => {
    const inputs = [unaryInput(name.length)];
    expectClose(runOn('blas', inputs, op), runOn('cpu', inputs, op), 1e-7, 1e-6, name);
  });
});

import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initEngine, loadBlas } from '../../src/engine/index.js';
import { expectClose, randomHost, runOn, seededRandom } from './compare.js';

const hasBlas = loadBlas().ok;

beforeAll(async () => {
  await initEngine({ backend: hasBlas ? 'blas' : 'cpu', log: () => {} });
});

// [a shape, b shape, transposeA, transposeB]: size-1 and size-0 dims, odd sizes, every transpose
// combination, batched and broadcast batches.
const CASES: [number[], number[], boolean, boolean][] = [[[1, 1], [1, 1], false, false], [[3, 5], [5, 7], false, false],
  [[5, 3], [5, 7], true, false], [[3, 5], [7, 5], false, true], [[5, 3], [7, 5], true, true], [[1, 13], [13, 17], false,
  false], [[1, 13], [17, 13], false, true], [[17, 1], [1, 19], false, false], [[33, 65], [65, 1], false, false], [[0,
  4], [4, 3], false, false], [[4, 0], [0, 3], false, false], [[128, 784], [784, 120], false, false], [[2, 3, 4], [2, 4,
  5], false, false], [[2, 4, 3], [2, 5, 4], true, true], [[1, 3, 4], [6, 4, 5], false, false], [[6, 3, 4], [1, 4, 5],
  false, false], [[6, 3, 4], [4, 5], false, false], [[2, 2, 3, 4], [2, 2, 4, 5], false, false]];

describe.skipIf(!hasBlas)('BatchMatMul on blas', () => {
  it.each(CASES)('%j × %j (tA=%s, tB=%s) matches the stock cpu kernel', (sa, sb, tA, tB) => {
    const random = seededRandom(sa.length * 131 + sb.reduce((p, d) => p * 7 + d, 1));
    const inputs = [randomHost(sa, random), randomHost(sb, random)];
    const op = (a: tf.Tensor, b: tf.Tensor) => tf.matMul(a, b, tA, tB);
    const k = tA ? sa[sa.length - 2] : sa[sa.length - 1];
    expectClose(runOn('blas', inputs, op), runOn('cpu', inputs, op), 1e-5 * Math.sqrt(k + 1), 1e-5, 'matMul');
  });

  it('broadcasts batch dims that the stock kernel cannot ([2,1] with [1,3])', () => {
    const random = seededRandom(7);
    const a = randomHost([2, 1, 3, 4], random);
    const b = randomHost([1, 3, 4, 5], random);
    const ours = runOn('blas', [a, b], (x, y) => tf.matMul(x, y));
    // Reference: materialise the broadcast, then the stock kernel on equal batches.
    const reference = runOn('cpu', [a, b],
      (x, y) => tf.matMul(tf.broadcastTo(x, [2, 3, 3, 4]), tf.broadcastTo(y, [2, 3, 4, 5])));
    expectClose(ours, reference, 1e-5, 1e-5, 'broadcast');
  });

  it('rejects mismatched inner dimensions with the stock message', () => {
    tf.setBackend('blas');
    expect(() => tf.matMul(tf.ones([2, 3]), tf.ones([4, 2]))).toThrow(/inner shapes/);
  });
});

const ACTIVATIONS = ['linear', 'relu', 'relu6', 'elu', 'leakyrelu', 'sigmoid', 'prelu'] as const;
// Bias shapes covering every layout: per output unit, explicit row, scalar, full, and per row
// (which the fast kernel declines and the stock kernel handles).
const BIASES: (number[] | null)[] = [null, [7], [1, 7], [1], [5, 7], [5, 1]];

describe.skipIf(!hasBlas)('_FusedMatMul on blas', () => {
  for (const activation of ACTIVATIONS) {
    it.each(BIASES.map((b) => [b]))(`${activation} with bias %j matches the stock cpu kernel`, (biasShape) => {
      const random = seededRandom(activation.length * 31 + (biasShape?.length ?? 0));
      const inputs = [randomHost([5, 9], random), randomHost([9, 7], random)];
      if (biasShape) inputs.push(randomHost(biasShape, random));
      inputs.push(randomHost([7], random, 0.5)); // prelu weights
      const op = (a: tf.Tensor, b: tf.Tensor, ...rest: tf.Tensor[]) =>
        tf.fused.matMul({
          a,
          b,
          bias: biasShape ? rest[0] : undefined,
          activation,
          preluActivationWeights: activation === 'prelu' ? rest[rest.length - 1] : undefined,
          leakyreluAlpha: 0.3,
        });
      expectClose(runOn('blas', inputs, op), runOn('cpu', inputs, op), 1e-5, 1e-5, activation);
    });
  }

  it('transposed operands with a bias match the stock kernel', () => {
    const random = seededRandom(99);
    const inputs = [randomHost([9, 5], random), randomHost([7, 9], random), randomHost([7], random)];
    const op = (a: tf.Tensor, b: tf.Tensor, bias: tf.Tensor) =>
      tf.fused.matMul({ a, b, bias, transposeA: true, transposeB: true, activation: 'relu' });
    expectClose(runOn('blas', inputs, op), runOn('cpu', inputs, op), 1e-5, 1e-5, 'transposed');
  });
});

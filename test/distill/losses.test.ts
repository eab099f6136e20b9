import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { hardLabelLoss, logitMatchingLoss, logSoftmaxAt, softmaxAt, softmaxRowsAt, softTargetLoss,
  weightedSum } from '../../src/distill/index.js';
import { initEngine } from '../../src/engine/index.js';

beforeAll(async () => {
  await initEngine({ backend: 'auto', log: () => {} });
});

const student = [[2.0, -1.0, 0.5, 0.0, 3.0]];
const teacher = [[1.0, 0.5, -2.0, 0.3, 2.5]];

/** Float64 softmax of a row at temperature T: the closed form the tests compare against. */
function softmax64(row: number[], T: number): number[] {
  const max = Math.max(...row.map((v) => v / T));
  const e = row.map((v) => Math.exp(v / T - max));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / s);
}

/** Mean entropy (nats) of the rows' softmax at T, in float64: the part of the soft loss no student can remove. */
function entropyAt(rows: number[][], T: number): number {
  return rows.reduce((sum, row) => sum - softmax64(row, T).reduce((h, p) => h + p * Math.log(p), 0), 0) / rows.length;
}

describe('soft-target loss', () => {
  it.each([1, 2.5, 20])('has gradient (q_i − p_i)/T per logit before the T² factor (T=%s)', (T) => {
    const p = tf.tensor2d([softmax64(teacher[0], T)]);
    const grad = tf.grad((z: tf.Tensor) => softTargetLoss(z, p, T))(tf.tensor2d(student));
    const q = softmax64(student[0], T);
    const expected = q.map((qi, i) => ((qi - softmax64(teacher[0], T)[i]) / T) * T * T);
    const got = Array.from(grad.dataSync());
    got.forEach((g, i) => expect(g).toBeCloseTo(expected[i], 5));
  });

  it('approaches (z_i − v_i)/(N·T²) at high T with zero-mean logits (before the T² factor)', () => {
    const T = 200;
    const center = (row: number[]) => row.map((v) => v - row.reduce((a, b) => a + b, 0) / row.length);
    const z = center(student[0]);
    const v = center(teacher[0]);
    const p = tf.tensor2d([softmax64(v, T)]);
    const grad = Array.from(tf.grad((s: tf.Tensor) => softTargetLoss(s, p, T))(tf.tensor2d([z])).dataSync());
    const N = z.length;
    grad.forEach((g, i) => {
      const limit = (z[i] - v[i]) / (N * T * T);
      // Within 2% of the limit; the residual is the O(1/T³) term plus float32 rounding.
      expect(Math.abs(g / (T * T) - limit)).toBeLessThan(Math.abs(limit) * 0.02);
    });
  });

  it('has a zero KL part and zero gradient when student logits equal teacher logits', () => {
    const T = 4;
    const logits = tf.tensor2d(teacher);
    // KL = the soft loss over T² minus the teacher's entropy at T (what training logs as `kl`).
    const kl = (z: tf.Tensor) =>
      softTargetLoss(z, softmaxAt(logits, T), T).dataSync()[0] / (T * T) - entropyAt(teacher, T);
    expect(kl(logits)).toBeCloseTo(0, 5);
    const grad = tf.grad((z: tf.Tensor) => softTargetLoss(z, softmaxAt(logits, T), T))(tf.tensor2d(teacher));
    for (const g of grad.dataSync()) expect(Math.abs(g)).toBeLessThan(1e-6);
    // Any other student pays a positive KL.
    expect(kl(tf.tensor2d(student))).toBeGreaterThan(0.01);
  });

  it('sums over classes and averages over the batch', () => {
    const T = 3;
    const rows = [student[0], teacher[0]];
    const p = tf.tensor2d(rows.map((r) => softmax64(r.map((v) => -v), T)));
    const loss = softTargetLoss(tf.tensor2d(rows), p, T).dataSync()[0];
    const perRow = rows.map((r, b) => {
      const q = softmax64(r, T);
      const pr = softmax64(rows[b].map((v) => -v), T);
      return -pr.reduce((s, pi, i) => s + pi * Math.log(q[i]), 0);
    });
    expect(loss).toBeCloseTo(((perRow[0] + perRow[1]) / 2) * T * T, 4);
  });
});

describe('hard-label and logit-matching losses', () => {
  it('hard loss is the mean negative log-probability of the label at T = 1', () => {
    const loss = hardLabelLoss(tf.tensor2d([student[0], teacher[0]]), tf.tensor1d([4, 2], 'int32')).dataSync()[0];
    const expected = -(Math.log(softmax64(student[0], 1)[4]) + Math.log(softmax64(teacher[0], 1)[2])) / 2;
    expect(loss).toBeCloseTo(expected, 5);
  });

  it('logit matching ignores a constant shift and equals ½ Σ of centred squared differences', () => {
    const shifted = teacher[0].map((v) => v + 7);
    expect(logitMatchingLoss(tf.tensor2d([shifted]), tf.tensor2d(teacher)).dataSync()[0]).toBeCloseTo(0, 5);
    const center = (row: number[]) => row.map((v) => v - row.reduce((a, b) => a + b, 0) / row.length);
    const z = center(student[0]);
    const v = center(teacher[0]);
    const expected = 0.5 * z.reduce((s, zi, i) => s + (zi - v[i]) ** 2, 0);
    expect(logitMatchingLoss(tf.tensor2d(student), tf.tensor2d(teacher)).dataSync()[0]).toBeCloseTo(expected, 4);
  });

  it('weightedSum adds weighted named terms and refuses an empty sum', () => {
    const total = weightedSum({ soft: { weight: 1, value: tf.scalar(2) }, hard: { weight: 0.1, value: tf.scalar(5) } });
    expect(total.dataSync()[0]).toBeCloseTo(2.5, 6);
    expect(() => weightedSum({ soft: { weight: 0, value: tf.scalar(1) } })).toThrow(/weight 0/);
  });

  it('rejects a non-positive temperature', () => {
    expect(() => softmaxAt(tf.tensor2d(student), 0)).toThrow(/temperature/);
  });
});

describe('softmax at a temperature, on tensors and on host arrays', () => {
  const rows = [[2.0, -1.0, 0.5, 0.0, 3.0], [1e10, 1e10, -5, 0, 1e9], [0, 0, 0, 0, 0]];

  it('matches the float64 closed form at ordinary temperatures', () => {
    for (const T of [0.5, 1, 2.5, 20]) {
      const host = softmaxRowsAt(Float32Array.from(rows[0]), 5, T);
      const tensor = softmaxAt(tf.tensor2d([rows[0]]), T).dataSync();
      softmax64(rows[0], T).forEach((p, i) => {
        expect(host[i]).toBeCloseTo(p, 6);
        expect(tensor[i]).toBeCloseTo(p, 6);
      });
    }
  });

  it('stays finite at tiny temperatures: the argmax gets all the mass, ties share it', () => {
    const expected = [[0, 0, 0, 0, 1], [0.5, 0.5, 0, 0, 0], [0.2, 0.2, 0.2, 0.2, 0.2]];
    for (const T of [1e-3, 1e-300, 5e-324]) {
      const host = softmaxRowsAt(Float32Array.from(rows.flat()), 5, T);
      const tensor = softmaxAt(tf.tensor2d(rows), T).dataSync();
      const logTensor = logSoftmaxAt(tf.tensor2d(rows), T).dataSync();
      expected.flat().forEach((p, i) => {
        expect(host[i], `host T=${T} [${i}]`).toBeCloseTo(p, 6);
        expect(tensor[i], `tensor T=${T} [${i}]`).toBeCloseTo(p, 6);
        expect(Number.isNaN(logTensor[i]), `log T=${T} [${i}]`).toBe(false);
      });
    }
  });
});

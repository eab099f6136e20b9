import * as tf from '@tensorflow/tfjs';
import { expect } from 'vitest';
import { poisonOutputs } from '../../src/engine/kernels/kernel-args.js';

// Our kernels allocate outputs without zeroing them; filled with NaN here, any element a kernel
// forgets to write shows up in every comparison below.
poisonOutputs(true);

/** A deterministic generator so a failing shape reproduces. */
export function seededRandom(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface HostTensor {
  shape: number[];
  values: Float32Array;
  dtype?: 'float32' | 'int32';
}

export function randomHost(shape: number[], random: () => number, scale = 1): HostTensor {
  const size = shape.reduce((a, b) => a * b, 1);
  const values = new Float32Array(size);
  for (let i = 0; i < size; i++) values[i] = (random() * 2 - 1) * scale;
  return { shape, values };
}

/**
 * Runs `op` on fresh copies of the inputs under `backend` and returns the result on the host.
 * Fresh copies per backend: tfjs would otherwise move the data between backends and the
 * comparison would measure the move, not the kernel.
 */
export function runOn(backend: string, inputs: HostTensor[], op: (...xs: tf.Tensor[]) => tf.Tensor): HostTensor {
  const previous = tf.getBackend();
  tf.setBackend(backend);
  try {
    return tf.tidy(() => {
      const xs = inputs.map((h) => tf.tensor(h.values.slice(), h.shape, h.dtype ?? 'float32'));
      const y = op(...xs);
      return { shape: y.shape, values: Float32Array.from(y.dataSync()) };
    });
  } finally {
    tf.setBackend(previous);
  }
}

/** Elementwise |a − b| ≤ atol + rtol·|b|, NaN matching NaN and infinities matching exactly. */
export function expectClose(actual: HostTensor, expected: HostTensor, atol: number, rtol = atol, label = ''): void {
  expect(actual.shape, `${label} shape`).toEqual(expected.shape);
  let worst = 0;
  let worstAt = -1;
  for (let i = 0; i < expected.values.length; i++) {
    const a = actual.values[i];
    const b = expected.values[i];
    if (Number.isNaN(b) || !Number.isFinite(b)) {
      if (!Object.is(a, b) && !(a === b)) throw new Error(`${label}: at ${i} got ${a}, stock gave ${b}`);
      continue;
    }
    const excess = Math.abs(a - b) - (atol + rtol * Math.abs(b));
    if (!(excess <= worst)) {
      worst = Number.isNaN(excess) ? Infinity : excess;
      worstAt = i;
    }
  }
  if (worstAt >= 0) {
    throw new Error(`${label}: at ${worstAt} got ${actual.values[worstAt]}, stock gave ${expected.values[worstAt]}`);
  }
}

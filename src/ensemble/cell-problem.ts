import * as tf from '@tensorflow/tfjs';

/**
 * The combination problem reduced to cells (see cells.ts): per example, find the distribution Q
 * over cells minimising  −Σ_C a_C log Q_C − Σ_k d_k log D_k(Q),  D_k = Σ_{C outside slot k} Q_C,
 * which is KL(p_g‖q) + Σ_m KL(p_m‖q̃_m) up to a constant once q_i = a_i Q_C / a_C inside each cell.
 */
export interface CellProblem {
  /** [batch, cells] a_C: the generalist's and active specialists' mass on the cell's classes; 0 for empty cells. */
  mass: tf.Tensor2D;
  /** [batch, slots] d_k: the dustbin probability of the specialist in slot k; 0 for unused slots. */
  dustbin: tf.Tensor2D;
  /** [cells, slots] 1 where the cell's classes lie outside the slot's specialist. */
  outside: tf.Tensor2D;
  /** [batch, 1] 1 / (1 + |A|): one EM step's numerators sum to 1 + |A| (normalised inputs). */
  inverseWeight: tf.Tensor2D;
}

export interface SolveOptions {
  /** Stop once every example's step (TV distance between q and its EM image) is at most this. */
  tolerance: number;
  maxIterations: number;
}

export interface SolveResult {
  /** [batch, cells] Q. */
  cells: tf.Tensor2D;
  /** Evaluations of the EM map. */
  iterations: number;
  /** The largest per-example TV distance between an iterate and its EM image, for the last iterate measured. */
  residual: number;
  converged: boolean;
}

export type Solver = (problem: CellProblem, options: SolveOptions) => SolveResult;

/** Keeps W = d / D finite when a solver drives D to zero (EM cannot: its D stays ≥ the cells' own mass). */
const TINY = 1e-37;

/**
 * One EM step, batched: T(Q)_C = (a_C + Q_C Σ_{k: C outside k} d_k / D_k) / (1 + |A|). Each
 * dustbin's mass is shared among the cells outside its specialist in proportion to their current
 * mass: the E step of a multinomial observed through coarsened categories.
 */
export function emMap(problem: CellProblem, q: tf.Tensor2D): tf.Tensor2D {
  return tf.tidy(() => {
    const outsideMass = tf.matMul(q, problem.outside); // [batch, slots] D_k
    const perUnit = tf.div(problem.dustbin, tf.maximum(outsideMass, TINY)); // [batch, slots] d_k / D_k
    const inflow = tf.matMul(perUnit, problem.outside, false, true); // [batch, cells]
    return tf.mul(tf.add(problem.mass, tf.mul(q, inflow)), problem.inverseWeight); // [batch, cells]
  });
}

/**
 * Twice the largest per-example TV distance between q and t (readStep halves it). It is also the
 * logit-gradient norm: ∂F/∂z = (1 + |A|)(q − T(q)) for q = softmax(z).
 */
export function worstStep(q: tf.Tensor2D, t: tf.Tensor2D): tf.Scalar {
  return tf.tidy(() => tf.max(tf.sum(tf.abs(tf.sub(t, q)), 1))); // [] from [batch]
}

/** Reads worstStep's scalar and disposes it: the one host sync per iteration, for the stopping test. */
export function readStep(value: tf.Scalar): number {
  try {
    return value.dataSync()[0] / 2;
  } finally {
    value.dispose();
  }
}

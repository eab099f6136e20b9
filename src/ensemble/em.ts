import * as tf from '@tensorflow/tfjs';
import { type CellProblem, emMap, readStep, type SolveOptions, type SolveResult, worstStep } from './cell-problem.js';

/**
 * The EM fixed point q ← (p_g + Σ_m [i∈S_m] p_m + Σ_m [i∉S_m] p_m,dust q_i / Σ_{k∉S_m} q_k) / (1 + |A|),
 * on cells. Why the objective never increases: F(q) = −Σ a_i log q_i − Σ_m d_m log D_m(q) is the
 * negative log-likelihood of counts a_i on classes plus counts d_m on coarsened categories (the
 * classes outside S_m). With r_i^m = q_i / D_m for i outside S_m (the E step), Jensen gives
 * F(q') ≤ G(q'; q) = −Σ_i (a_i + Σ_m d_m r_i^m) log q'_i + const, with equality at q' = q; the
 * step minimises G over the simplex (the M step, q' ∝ those counts), so F(q') ≤ G(q'; q) ≤ G(q; q) = F(q).
 *
 * Starts from the plain average a / (1 + |A|), which is the answer when no dustbin has mass.
 *
 * @example
 *   const { cells, iterations } = em(problem, { tolerance: 1e-6, maxIterations: 200 });
 */
export function em(problem: CellProblem, { tolerance, maxIterations }: SolveOptions): SolveResult {
  let q: tf.Tensor2D = tf.tidy(() => tf.mul(problem.mass, problem.inverseWeight)); // [batch, cells]
  let residual = Infinity;
  let iterations = 0;
  try {
    while (iterations < maxIterations) {
      const [next, worst] = tf.tidy(() => {
        const t = emMap(problem, q); // [batch, cells]
        return [t, worstStep(q, t)] as [tf.Tensor2D, tf.Scalar];
      });
      q.dispose();
      q = next;
      iterations++;
      residual = readStep(worst);
      if (residual <= tolerance) break;
    }
  } catch (error) {
    q.dispose();
    throw error;
  }
  // The step just taken is at least as good as the iterate whose residual was measured.
  return { cells: q, iterations, residual, converged: residual <= tolerance };
}

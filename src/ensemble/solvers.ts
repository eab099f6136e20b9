import type { Solver } from './cell-problem.js';
import { em } from './em.js';
import { gradient } from './gradient.js';

/** The combination solvers by name; a bundle's combiner settings name one of these keys. */
export const SOLVERS = { em, gradient } satisfies Record<string, Solver>;
export type SolverName = keyof typeof SOLVERS;
export const SOLVER_NAMES = Object.keys(SOLVERS) as [SolverName, ...SolverName[]];

/**
 * EM: it reached tolerance 1e-6 in fewer µs than gradient descent in all 30 cases of
 * `npm run bench:combine` (blas engine, shared 2-core VM; 2026-11-25): median 10× faster, range
 * 1.5–104×. At the target case (batch 64, N = 1000, 3 active) em took 1.96 ms in 4 iterations,
 * gradient 38.4 ms in 336. EM's multiplicative step moves a cell by a factor per iteration; a logit's
 * gradient is proportional to its cell's mass, so descent crawls wherever mass must grow or shrink a lot.
 */
export const DEFAULT_SOLVER: SolverName = 'em';

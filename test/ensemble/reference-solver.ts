/**
 * An independent float64 solver for the combination problem, for the tests only. It shares no code
 * and no idea with src/ensemble: no cells, no EM, no tensors. It runs damped Newton on q itself
 * over all N classes, on the simplex (equality-constrained Newton; a fraction-to-the-boundary rule
 * keeps q > 0), with the Hessian diag(a/q²) + Σ_m (d_m/D_m²) u_m u_mᵀ inverted by Woodbury, so a
 * step costs O(N |A|²).
 */

export interface ReferenceSpecialist {
  classes: readonly number[];
  /** |classes| + 1 probabilities, dustbin last (renormalised here). */
  probs: ArrayLike<number>;
}

export interface ReferenceProblem {
  generalist: ArrayLike<number>;
  specialists: readonly ReferenceSpecialist[];
}

function normalised(values: ArrayLike<number>): number[] {
  let sum = 0;
  for (let i = 0; i < values.length; i++) sum += values[i];
  return Array.from(values, (v) => v / sum);
}

interface Prepared {
  /** a_i: generalist plus specialists' probability of class i. */
  a: Float64Array;
  /** Per specialist with dustbin mass: the dustbin and the 0/1 indicator of classes outside it. */
  dustbins: { d: number; outside: Uint8Array }[];
  /** The constant that makes `objective` the sum of KL divergences. */
  entropyTerms: number;
}

function prepare({ generalist, specialists }: ReferenceProblem): Prepared {
  const pg = normalised(generalist);
  const n = pg.length;
  const a = Float64Array.from(pg);
  let entropyTerms = pg.reduce((s, p) => s + (p > 0 ? p * Math.log(p) : 0), 0);
  const dustbins: Prepared['dustbins'] = [];
  for (const spec of specialists) {
    const p = normalised(spec.probs);
    spec.classes.forEach((c, j) => {
      a[c] += p[j];
    });
    entropyTerms += p.reduce((s, v) => s + (v > 0 ? v * Math.log(v) : 0), 0);
    const d = p[spec.classes.length];
    if (d > 0) {
      const outside = new Uint8Array(n).fill(1);
      for (const c of spec.classes) outside[c] = 0;
      dustbins.push({ d, outside });
    }
  }
  return { a, dustbins, entropyTerms };
}

function outsideMass(q: ArrayLike<number>, outside: Uint8Array): number {
  let mass = 0;
  for (let i = 0; i < outside.length; i++) if (outside[i]) mass += q[i];
  return mass;
}

function crossTerms({ a, dustbins }: Prepared, q: ArrayLike<number>): number {
  let f = 0;
  for (let i = 0; i < a.length; i++) if (a[i] > 0) f -= a[i] * Math.log(q[i]);
  for (const { d, outside } of dustbins) f -= d * Math.log(outsideMass(q, outside));
  return f;
}

/** KL(p_g‖q) + Σ_m KL(p_m‖q̃_m), in float64, inputs renormalised. */
export function objective(problem: ReferenceProblem, q: ArrayLike<number>): number {
  const prepared = prepare(problem);
  return prepared.entropyTerms + crossTerms(prepared, q);
}

/** Solves the small dense system m x = v in place by Gaussian elimination with partial pivoting. */
function solveDense(m: number[][], v: number[]): number[] {
  const n = v.length;
  for (let col = 0; col < n; col++) {
    let pivot = col;
    for (let r = col + 1; r < n; r++) if (Math.abs(m[r][col]) > Math.abs(m[pivot][col])) pivot = r;
    [m[col], m[pivot]] = [m[pivot], m[col]];
    [v[col], v[pivot]] = [v[pivot], v[col]];
    for (let r = col + 1; r < n; r++) {
      const f = m[r][col] / m[col][col];
      for (let c = col; c < n; c++) m[r][c] -= f * m[col][c];
      v[r] -= f * v[col];
    }
  }
  const x = new Array<number>(n).fill(0);
  for (let r = n - 1; r >= 0; r--) {
    let s = v[r];
    for (let c = r + 1; c < n; c++) s -= m[r][c] * x[c];
    x[r] = s / m[r][r];
  }
  return x;
}

/** The optimal q, to float64 precision: Newton runs until its decrement stops shrinking quadratically. */
export function referenceSolve(problem: ReferenceProblem): Float64Array {
  const prepared = prepare(problem);
  const { a, dustbins } = prepared;
  const n = a.length;
  const total = a.reduce((s, v) => s + v, 0);
  let q = Float64Array.from(a, (v) => Math.max(v / total, 1e-300));
  let previousDecrement = Infinity;
  for (let iteration = 0; iteration < 500; iteration++) {
    const masses = dustbins.map(({ outside }) => outsideMass(q, outside));
    const g = Float64Array.from(a, (ai, i) => -ai / q[i]);
    dustbins.forEach(({ d, outside }, m) => {
      for (let i = 0; i < n; i++) if (outside[i]) g[i] -= d / masses[m];
    });
    // H⁻¹ v by Woodbury: H = Λ + U C Uᵀ with Λ = diag(a/q²), C = diag(d/D²), U = [outside indicators].
    const lambdaInv = Float64Array.from(a, (ai, i) => (q[i] * q[i]) / ai);
    const k = dustbins.length;
    const small = dustbins.map(({ d, outside }, r) =>
      dustbins.map(({ outside: other }, c) => {
        let s = r === c ? (masses[r] * masses[r]) / d : 0;
        for (let i = 0; i < n; i++) if (outside[i] && other[i]) s += lambdaInv[i];
        return s;
      })
    );
    const hInv = (v: Float64Array): Float64Array => {
      const lv = Float64Array.from(v, (x, i) => x * lambdaInv[i]);
      if (k === 0) return lv;
      const y = solveDense(small.map((row) => [...row]), dustbins.map(({ outside }) => outsideMass(lv, outside)));
      return Float64Array.from(lv, (x, i) =>
        x - lambdaInv[i] * dustbins.reduce((s, { outside }, m) => s + (outside[i] ? y[m] : 0), 0));
    };
    const hg = hInv(g);
    const h1 = hInv(new Float64Array(n).fill(1));
    const nu = hg.reduce((s, v) => s + v, 0) / h1.reduce((s, v) => s + v, 0);
    const step = Float64Array.from(hg, (v, i) => -(v - nu * h1[i]));
    const decrement = -g.reduce((s, gi, i) => s + gi * step[i], 0);
    // Quadratic convergence ends at the rounding floor of g (about 1e-13 here); stop once there.
    if (decrement < 1e-24 || (decrement < 1e-10 && decrement > 0.1 * previousDecrement)) break;
    previousDecrement = decrement;
    let t = 1;
    for (let i = 0; i < n; i++) if (step[i] < 0) t = Math.min(t, -0.99 * q[i] / step[i]);
    const f0 = crossTerms(prepared, q);
    for (let tries = 0; tries < 60; tries++) {
      const trial = Float64Array.from(q, (v, i) => v + t * step[i]);
      // Near the optimum the decrease is below float64 resolution: take the full step then.
      if (decrement < 1e-12 || crossTerms(prepared, trial) <= f0 - 0.25 * t * decrement) {
        q = trial;
        break;
      }
      t /= 2;
    }
  }
  const sum = q.reduce((s, v) => s + v, 0);
  return q.map((v) => v / sum);
}

export function totalVariation(p: ArrayLike<number>, q: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < p.length; i++) s += Math.abs(p[i] - q[i]);
  return s / 2;
}

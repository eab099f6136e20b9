/** Median of the values; benchmarks report it because a 2-core machine's timings are noisy. */
export function median(values: number[]): number {
  if (values.length === 0) throw new Error('median of no values');
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

export interface TimingOptions {
  /** Untimed calls first, so JIT compilation and first-use allocation are not measured. */
  warmup: number;
  /** Calls per timed run. */
  iterations: number;
  /** Timed runs; the median run is reported. */
  runs: number;
}

/**
 * Seconds per call of `fn`, as the median over `runs` runs of `iterations` calls each.
 *
 * @example
 *   const seconds = timePerCall(() => model.predict(x), { warmup: 5, iterations: 20, runs: 5 });
 */
export function timePerCall(fn: () => void, { warmup, iterations, runs }: TimingOptions): number {
  for (let i = 0; i < warmup; i++) fn();
  const perRun: number[] = [];
  for (let r = 0; r < runs; r++) {
    const start = process.hrtime.bigint();
    for (let i = 0; i < iterations; i++) fn();
    perRun.push(Number(process.hrtime.bigint() - start) / 1e9 / iterations);
  }
  return median(perRun);
}

/**
 * timePerCall for a function that returns a promise (ONNX Runtime's session.run), each call awaited before the next.
 */
export async function timePerCallAsync(fn: () => Promise<unknown>,
  { warmup, iterations, runs }: TimingOptions): Promise<number> {
  for (let i = 0; i < warmup; i++) await fn();
  const perRun: number[] = [];
  for (let r = 0; r < runs; r++) {
    const start = process.hrtime.bigint();
    for (let i = 0; i < iterations; i++) await fn();
    perRun.push(Number(process.hrtime.bigint() - start) / 1e9 / iterations);
  }
  return median(perRun);
}

export interface BenchTiming {
  /** Timed runs; the median is reported (the machines are shared and noisy). */
  runs: number;
  /** Seconds one timed run should last; calls per run are sized from one untimed call. */
  budget: number;
}

/**
 * Seconds per call of `fn`: median of `runs` runs, each of as many calls as fit in `budget`.
 *
 * @example
 *   const seconds = timeAdaptive(() => model.predict(x), { runs: 5, budget: 0.05 });
 */
export function timeAdaptive(fn: () => void, { runs, budget }: BenchTiming): number {
  // Sized from one untimed call: the stock cpu backend takes seconds per training step, blas milliseconds.
  const start = performance.now();
  fn();
  const once = (performance.now() - start) / 1000;
  const iterations = Math.max(1, Math.min(200, Math.round(budget / Math.max(once, 1e-6))));
  return timePerCall(fn, { warmup: Math.min(3, iterations), iterations, runs });
}

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

/** timePerCall for a function that returns a promise (ONNX Runtime's session.run), each call awaited before the next. */
export async function timePerCallAsync(fn: () => Promise<unknown>, { warmup, iterations, runs }: TimingOptions): Promise<number> {
  for (let i = 0; i < warmup; i++) await fn();
  const perRun: number[] = [];
  for (let r = 0; r < runs; r++) {
    const start = process.hrtime.bigint();
    for (let i = 0; i < iterations; i++) await fn();
    perRun.push(Number(process.hrtime.bigint() - start) / 1e9 / iterations);
  }
  return median(perRun);
}

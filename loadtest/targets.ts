import type { Measurement } from './cannon.js';

// The targets for this 2-core machine, judged on measured numbers and reported as met or
// missed. They are not budgets: missing one does not fail the run (use --budget for that).

export const TARGETS = {
  /** The load level the student and ensemble targets are judged at. */
  connections: 32,
  /** Student rps as a fraction of the trivial route's, at least. */
  studentRpsRatio: 0.5,
  /** Student p99 at most, in ms. */
  studentP99Ms: 25,
  /** Ensemble p99 as a multiple of the student's at the same load, at most. */
  ensembleP99Ratio: 2.5,
  /** The load level of the batching comparison. */
  batchingConnections: 128,
  /** rps with dynamic batching as a multiple of rps without, at least. */
  batchingSpeedup: 3,
  /** The student's v2 rps with binary tensor data as a multiple of the same with JSON numbers, at least. */
  binarySpeedup: 1.5,
} as const;

export interface TargetVerdict {
  target: string;
  /** null: not measured in this run (e.g. --quick skips the level it is judged at). */
  value: number | null;
  threshold: string;
  met: boolean | null;
}

const judge = (target: string, value: number | null | undefined, threshold: string,
  test: (v: number) => boolean): TargetVerdict => ({ target, value: value ?? null, threshold,
    met: value === null || value === undefined ? null : test(value) });

const ratio = (a: number | null | undefined,
  b: number | null | undefined) => (a == null || b == null || b === 0 ? null : a / b);

/** Every answer that was not a 2xx: errors (timeouts included) and non-2xx statuses. */
export const failures = (m: Measurement) => m.errors + m.non2xx;

/**
 * The student and ensemble targets at TARGETS.connections. The rps target is judged only when
 * the caller passes a `baseline` key (the A/B run measures the two models alone).
 */
export function modelTargets(at: { student?: Measurement; ensemble?: Measurement; baseline?: Measurement },
  c: number = TARGETS.connections): TargetVerdict[] {
  const verdicts: TargetVerdict[] = [];
  if ('baseline' in at) {
    verdicts.push(
      judge(`student rps at ${c} connections / trivial route's`, ratio(at.student?.rps, at.baseline?.rps),
        `≥ ${TARGETS.studentRpsRatio}`, (v) => v >= TARGETS.studentRpsRatio),
    );
  }
  verdicts.push(
    judge(`student p99 at ${c} connections (ms)`, at.student?.latencyMs.p99, `≤ ${TARGETS.studentP99Ms}`, (v) =>
      v <= TARGETS.studentP99Ms),
    judge(`student errors + non-2xx at ${c} connections`, at.student && failures(at.student), '= 0', (v) => v === 0),
    judge(`ensemble p99 / student p99 at ${c} connections`,
      ratio(at.ensemble?.latencyMs.p99, at.student?.latencyMs.p99), `≤ ${TARGETS.ensembleP99Ratio}`, (v) =>
      v <= TARGETS.ensembleP99Ratio),
  );
  return verdicts;
}

/** The student over v2: binary tensor data vs JSON numbers at TARGETS.connections. */
export function binaryTarget(json?: Measurement, binary?: Measurement): TargetVerdict {
  return judge(`student v2 rps binary / JSON at ${TARGETS.connections} connections`, ratio(binary?.rps, json?.rps),
    `≥ ${TARGETS.binarySpeedup}`, (v) => v >= TARGETS.binarySpeedup);
}

/** Dynamic batching on vs off for one model at TARGETS.batchingConnections. */
export function batchingTarget(model: string, on?: Measurement, off?: Measurement): TargetVerdict {
  return judge(`${model}: rps batching on / off at ${TARGETS.batchingConnections} connections`,
    ratio(on?.rps, off?.rps), `≥ ${TARGETS.batchingSpeedup}`, (v) => v >= TARGETS.batchingSpeedup);
}

import type { ModelName } from '../config.js';
import type { ServeMetrics } from '../metrics.js';
import type { Receipt } from './receipt.js';

/** Latencies kept per variant for the percentiles: the most recent ones, so the report tracks the present. */
const LATENCY_WINDOW = 10_000;
/** Answers remembered for feedback; the oldest are forgotten first, bounding memory. */
const REMEMBERED = 50_000;
/** Floor inside the log of KL, so a class one model rules out costs a large number, not Infinity. */
const KL_EPSILON = 1e-12;

interface Answer {
  /** Top-1 class per instance of each shadow variant that ran on it. */
  shadowClasses: Partial<Record<ModelName, number[]>>;
}

interface VariantStats {
  requests: number;
  latencies: Float64Array;
  latencyCount: number;
  /** By shadow variant: instances compared, top-1 agreements, sum of KL(served ‖ shadow). */
  shadow: Partial<Record<ModelName, { compared: number; agreed: number; klSum: number }>>;
  labelled: number;
  correct: number;
}

/** What the cluster primary gathers from each worker for /v1/ab/report (see gather.ts). */
export const AB_LEDGER = 'ab-ledger';

/** A ledger's raw counts, as one worker sends them to be merged with the others'. */
export interface LedgerSnapshot {
  variants: { variant: ModelName; requests: number; latencies: number[]; shadow: VariantStats['shadow'];
    labelled: number; correct: number }[];
}

export interface VariantReport {
  requests: number;
  latencyMs: { p50: number | null; p90: number | null; p99: number | null };
  shadow: Partial<Record<ModelName, { compared: number; agreement: number; meanKl: number }>>;
  /** Instances with feedback that this variant answered (served or in shadow), and how many it got right. */
  feedback: { labelled: number; accuracy: number | null };
}

/** KL(p ‖ q) in nats for two distributions over the same classes. */
export function klDivergence(p: Float32Array, q: Float32Array): number {
  let sum = 0;
  for (let i = 0; i < p.length; i++) if (p[i] > 0) sum += p[i] * Math.log(p[i] / Math.max(q[i], KL_EPSILON));
  return Math.max(0, sum);
}

function percentile(sorted: Float64Array, p: number): number | null {
  if (sorted.length === 0) return null;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

/**
 * One report from the snapshots of several ledgers (the workers of a cluster): counts add up,
 * accuracy and agreement are ratios of the sums, percentiles come from the pooled latencies.
 */
export function reportOf(snapshots: readonly LedgerSnapshot[]): Partial<Record<ModelName, VariantReport>> {
  const out: Partial<Record<ModelName, VariantReport>> = {};
  const variants = [...new Set(snapshots.flatMap((s) => s.variants.map((v) => v.variant)))];
  for (const variant of variants) {
    const parts = snapshots.flatMap((s) => s.variants.filter((v) => v.variant === variant));
    const sum = (read: (v: (typeof parts)[number]) => number) => parts.reduce((total, v) => total + read(v), 0);
    const sorted = Float64Array.from(parts.flatMap((v) => v.latencies)).sort();
    const shadow: VariantReport['shadow'] = {};
    for (const other of new Set(parts.flatMap((v) => Object.keys(v.shadow) as ModelName[]))) {
      const records = parts.map((v) => v.shadow[other]).filter((r) => r !== undefined);
      const compared = records.reduce((n, r) => n + r.compared, 0);
      shadow[other] = { compared, agreement: records.reduce((n, r) => n + r.agreed, 0) / compared,
        meanKl: records.reduce((n, r) => n + r.klSum, 0) / compared };
    }
    const labelled = sum((v) => v.labelled);
    out[variant] = {
      requests: sum((v) => v.requests),
      latencyMs: { p50: percentile(sorted, 50), p90: percentile(sorted, 90), p99: percentile(sorted, 99) },
      shadow,
      feedback: { labelled, accuracy: labelled ? sum((v) => v.correct) / labelled : null },
    };
  }
  return out;
}

/** What the A/B report is made of: per variant latency, shadow agreement, and accuracy on feedback. */
export class AbLedger {
  private readonly stats = new Map<ModelName, VariantStats>();
  private readonly answers = new Map<string, Answer>();

  /** `counters`: the same counts exported to Prometheus, where replicas' reports add up. */
  constructor(variants: readonly ModelName[], private readonly counters?: ServeMetrics['ab']) {
    for (const variant of variants) {
      this.stats.set(variant, { requests: 0, latencies: new Float64Array(LATENCY_WINDOW), latencyCount: 0, shadow: {},
        labelled: 0, correct: 0 });
    }
  }

  served(answer: Receipt, latencyMs: number): void {
    const stats = this.variant(answer.variant);
    stats.requests++;
    this.counters?.answers.inc({ variant: answer.variant });
    stats.latencies[stats.latencyCount++ % LATENCY_WINDOW] = latencyMs;
    if (this.answers.size >= REMEMBERED) this.answers.delete(this.answers.keys().next().value as string);
    this.answers.set(answer.answerId, { shadowClasses: {} });
  }

  /** The shadow's answer beside the served one: agreement of top-1 and KL(served ‖ shadow) per instance. */
  shadowed(answerId: string, served: { variant: ModelName; probabilities: Float32Array[] },
    shadow: { variant: ModelName; probabilities: Float32Array[] }): void {
    const top = (p: Float32Array) => p.reduce((best, v, i) => (v > p[best] ? i : best), 0);
    const record = (this.variant(served.variant).shadow[shadow.variant] ??= { compared: 0, agreed: 0, klSum: 0 });
    const classes = shadow.probabilities.map(top);
    let agreed = 0;
    served.probabilities.forEach((p, i) => {
      if (top(p) === classes[i]) agreed++;
      record.klSum += klDivergence(p, shadow.probabilities[i]);
    });
    record.compared += classes.length;
    record.agreed += agreed;
    const pair = { served: served.variant, shadow: shadow.variant };
    this.counters?.compared.inc(pair, classes.length);
    this.counters?.agreed.inc(pair, agreed);
    const answer = this.answers.get(answerId);
    if (answer) answer.shadowClasses[shadow.variant] = classes;
  }

  /**
   * Ground truth for an answer whose receipt checked out and was claimed once (ScoredAnswers): the
   * served variant is scored from the receipt (any process can), shadow variants from this
   * process's memory when it ran them. 'length' when the labels do not match its instances.
   */
  feedback(receipt: Receipt, labels: number[]): 'ok' | 'length' {
    if (labels.length !== receipt.classes.length) return 'length';
    const shadows = this.answers.get(receipt.answerId)?.shadowClasses ?? {};
    this.answers.delete(receipt.answerId);
    for (const [variant, classes] of [[receipt.variant, receipt.classes], ...Object.entries(shadows)] as [ModelName,
      number[]][]) {
      const stats = this.variant(variant);
      const correct = classes.filter((c, i) => c === labels[i]).length;
      stats.labelled += labels.length;
      stats.correct += correct;
      this.counters?.labelled.inc({ variant }, labels.length);
      this.counters?.correct.inc({ variant }, correct);
    }
    return 'ok';
  }

  /** The counts as plain data (the latency window in arrival order's place), for merging across workers. */
  snapshot(): LedgerSnapshot {
    return {
      variants: [...this.stats].map(([variant, s]) => ({
        variant,
        requests: s.requests,
        latencies: Array.from(s.latencies.subarray(0, Math.min(s.latencyCount, LATENCY_WINDOW))),
        shadow: structuredClone(s.shadow),
        labelled: s.labelled,
        correct: s.correct,
      })),
    };
  }

  report(): Partial<Record<ModelName, VariantReport>> {
    return reportOf([this.snapshot()]);
  }

  private variant(variant: ModelName): VariantStats {
    const stats = this.stats.get(variant);
    if (!stats) throw new Error(`A/B ledger: ${variant} is not an arm`);
    return stats;
  }
}

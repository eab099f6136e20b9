import { z } from 'zod';
import type { Split } from '../../src/data/index.js';
import { describe, getJson, pool, postJson } from '../http.js';
import { row } from '../payloads.js';
import { PredictAnswer } from './score.js';

// Drives POST /v1/ab/predict with test examples, sends each one's true label to
// POST /v1/ab/feedback, and reads GET /v1/ab/report before and after, so what the server counted
// can be checked against what was sent.

const VariantReport = z.object({
  requests: z.int(),
  latencyMs: z.object({ p50: z.number().nullable(), p90: z.number().nullable(), p99: z.number().nullable() }),
  shadow: z.record(z.string(), z.object({ compared: z.int(), agreement: z.number() })),
  feedback: z.object({ labelled: z.int(), accuracy: z.number().nullable() }),
});
export const AbReportBody = z.object({ shadow: z.boolean(), variants: z.record(z.string(), VariantReport) });
export type AbReportBody = z.infer<typeof AbReportBody>;

const AbAnswer = PredictAnswer.extend({ variant: z.string(), receipt: z.string() });

/** What the report's counters moved by during the drive, per variant. */
export interface LedgerCounts {
  requests: number;
  labelled: number;
  /** accuracy × labelled, rounded: the report gives a ratio. */
  correct: number;
  /** Instances compared against each shadow variant, and how many agreed. */
  shadow: Record<string, { compared: number; agreed: number }>;
  latencyMs: { p50: number | null; p90: number | null; p99: number | null };
}

export interface AbDrive {
  examples: number;
  shadow: boolean;
  /** Per example, the variant that served it and the class it answered. */
  servedBy: string[];
  classes: Int32Array;
  /** Per variant, the report's counters after minus before. */
  counts: Record<string, LedgerCounts>;
  seconds: number;
}

async function report(url: string): Promise<AbReportBody> {
  const response = await getJson(`${url}/v1/ab/report`);
  if (response.status !== 200) throw new Error(`GET /v1/ab/report answered ${describe(response)}`);
  return AbReportBody.parse(response.body);
}

function countsOf(variant: z.infer<typeof VariantReport> | undefined): Omit<LedgerCounts, 'latencyMs'> {
  const shadow = Object.fromEntries(
    Object.entries(variant?.shadow ?? {}).map((
      [other, s],
    ) => [other, { compared: s.compared, agreed: Math.round(s.agreement * s.compared) }]),
  );
  return { requests: variant?.requests ?? 0, labelled: variant?.feedback.labelled ?? 0,
    correct: Math.round((variant?.feedback.accuracy ?? 0) * (variant?.feedback.labelled ?? 0)), shadow };
}

function difference(before: AbReportBody, after: AbReportBody): Record<string, LedgerCounts> {
  return Object.fromEntries(Object.entries(after.variants).map(([name, variant]) => {
    const a = countsOf(variant);
    const b = countsOf(before.variants[name]);
    const shadow = Object.fromEntries(Object.entries(a.shadow).map(([other, s]) => [other, {
      compared: s.compared - (b.shadow[other]?.compared ?? 0),
      agreed: s.agreed - (b.shadow[other]?.agreed ?? 0),
    }]));
    return [name, { requests: a.requests - b.requests, labelled: a.labelled - b.labelled,
      correct: a.correct - b.correct, shadow, latencyMs: variant.latencyMs }];
  }));
}

/** Shadow runs finish after their answer has gone; feedback sent before them would not count them. */
async function shadowsSettled(url: string, before: AbReportBody, expected: number): Promise<void> {
  let last = -1;
  for (let poll = 0; poll < 50; poll++) {
    const compared = Object.values(difference(before, await report(url))).reduce(
      (sum, v) => sum + Object.values(v.shadow).reduce((s, c) => s + c.compared, 0),
      0,
    );
    if (compared >= expected || compared === last) return;
    last = compared;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/**
 * The first `examples` rows, one per A/B request (x-ab-key `ab-<i>`, so the split is the server's
 * own sticky hash), then every label as feedback. The server should see no other A/B traffic meanwhile.
 */
export async function driveAb(url: string, split: Split, examples: number,
  options: { concurrency: number; deadlineMs: number }): Promise<AbDrive> {
  const n = Math.min(examples, split.n);
  const started = performance.now();
  const before = await report(url);
  const variants = Object.keys(before.variants);
  const servedBy: string[] = new Array(n);
  const receipts: string[] = new Array(n);
  const classes = new Int32Array(n).fill(-1);
  await pool(n, options.concurrency, options.deadlineMs, async (i) => {
    const response = await postJson(`${url}/v1/ab/predict`, { instances: [row(split, i)] }, { 'x-ab-key': `ab-${i}` });
    if (response.status !== 200) throw new Error(`/v1/ab/predict, test row ${i}: ${describe(response)}`);
    const answer = AbAnswer.parse(response.body);
    servedBy[i] = answer.variant;
    receipts[i] = answer.receipt;
    classes[i] = answer.predictions[0].class;
  });
  if (before.shadow) await shadowsSettled(url, before, n * (variants.length - 1));
  await pool(n, options.concurrency, options.deadlineMs, async (i) => {
    const response = await postJson(`${url}/v1/ab/feedback`, { receipt: receipts[i], label: split.y[i] });
    if (response.status !== 200) throw new Error(`/v1/ab/feedback, test row ${i}: ${describe(response)}`);
  });
  const after = await report(url);
  return { examples: n, shadow: after.shadow, servedBy, classes, counts: difference(before, after),
    seconds: (performance.now() - started) / 1000 };
}

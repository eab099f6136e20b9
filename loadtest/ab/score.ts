import { z } from 'zod';
import type { Split } from '../../src/data/index.js';
import { describe, pool, postJson } from '../http.js';
import { row } from '../payloads.js';

// Test-set accuracy measured through the HTTP API: every example sent, every answer scored.

/** The parts of a predict answer this reads; the client checks what it relies on. */
export const PredictAnswer = z.object({
  predictions: z.array(z.object({ class: z.int().nonnegative(), activeSpecialists: z.array(z.string()).optional() })),
});

export interface ModelScore {
  model: string;
  examples: number;
  correct: number;
  accuracy: number;
  /** Top-1 class per example, in split order (kept out of the JSON report). */
  classes: Int32Array;
  /** Ensemble only: specialists run per example, on average. */
  meanActiveSpecialists: number | null;
  /** How often each specialist ran (ensemble only). */
  activeCounts: Record<string, number>;
  seconds: number;
}

export interface ScoreOptions {
  chunk: number;
  concurrency: number;
  deadlineMs: number;
}

/**
 * The first `examples` rows of `split` through POST /v1/models/{model}/predict, `chunk` rows per
 * request. Any failed request fails the whole score: accuracy over a subset would mislead.
 *
 * @example
 *   const score = await scoreModel('http://127.0.0.1:8080', 'student', split, split.n, { chunk: 100, concurrency: 8,
 *     deadlineMs: 600_000 });
 */
export async function scoreModel(url: string, model: string, split: Split, examples: number,
  options: ScoreOptions): Promise<ModelScore> {
  const n = Math.min(examples, split.n);
  const classes = new Int32Array(n).fill(-1);
  const activeCounts: Record<string, number> = {};
  let active = 0;
  let withActive = 0;
  const started = performance.now();
  const requests = Math.ceil(n / options.chunk);
  await pool(requests, options.concurrency, options.deadlineMs, async (r) => {
    const start = r * options.chunk;
    const end = Math.min(n, start + options.chunk);
    const instances = Array.from({ length: end - start }, (_, i) => row(split, start + i));
    const response = await postJson(`${url}/v1/models/${model}/predict`, { instances });
    if (response.status !== 200) throw new Error(`${model}: rows ${start}–${end - 1} answered ${describe(response)}`);
    const { predictions } = PredictAnswer.parse(response.body);
    if (predictions.length !== end - start) {
      throw new Error(`${model}: ${end - start} rows sent, ${predictions.length} predictions back`);
    }
    predictions.forEach((p, i) => {
      classes[start + i] = p.class;
      if (p.activeSpecialists) {
        withActive++;
        active += p.activeSpecialists.length;
        for (const id of p.activeSpecialists) activeCounts[id] = (activeCounts[id] ?? 0) + 1;
      }
    });
  });
  let correct = 0;
  for (let i = 0; i < n; i++) if (classes[i] === split.y[i]) correct++;
  return {
    model,
    examples: n,
    correct,
    accuracy: correct / n,
    classes,
    meanActiveSpecialists: withActive ? active / withActive : null,
    activeCounts,
    seconds: (performance.now() - started) / 1000,
  };
}

/** Fraction of examples on which two models name the same class. */
export function agreement(a: Int32Array, b: Int32Array): number {
  if (a.length !== b.length || a.length === 0) throw new Error(`agreement: ${a.length} and ${b.length} answers`);
  let same = 0;
  for (let i = 0; i < a.length; i++) if (a[i] === b[i]) same++;
  return same / a.length;
}

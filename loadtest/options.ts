import { z } from 'zod';
import { BudgetSchema } from './budget.js';

// What a load test and an A/B comparison take: zod schemas with full-run defaults, and the
// `--quick` presets the test suite uses. The CLIs only turn flags into an input for these.

/** Traffic goes to this machine only: the load generator must never point at someone else's server. */
export const LOOPBACK = '127.0.0.1';

export const LoopbackUrl = z.url().refine((text) => new URL(text).hostname === LOOPBACK,
  `must be on ${LOOPBACK}: load is only ever sent to this machine`).transform((text) => text.replace(/\/+$/, ''));

const Seconds = z.coerce.number().positive().max(600);
const Levels = z.array(z.coerce.number().int().min(1).max(1024)).min(1);
const ModelList = z.array(z.enum(['student', 'generalist', 'ensemble']));

/** Settings of every autocannon run: how long, how many requests at most, and when one is too slow. */
export const LoadSchema = z.object({
  /** Seconds measured per run of one (endpoint, connections) cell. */
  durationS: Seconds.default(5),
  /** Seconds of the same load first, not recorded: JIT, connection set-up, a batcher in steady state. */
  warmupS: z.coerce.number().min(0).max(120).default(2),
  /** Cap on requests per run, so every run is bounded in count as well as in time. */
  maxRequests: z.coerce.number().int().min(1024).max(5_000_000).default(500_000),
  /** A request unanswered this long counts as a timeout (autocannon's own per-request timer). */
  timeoutS: Seconds.default(10),
});
export type LoadSettings = z.infer<typeof LoadSchema>;

/** Batching of the server the script starts; the "off" server is the same with batches of one. */
export const BatchingFlags = z.object({
  maxBatchSize: z.coerce.number().int().min(1).optional(),
  maxQueueDelayMs: z.coerce.number().min(0).optional(),
});

export const LoadtestOptionsSchema = z.object({
  bundleDir: z.string().min(1).default('models/default'),
  /** A server already running on this machine; its bundle must be `bundleDir` (the payloads come from it). */
  url: LoopbackUrl.optional(),
  connections: Levels.default([1, 8, 32, 128]),
  /** Model endpoints measured with batching on (the baseline route is always measured). */
  endpoints: ModelList.default(['student', 'generalist', 'ensemble']),
  /** The student over v2 with JSON numbers and with binary tensor data, side by side. */
  encodings: z.boolean().default(true),
  /** Model endpoints measured again on a server with batching off (needs a server this run starts). */
  batchingOff: ModelList.default(['student', 'ensemble']),
  /** Distinct test-split rows cycled through as single-instance request bodies. */
  payloads: z.coerce.number().int().min(1).max(100_000).default(2000),
  /** Passes over the whole sweep; each cell reports the median of its runs (other jobs share the machine). */
  rounds: z.coerce.number().int().min(1).max(20).default(3),
  load: LoadSchema.prefault({}),
  budgets: z.array(BudgetSchema).default([]),
  batching: BatchingFlags.prefault({}),
  /** Server log level: access logs are off by default, as they are for the baseline route. */
  logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('warn'),
  quick: z.boolean().default(false),
});
export type LoadtestOptions = z.infer<typeof LoadtestOptionsSchema>;
export type LoadtestInput = z.input<typeof LoadtestOptionsSchema>;

export const AbOptionsSchema = z.object({
  bundleDir: z.string().min(1).default('models/default'),
  /** A running server (fresh, or at least idle: the A/B counters are compared before and after). */
  url: LoopbackUrl.optional(),
  /** Test examples scored through the API; by default the whole test split. */
  examples: z.coerce.number().int().min(1).optional(),
  /** Instances per scoring request (the server allows 256 by default). */
  chunk: z.coerce.number().int().min(1).max(256).default(100),
  /** Scoring and A/B requests in flight at once. */
  concurrency: z.coerce.number().int().min(1).max(64).default(8),
  /** The load level of the side-by-side latency comparison. */
  connections: z.coerce.number().int().min(1).max(1024).default(32),
  /** Alternating student/ensemble runs at that load; medians are reported (timings here are noisy). */
  repeats: z.coerce.number().int().min(1).max(20).default(3),
  load: LoadSchema.prefault({}),
  payloads: z.coerce.number().int().min(1).max(100_000).default(2000),
  /** How far the A/B report may sit from the offline numbers before the check fails (fraction of examples). */
  tolerance: z.coerce.number().min(0).max(1).default(0.002),
  /** Seconds one phase (scoring, A/B driving) may take in all before it is abandoned. */
  phaseTimeoutS: z.coerce.number().positive().max(3600).default(900),
  logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('warn'),
  quick: z.boolean().default(false),
});
export type AbOptions = z.infer<typeof AbOptionsSchema>;
export type AbInput = z.input<typeof AbOptionsSchema>;

/** `--quick`: two load levels, one round of one-second runs: the whole load test in well under a minute. */
export const QUICK_LOADTEST = {
  connections: [1, 32],
  rounds: 1,
  load: { durationS: 1, warmupS: 0.3, maxRequests: 50_000 },
  payloads: 200,
  endpoints: ['student', 'ensemble'],
  quick: true,
} satisfies LoadtestInput;

/** `--quick`: a thousand examples at most, one short run per model. */
export const QUICK_AB = {
  examples: 1000,
  repeats: 1,
  load: { durationS: 1, warmupS: 0.3, maxRequests: 50_000 },
  payloads: 200,
  quick: true,
} satisfies AbInput;

/** Explicit values win over the preset; nested `load` is merged field by field. */
export function withPreset<T extends { load?: object }>(preset: T | undefined, input: T): T {
  if (!preset) return input;
  return { ...preset, ...input, load: { ...preset.load, ...input.load } };
}

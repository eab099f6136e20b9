import { parseArgs } from 'node:util';
import { z } from 'zod';
import { BACKENDS } from '../engine/index.js';

/**
 * The ways to answer: one student pass, one generalist pass, generalist + specialists combined, or
 * the generalist and its fellow members (nets of its kind from other seeds) pooled.
 */
export const MODEL_NAMES = ['student', 'generalist', 'ensemble', 'members'] as const;
export type ModelName = (typeof MODEL_NAMES)[number];

const Flag = z.union([z.boolean(),
  z.enum(['true', 'false', '1', '0', 'yes', 'no']).transform((v) => ['true', '1', 'yes'].includes(v))]);
const Int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);

export const AbArmSchema = z.object({ variant: z.enum(MODEL_NAMES), weight: z.number().nonnegative() });
export type AbArm = z.infer<typeof AbArmSchema>;

/** `student:50,ensemble:50` → arms; weights are relative, so `student:1,ensemble:3` sends a quarter to the student. */
export const AbSplitSchema = z.union([z.string().transform((text, ctx) => {
  const arms = text.split(',').map((part) => part.trim()).filter(Boolean).map((part) => {
    const [variant, weight, extra] = part.split(':');
    if (extra !== undefined || weight === undefined) {
      ctx.addIssue({ code: 'custom', message: `"${part}" is not variant:weight` });
    }
    return { variant, weight: Number(weight) };
  });
  return arms;
}), z.array(z.unknown())]).pipe(z.array(AbArmSchema).min(1)).refine(
  (arms) => new Set(arms.map((a) => a.variant)).size === arms.length,
  'names a variant twice',
).refine((arms) => arms.some((a) => a.weight > 0), 'needs a positive weight somewhere');

export const BatchingSchema = z.object({
  /** Instances per model call; larger amortises per-call overhead, smaller bounds the latency of one batch. */
  maxBatchSize: Int(1, 4096).default(64),
  /**
   * How long the first queued request waits for company; Triton's max_queue_delay. 0 = no timer,
   * just one event-loop turn to collect requests already received: under load they pile up while
   * a batch runs anyway, and at light load a timer only adds its delay to every request.
   */
  maxQueueDelayMs: z.coerce.number().min(0).max(10_000).default(0),
  /** Requests waiting per model; past this the server answers 503 at once instead of growing memory. */
  maxQueueSize: Int(1, 100_000).default(256),
  /** From arrival to answer; a request still queued or running past it gets 504. */
  deadlineMs: Int(1, 600_000).default(5000),
});

export const LimitsSchema = z.object({
  /** Bytes per request body, chunked or not: 256 MNIST rows as JSON take ~1.5 MB. */
  maxBodyBytes: Int(256, 1 << 30).default(4 * 1024 * 1024),
  /** Instances per request: 413 past it, so one client cannot fill a batch queue alone. */
  maxInstances: Int(1, 100_000).default(256),
  /**
   * Open connections per process. Requests on connections past it get 503 with Retry-After at
   * once, unread, instead of waiting unseen in socket buffers; health probes and /metrics still pass.
   */
  maxConnections: Int(1, 1_000_000).default(1024),
  /**
   * API requests started per turn of the event loop; the rest wait, in arrival order, for the
   * next turns. One batch's worth by default: short turns let the loop accept new connections
   * (one per turn) under load instead of once per ~140 ms.
   */
  requestsPerTurn: Int(1, 100_000).default(64),
  /**
   * Body bytes the API requests started in one turn may carry (a larger request starts alone): a
   * request's cost is mostly reading and parsing its body, so turns of few large requests stay as
   * short as turns of many small ones. 64 MNIST rows as JSON by default.
   */
  bodyBytesPerTurn: Int(1024, 1 << 30).default(384 * 1024),
  /** Requests waiting for a turn; past it they get 503 with Retry-After at once. */
  maxWaiting: Int(1, 1_000_000).default(1024),
  /**
   * While every turn of the event loop accepts a connection (a burst of them), turns start no more
   * requests for up to this long, so the burst, and a probe's connection behind it, is accepted in
   * ~0.1 s rather than one connection per batch of work; 0 turns it off.
   */
  acceptFirstMs: Int(0, 60_000).default(100),
});

const LOOPBACK = ['127.0.0.1', '::1', 'localhost'];
const LOOPBACK_HOSTS = ['localhost', '127.0.0.1', '[::1]'];

export const ServeConfigSchema = z.object({
  /** Bundle folder, as written by the pipeline (models/default). */
  bundleDir: z.string().min(1),
  /** Loopback unless asked otherwise: the predict API has no authentication of its own. */
  host: z.string().min(1).default('127.0.0.1'),
  /** 0 picks a free port (tests); the bound one is on the server handle. */
  port: Int(0, 65535).default(8080),
  /** Processes behind one port (node:cluster); each loads its own copy of the bundle. */
  workers: Int(1, 64).default(1),
  ab: AbSplitSchema.default([{ variant: 'student', weight: 50 }, { variant: 'ensemble', weight: 50 }]),
  /**
   * Key that signs A/B receipts; every worker and replica that may receive feedback needs the same
   * one (the cluster primary makes one for its workers when none is given). At least 32 characters.
   */
  abSecret: z.string().min(32, 'must be at least 32 characters').optional(),
  /**
   * How long an A/B answer's receipt is accepted as feedback; scored answer ids are remembered as long (memory:
   * feedback rate × TTL).
   */
  abReceiptTtlMs: Int(1000, 24 * 3600 * 1000).default(3600 * 1000),
  /** Run the other A/B variants too, after answering, and record their agreement with the served one. */
  shadow: Flag.default(false),
  batching: BatchingSchema.prefault({}),
  limits: LimitsSchema.prefault({}),
  /**
   * Folder that reload may load bundles from (symlinks resolved); default the folder holding
   * bundleDir. A token holder still cannot point the server at arbitrary files.
   */
  bundleRoot: z.string().min(1).optional(),
  /**
   * Host header names answered (any port); others get 403, so a web page cannot reach a server on
   * 127.0.0.1 by rebinding its own DNS name to it. Default: the loopback names when bound to
   * loopback, any host otherwise (a Kubernetes Service is reached by names the pod cannot know).
   */
  allowedHosts: z.union([
    z.string().transform((text) => text.split(',').map((h) => h.trim().toLowerCase()).filter(Boolean)),
    z.array(z.string().transform((h) => h.toLowerCase())),
  ]).refine((hosts) => hosts.length > 0, 'name at least one host, or * for any').optional(),
  /**
   * A second port answering only /v2/health/{live,ready}, from a thread with its own event loop,
   * for Kubernetes probes: it answers at once however busy the API port is. Off when unset.
   */
  healthPort: Int(0, 65535).optional(),
  /** Bearer token for POST /v1/admin/reload; without one, reload is disabled. */
  adminToken: z.string().min(16, 'must be at least 16 characters').optional(),
  /**
   * Before listening, predict requests through the app to every served model for this long, so the
   * first clients do not wait on V8 compiling the hot paths; 0 skips it.
   */
  warmupMs: Int(0, 600_000).default(1000),
  /** SIGTERM waits this long for in-flight requests before closing anyway. */
  drainTimeoutMs: Int(0, 600_000).default(10_000),
  logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  backend: z.enum(['auto', ...BACKENDS]).default('auto'),
  /**
   * OpenBLAS threads per worker process (OPENBLAS_NUM_THREADS wins when set). One by default:
   * serving batches are small, and the cores are better spent on HTTP and on more --workers.
   */
  blasThreads: Int(1, 256).default(1),
  /**
   * What runs the student: the compiled blas forward, or ONNX Runtime (CPU provider, blasThreads
   * intra-op threads) on the student exported in memory, faster at batches of tens of rows
   * (README, "Export to ONNX"). Needs the optional onnxruntime-node.
   */
  studentRuntime: z.enum(['compiled', 'onnx']).default('compiled'),
});
export type ServeConfig = z.infer<typeof ServeConfigSchema>;

/** The Host names a config answers, or undefined for any. */
export function allowedHostsOf(config: Pick<ServeConfig, 'host' | 'allowedHosts'>): string[] | undefined {
  if (config.allowedHosts) return config.allowedHosts.includes('*') ? undefined : config.allowedHosts;
  return LOOPBACK.includes(config.host) ? LOOPBACK_HOSTS : undefined;
}
export type ServeConfigInput = z.input<typeof ServeConfigSchema>;

/** A flag or config value the server cannot start with: the operator's to fix, so no stack trace. */
export class ServeConfigError extends Error {}

/** One readable line per bad field, named by flag path: `batching.maxBatchSize: …`. */
export function parseServeConfig(value: unknown): ServeConfig {
  const parsed = ServeConfigSchema.safeParse(value);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((issue) => `  ${issue.path.join('.') || '(root)'}: ${issue.message}`);
    throw new ServeConfigError(`invalid server config\n${lines.join('\n')}`);
  }
  return parsed.data;
}

/** Flag name → [config path, environment variable]. Flags win over the environment. */
const SOURCES = {
  bundle: [['bundleDir'], 'SERVE_BUNDLE'],
  host: [['host'], 'SERVE_HOST'],
  port: [['port'], 'PORT'],
  workers: [['workers'], 'SERVE_WORKERS'],
  ab: [['ab'], 'SERVE_AB'],
  shadow: [['shadow'], 'SERVE_SHADOW'],
  // Like the admin token, a secret belongs in the environment, not on the command line.
  'ab-secret': [['abSecret'], 'SERVE_AB_SECRET'],
  'ab-receipt-ttl-ms': [['abReceiptTtlMs'], 'SERVE_AB_RECEIPT_TTL_MS'],
  'max-batch-size': [['batching', 'maxBatchSize'], 'SERVE_MAX_BATCH_SIZE'],
  'max-queue-delay-ms': [['batching', 'maxQueueDelayMs'], 'SERVE_MAX_QUEUE_DELAY_MS'],
  'max-queue-size': [['batching', 'maxQueueSize'], 'SERVE_MAX_QUEUE_SIZE'],
  'deadline-ms': [['batching', 'deadlineMs'], 'SERVE_DEADLINE_MS'],
  'max-body-bytes': [['limits', 'maxBodyBytes'], 'SERVE_MAX_BODY_BYTES'],
  'max-instances': [['limits', 'maxInstances'], 'SERVE_MAX_INSTANCES'],
  'max-connections': [['limits', 'maxConnections'], 'SERVE_MAX_CONNECTIONS'],
  'requests-per-turn': [['limits', 'requestsPerTurn'], 'SERVE_REQUESTS_PER_TURN'],
  'body-bytes-per-turn': [['limits', 'bodyBytesPerTurn'], 'SERVE_BODY_BYTES_PER_TURN'],
  'max-waiting': [['limits', 'maxWaiting'], 'SERVE_MAX_WAITING'],
  'accept-first-ms': [['limits', 'acceptFirstMs'], 'SERVE_ACCEPT_FIRST_MS'],
  'allowed-hosts': [['allowedHosts'], 'SERVE_ALLOWED_HOSTS'],
  'health-port': [['healthPort'], 'SERVE_HEALTH_PORT'],
  // A token on the command line shows in `ps`; the environment variable is the safer way.
  'admin-token': [['adminToken'], 'SERVE_ADMIN_TOKEN'],
  'bundle-root': [['bundleRoot'], 'SERVE_BUNDLE_ROOT'],
  'warmup-ms': [['warmupMs'], 'SERVE_WARMUP_MS'],
  'drain-timeout-ms': [['drainTimeoutMs'], 'SERVE_DRAIN_TIMEOUT_MS'],
  'log-level': [['logLevel'], 'LOG_LEVEL'],
  backend: [['backend'], 'DISTILL_BACKEND'],
  'blas-threads': [['blasThreads'], 'SERVE_BLAS_THREADS'],
  'student-runtime': [['studentRuntime'], 'SERVE_STUDENT_RUNTIME'],
} as const satisfies Record<string, readonly [readonly string[], string]>;

/** The server's flags, each with the environment variable that sets it: what `--help` lists. */
export function serveFlagsHelp(): string {
  const width = Math.max(...Object.keys(SOURCES).map((flag) => flag.length)) + 2;
  return ['flags (each also set by the environment variable beside it; a flag wins):',
    ...Object.entries(SOURCES).map(([flag, [, variable]]) => `  --${flag.padEnd(width)}${variable}`)].join('\n');
}

/** Every environment variable the server reads: deployment files may set these and no others. */
export const SERVE_ENV_VARIABLES: readonly string[] = Object.values(SOURCES).map(([, variable]) => variable);

/**
 * The server config from command-line flags over environment variables over defaults, validated.
 *
 * @example
 *   const config = configFromArgs(['--bundle', 'models/default', '--ab', 'student:90,ensemble:10'], process.env);
 */
export function configFromArgs(argv: string[], env: NodeJS.ProcessEnv = {}): ServeConfig {
  // --shadow is a switch; every other flag takes a value that the schema coerces.
  const options = Object.fromEntries(
    Object.keys(SOURCES).map((
      flag,
    ) => [flag, { type: flag === 'shadow' ? ('boolean' as const) : ('string' as const) }]),
  );
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({ args: argv, options, allowPositionals: false, strict: true }));
  } catch (error) {
    throw new ServeConfigError((error as Error).message);
  }
  const raw: Record<string, unknown> = {};
  for (const [flag, [path, variable]] of Object.entries(SOURCES)) {
    const value = values[flag] ?? env[variable];
    if (value === undefined || value === '') continue;
    let target = raw;
    for (const key of path.slice(0, -1)) target = (target[key] ??= {}) as Record<string, unknown>;
    target[path[path.length - 1]] = value;
  }
  return parseServeConfig(raw);
}

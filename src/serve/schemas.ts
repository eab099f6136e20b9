import { z } from '@hono/zod-openapi';
import { MODEL_NAMES } from './config.js';

// The v1 API's shapes: validation and the OpenAPI document both come from these.

export const ErrorBody = z.object({
  error: z.string().openapi({ example: 'instance 0 has 15 values, the model takes 16' }),
  details: z.unknown().openapi({ description: 'What to fix: zod issues by path, limits, or null' }),
}).openapi('Error');

export const ModelParam = z.object({
  model: z.enum(MODEL_NAMES).openapi({ param: { name: 'model', in: 'path' }, example: 'ensemble' }),
});

/** Issues reported per bad row at most: a row of 784 strings needs one line, not 784. */
const MAX_ISSUES_PER_ROW = 10;

/** What a value is, for an issue message: zod's wording, with non-finite numbers named as such. */
function kindOf(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'number') return 'a non-finite number';
  return typeof value;
}

/**
 * One example: an array of finite numbers, checked in one loop. As z.array(z.number()), zod ran
 * and copied each of the 784 values one by one, the largest JavaScript cost of a predict request
 * (`--cpu-prof` of the server under load); the loop returns the parsed array itself. A bad value
 * still gets a zod issue with its path (instances.1.0) in the 400's details.
 */
export const InstanceRow = z.custom<number[]>().superRefine((row, ctx) => {
  if (!Array.isArray(row)) {
    ctx.addIssue({ code: 'custom', message: `Invalid input: expected an array of numbers, received ${kindOf(row)}` });
    return;
  }
  let issues = 0;
  for (let j = 0; j < row.length && issues < MAX_ISSUES_PER_ROW; j++) {
    const value: unknown = row[j];
    if (typeof value === 'number' && Number.isFinite(value)) continue;
    issues++;
    ctx.addIssue({ code: 'custom', path: [j], message: `Invalid input: expected number, received ${kindOf(value)}` });
  }
}).openapi({ type: 'array', items: { type: 'number' },
  description: "One example: the bundle's input size of finite numbers" });

/** Instance bounds depend on the server's limits, so the request schema is built per app. */
export function predictRequest(maxInstances: number) {
  // Strict: an option this route does not take (temperature on /v1/ab/predict) is an error, not ignored.
  return z.strictObject({
    instances: z.array(InstanceRow).min(1, 'needs at least one instance').max(maxInstances,
      `at most ${maxInstances} instances per request`),
    topK: z.int().min(1).optional().openapi({
      description: 'Classes listed per instance, best first (default 5, at most the class count)',
    }),
  }).openapi('PredictRequest');
}

/**
 * POST /v1/models/{model}/predict also takes the playground's two views into a model: the
 * distribution at a temperature, and the specialists' own answers behind an ensemble answer.
 */
export function modelPredictRequest(maxInstances: number) {
  return predictRequest(maxInstances).extend({
    temperature: z.number().gt(0).max(1000).optional().openapi({
      description:
        'Student and generalist only: answer softmax(z / T) instead of softmax(z), the soft targets of distillation ' +
          '(default 1)',
      example: 4,
    }),
    explain: z.boolean().optional().openapi({
      description:
        "Ensemble only: also give each active specialist's own distribution over its classes and its dustbin",
    }),
  }).openapi('ModelPredictRequest');
}

const ClassScore = z.object({ class: z.int(), label: z.string(), probability: z.number() });

const SpecialistView = z.object({
  id: z.string(),
  classes: z.array(ClassScore).openapi({
    description: "The specialist's probability for each of its classes, in its class order",
  }),
  dustbin: z.number().openapi({
    description: 'Its probability that the example belongs to none of its classes, after the dustbin offset',
  }),
}).openapi('SpecialistView');

export const Prediction = z.object({
  label: z.string(),
  class: z.int(),
  topK: z.array(ClassScore),
  generalistTop: z.object({ class: z.int(), label: z.string() }).optional().openapi({
    description: "Ensemble only: the generalist's own top class, which picked the specialists",
  }),
  activeSpecialists: z.array(z.string()).optional().openapi({
    description: 'Ensemble only: specialists that ran on this instance',
  }),
  iterations: z.int().optional().openapi({
    description: 'Ensemble only: solver iterations for the batch this instance ran in',
  }),
  specialists: z.array(SpecialistView).optional().openapi({
    description: 'Ensemble with explain: what each active specialist said on its own',
  }),
}).openapi('Prediction');

export const PredictResponse = z.object({
  model: z.enum(MODEL_NAMES),
  bundle: z.string(),
  requestId: z.string(),
  predictions: z.array(Prediction),
  temperature: z.number().optional().openapi({
    description: 'The temperature the probabilities are at, when the request gave one',
  }),
}).openapi('PredictResponse');

export const AbPredictResponse = PredictResponse.extend({
  variant: z.enum(MODEL_NAMES),
  receipt: z.string().openapi({
    description:
      'Signed record of this answer (variant, classes, expiry); send it back with the true labels to POST ' +
        '/v1/ab/feedback',
  }),
}).openapi('AbPredictResponse');

const Label = z.union([z.int().nonnegative(), z.string().min(1)]);
/** A receipt's length grows with the classes it lists: ~10 characters per instance, plus a fixed ~150. */
export const feedbackRequest = (maxInstances: number) =>
  // Strict as the predict bodies are: a misspelt field ("labels") is an error, not silently dropped.
  z.strictObject({
    receipt: z.string().min(1).max(256 + 12 * maxInstances).openapi({
      description: 'The receipt of the A/B answer being scored, as it was received',
    }),
    label: z.union([Label, z.array(Label).min(1)]).openapi({
      description: 'True class (index or name), or one per instance',
    }),
  }).openapi('FeedbackRequest');

export const FeedbackResponse = z.object({ recorded: z.int() }).openapi('FeedbackResponse');

const VariantReport = z.object({
  requests: z.int(),
  latencyMs: z.object({ p50: z.number().nullable(), p90: z.number().nullable(), p99: z.number().nullable() }),
  shadow: z.record(z.string(), z.object({ compared: z.int(), agreement: z.number(), meanKl: z.number() })),
  feedback: z.object({ labelled: z.int(), accuracy: z.number().nullable() }),
});

export const AbReport = z.object({
  arms: z.array(z.object({ variant: z.enum(MODEL_NAMES), weight: z.number() })),
  shadow: z.boolean(),
  variants: z.record(z.string(), VariantReport),
}).openapi('AbReport');

export const ReloadRequest = z.strictObject({
  bundle: z.string().min(1).optional().openapi({
    description: 'Bundle folder to load; default: the one the server started with',
  }),
}).openapi('ReloadRequest');

export const ReloadResponse = z.object({ bundle: z.string(), name: z.string(), createdAt: z.string(),
  seconds: z.number() }).openapi('ReloadResponse');

// ── What the bundle is, for the playground and any client that wants to show it ───────────────

const Metrics = z.record(z.string(), z.number());

const ModelSummary = z.object({
  served: z.boolean(),
  /** Why this bundle cannot serve it, when it cannot. */
  reason: z.string().nullable(),
  parameters: z.int().nullable(),
  /** Input features, then the width of each layer with weights: [784, 1200, 1200, 10]. */
  sizes: z.array(z.int()).nullable(),
  metrics: Metrics,
});

export const BundleResponse = z.object({
  name: z.string(),
  createdAt: z.string(),
  dataset: z.object({
    name: z.string(),
    inputShape: z.array(z.int()),
    inputSize: z.int(),
    classNames: z.array(z.string()),
    image: z.object({ height: z.int(), width: z.int() }).nullable().openapi({
      description: 'Set when an input is a 28×28 grey image (MNIST-shaped), so a client may offer drawing one',
    }),
  }),
  models: z.object({ student: ModelSummary, generalist: ModelSummary, ensemble: ModelSummary, members: ModelSummary }),
  members: z.object({
    averaging: z.string().openapi({
      description:
        "'probabilities' (mean of the members' distributions) or 'logits' (their renormalised geometric mean)",
    }),
    ids: z.array(z.string()).openapi({
      description: 'The members in order, the generalist first; serve_member_duration_seconds is labelled by these',
    }),
  }).nullable(),
  student: z.object({ teacher: z.string(), temperature: z.number(), hardWeight: z.number() }).nullable(),
  specialists: z.array(
    z.object({ id: z.string(), classes: z.array(z.int()), dustbinOffset: z.number(), cluster: z.int(),
      metrics: Metrics }),
  ),
  clustering: z.object({ method: z.string(), clusters: z.int(), transferExamples: z.int().nullable(),
    metrics: Metrics }).nullable(),
  combiner: z.object({ solver: z.string(), iterations: z.int(), tolerance: z.number() }).nullable(),
  /** Whole-system results, as the pipeline measured them. */
  metrics: Metrics,
  examples: z.boolean().openapi({
    description: 'Whether GET /v1/examples can draw test examples (the manifest names a dataset this server can load)',
  }),
}).openapi('Bundle');

/** clusters.json as the pipeline writes it; only the fields a client needs are kept. */
export const ClustersResponse = z.object({
  clusters: z.array(z.object({ id: z.string(), classes: z.array(z.int()) })),
  /** Each class's cluster before overlap and minimum size: the order the heatmap is drawn in. */
  assignment: z.array(z.int()),
  /** classes × classes covariance of the generalist's predicted probabilities on the transfer set. */
  covariance: z.array(z.array(z.number())),
  transferExamples: z.int().optional(),
}).openapi('Clusters');

export const MAX_EXAMPLES = 16;

/** A whole number in a query string: digits only, so `seed=` is an error, not a silent 0. */
const queryInt = (min: number, max: number) =>
  z.string().regex(/^\d+$/, 'must be a whole number').transform(Number).pipe(z.int().min(min).max(max));

export const ExamplesQuery = z.object({
  count: queryInt(1, MAX_EXAMPLES).optional().transform((n) => n ?? 1).openapi({ param: { name: 'count', in: 'query' },
    example: '1', description: `Examples to draw, 1 to ${MAX_EXAMPLES} (default 1)` }),
  seed: queryInt(0, 2 ** 31 - 1).optional().openapi({ param: { name: 'seed', in: 'query' },
    description: 'Same seed, same examples; random without one' }),
});

export const ExamplesResponse = z.object({
  dataset: z.string(),
  split: z.literal('test'),
  inputShape: z.array(z.int()),
  examples: z.array(z.object({
    row: z.int().openapi({ description: 'Row of the test split' }),
    class: z.int(),
    label: z.string(),
    x: z.array(z.number()).openapi({ description: 'The input, ready for a predict request' }),
  })),
}).openapi('Examples');

/** A JSON response of the OpenAPI document, with the headers every answer carries. */
export const jsonResponse = <S>(schema: S, description: string, headers: Record<string, HeaderDoc> = {}) => ({
  description,
  headers: { ...ANSWER_HEADERS, ...headers },
  content: { 'application/json': { schema } },
});

type HeaderDoc = { description: string; schema: { type: 'string' | 'integer' } };
export const header = (description: string, type: 'string' | 'integer' = 'string'): HeaderDoc => ({ description,
  schema: { type } });
/** On every answer: the id this server gave the request (a client's own X-Request-Id is only logged). */
export const ANSWER_HEADERS = {
  'X-Request-Id': header('The id this server gave the request; quote it when reporting a problem'),
};
const RETRY_AFTER = { 'Retry-After': header('Seconds to wait before retrying, here or on another replica', 'integer') };

/** Routes anyone may call: explicit, because the admin route has a bearer scheme. */
export const PUBLIC = { security: [] as Record<string, string[]>[] };

/** Answers any route can give before its handler runs. */
export const COMMON_RESPONSES = {
  403: jsonResponse(ErrorBody,
    'The Host header is not a name this server answers to (--allowed-hosts): a DNS-rebinding guard'),
} as const;

/** The error responses every body-taking route can give, for the OpenAPI document. */
export const ERROR_RESPONSES = {
  ...COMMON_RESPONSES,
  400: jsonResponse(ErrorBody, 'Malformed JSON, or input that fails validation'),
  408: jsonResponse(ErrorBody,
    'The body did not arrive within the deadline, or so late that its own batch could not finish within it'),
  413: jsonResponse(ErrorBody, 'Body or instance count over the limit'),
  415: jsonResponse(ErrorBody, 'Content-Type is not application/json, or a Content-Encoding other than identity'),
  501: jsonResponse(ErrorBody, 'A Transfer-Encoding other than chunked'),
  422: jsonResponse(ErrorBody,
    "An instance makes the model's output non-finite (values far outside the training range); the others of its " +
      "batch are answered"),
  503: jsonResponse(ErrorBody,
    'Overloaded (queue full, requests or work ahead past the deadline, too many connections), draining, or model ' +
      'not loaded',
    RETRY_AFTER),
  504: jsonResponse(ErrorBody, 'Deadline passed before the answer'),
} as const;

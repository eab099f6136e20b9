import { z } from '@hono/zod-openapi';
import { MODEL_NAMES } from './config.js';

// The v1 API's shapes: validation and the OpenAPI document both come from these.

export const ErrorBody = z
  .object({
    error: z.string().openapi({ example: 'instance 0 has 15 values, the model takes 16' }),
    details: z.unknown().openapi({ description: 'What to fix: zod issues by path, limits, or null' }),
  })
  .openapi('Error');

export const ModelParam = z.object({
  model: z.enum(MODEL_NAMES).openapi({ param: { name: 'model', in: 'path' }, example: 'ensemble' }),
});

/** Instance bounds depend on the server's limits, so the request schema is built per app. */
export function predictRequest(maxInstances: number) {
  return z
    .object({
      instances: z
        .array(z.array(z.number()).openapi({ description: 'One example: the bundle\'s input size of finite numbers' }))
        .min(1, 'needs at least one instance')
        .max(maxInstances, `at most ${maxInstances} instances per request`),
      topK: z.int().min(1).optional().openapi({ description: 'Classes listed per instance, best first (default 5, at most the class count)' }),
    })
    .openapi('PredictRequest');
}

const ClassScore = z.object({ class: z.int(), label: z.string(), probability: z.number() });

export const Prediction = z
  .object({
    label: z.string(),
    class: z.int(),
    topK: z.array(ClassScore),
    generalistTop: z.object({ class: z.int(), label: z.string() }).optional().openapi({ description: 'Ensemble only: the generalist\'s own top class, which picked the specialists' }),
    activeSpecialists: z.array(z.string()).optional().openapi({ description: 'Ensemble only: specialists that ran on this instance' }),
    iterations: z.int().optional().openapi({ description: 'Ensemble only: solver iterations for the batch this instance ran in' }),
  })
  .openapi('Prediction');

export const PredictResponse = z
  .object({
    model: z.enum(MODEL_NAMES),
    bundle: z.string(),
    requestId: z.string(),
    predictions: z.array(Prediction),
  })
  .openapi('PredictResponse');

export const AbPredictResponse = PredictResponse.extend({ variant: z.enum(MODEL_NAMES) }).openapi('AbPredictResponse');

const Label = z.union([z.int().nonnegative(), z.string().min(1)]);
export const FeedbackRequest = z
  .object({
    requestId: z.string().min(1).max(200),
    label: z.union([Label, z.array(Label).min(1)]).openapi({ description: 'True class (index or name), or one per instance' }),
  })
  .openapi('FeedbackRequest');

export const FeedbackResponse = z.object({ recorded: z.int() }).openapi('FeedbackResponse');

const VariantReport = z.object({
  requests: z.int(),
  latencyMs: z.object({ p50: z.number().nullable(), p90: z.number().nullable(), p99: z.number().nullable() }),
  shadow: z.record(z.string(), z.object({ compared: z.int(), agreement: z.number(), meanKl: z.number() })),
  feedback: z.object({ labelled: z.int(), accuracy: z.number().nullable() }),
});

export const AbReport = z
  .object({
    arms: z.array(z.object({ variant: z.enum(MODEL_NAMES), weight: z.number() })),
    shadow: z.boolean(),
    variants: z.record(z.string(), VariantReport),
  })
  .openapi('AbReport');

export const ReloadRequest = z
  .object({ bundle: z.string().min(1).optional().openapi({ description: 'Bundle folder to load; default: the one the server started with' }) })
  .openapi('ReloadRequest');

export const ReloadResponse = z.object({ bundle: z.string(), name: z.string(), createdAt: z.string(), seconds: z.number() }).openapi('ReloadResponse');

/** The error responses every body-taking v1 route can give, for the OpenAPI document. */
export const ERROR_RESPONSES = {
  400: { description: 'Malformed JSON, or input that fails validation', content: { 'application/json': { schema: ErrorBody } } },
  413: { description: 'Body or instance count over the limit', content: { 'application/json': { schema: ErrorBody } } },
  415: { description: 'Content-Type is not application/json', content: { 'application/json': { schema: ErrorBody } } },
  503: { description: 'Queue full, draining, or model not loaded; see Retry-After', content: { 'application/json': { schema: ErrorBody } } },
  504: { description: 'Deadline passed before the answer', content: { 'application/json': { schema: ErrorBody } } },
} as const;

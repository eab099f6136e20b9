import { createRoute, OpenAPIHono } from '@hono/zod-openapi';
import type { ServeContext } from '../context.js';
import type { AppEnv } from '../env.js';
import { deadlineOf, jsonBody, refuseWhileDraining } from '../middleware.js';
import { predictWith } from '../runtime/predictions.js';
import { ERROR_RESPONSES, ErrorBody, header, jsonResponse, ModelParam, modelPredictRequest, PredictResponse,
  PUBLIC } from '../schemas.js';
import { validationHook } from '../errors.js';

/** POST /v1/models/{student|generalist|ensemble|members}/predict: one model, no A/B. */
export function predictRoutes(ctx: ServeContext): OpenAPIHono<AppEnv> {
  const app = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });
  const route = createRoute({
    method: 'post',
    path: '/v1/models/{model}/predict',
    operationId: 'predict',
    ...PUBLIC,
    summary: 'Classify instances with one model (Server-Timing: model;dur= is the time queued and run, in ms)',
    middleware: [refuseWhileDraining(ctx.lifecycle), jsonBody(ctx.config.limits.maxBodyBytes)] as const,
    request: {
      params: ModelParam,
      body: { content: { 'application/json': { schema: modelPredictRequest(ctx.config.limits.maxInstances) } },
        required: true },
    },
    responses: {
      200: jsonResponse(PredictResponse, 'One prediction per instance, in order', {
        'Server-Timing': header('model;dur=<ms>: the time queued and run in the model'),
      }),
      404: jsonResponse(ErrorBody, 'Unknown model, or one this bundle does not have'),
      ...ERROR_RESPONSES,
    },
  });

  app.openapi(route, async function predictModel(c) {
    const started = performance.now();
    const deadlineAt = deadlineOf(c, ctx.config.batching.deadlineMs);
    const { model } = c.req.valid('param');
    c.set('model', model);
    const { instances, topK, temperature, explain } = c.req.valid('json');
    const lease = ctx.registry.acquire();
    try {
      const { predictions } = await predictWith(lease.set, model, instances, topK, deadlineAt, { temperature,
        explain });
      // The model's own share of the round trip, so a client can tell it from HTTP and JSON overhead.
      c.header('Server-Timing', `model;dur=${(performance.now() - started).toFixed(2)}`);
      return c.json({ model, bundle: lease.set.manifest.name, requestId: c.get('requestId'), predictions,
        ...(temperature === undefined ? {} : { temperature }) }, 200);
    } finally {
      lease.release();
    }
  });
  return app;
}

import { createRoute, OpenAPIHono } from '@hono/zod-openapi';
import type { ServeContext, AppEnv } from '../context.js';
import { jsonBody, refuseWhileDraining } from '../middleware.js';
import { predictWith } from '../predictions.js';
import { ERROR_RESPONSES, ErrorBody, ModelParam, PredictResponse, predictRequest } from '../schemas.js';
import { validationHook } from '../errors.js';

/** POST /v1/models/{student|generalist|ensemble}/predict: one model, no A/B. */
export function predictRoutes(ctx: ServeContext): OpenAPIHono<AppEnv> {
  const app = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });
  const route = createRoute({
    method: 'post',
    path: '/v1/models/{model}/predict',
    summary: 'Classify instances with one model',
    middleware: [refuseWhileDraining(ctx.lifecycle), jsonBody(ctx.config.limits.maxBodyBytes)] as const,
    request: {
      params: ModelParam,
      body: { content: { 'application/json': { schema: predictRequest(ctx.config.limits.maxInstances) } }, required: true },
    },
    responses: {
      200: { description: 'One prediction per instance, in order', content: { 'application/json': { schema: PredictResponse } } },
      404: { description: 'Unknown model, or one this bundle does not have', content: { 'application/json': { schema: ErrorBody } } },
      ...ERROR_RESPONSES,
    },
  });

  app.openapi(route, async function predictModel(c) {
    const deadlineAt = performance.now() + ctx.config.batching.deadlineMs;
    const { model } = c.req.valid('param');
    c.set('model', model);
    const { instances, topK } = c.req.valid('json');
    const lease = ctx.registry.acquire();
    try {
      const { predictions } = await predictWith(lease.set, model, instances, topK, deadlineAt);
      return c.json({ model, bundle: lease.set.manifest.name, requestId: c.get('requestId'), predictions }, 200);
    } finally {
      lease.release();
    }
  });
  return app;
}

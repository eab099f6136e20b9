import { createRoute, OpenAPIHono } from '@hono/zod-openapi';
import { bundleSummary, drawExamples, readClusters } from '../runtime/bundle-info.js';
import type { ServeContext } from '../context.js';
import type { AppEnv } from '../env.js';
import { validationHook } from '../errors.js';
import { BundleResponse, ClustersResponse, COMMON_RESPONSES, ErrorBody, ExamplesQuery, ExamplesResponse, jsonResponse,
  PUBLIC } from '../schemas.js';

/** GET /v1/bundle, /v1/bundle/clusters, /v1/examples: what the serving bundle is, for people to look at. */
export function bundleRoutes(ctx: ServeContext): OpenAPIHono<AppEnv> {
  const app = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });

  const bundle = createRoute({
    method: 'get',
    path: '/v1/bundle',
    operationId: 'bundleInfo',
    ...PUBLIC,
    summary:
      'The serving bundle: dataset, models with their sizes and evaluation, specialists and their classes, ' +
        'whole-system metrics',
    responses: { 200: jsonResponse(BundleResponse, 'From the manifest of the bundle now serving'),
      ...COMMON_RESPONSES },
  });
  app.openapi(bundle, function bundleInfo(c) {
    return c.json(bundleSummary(ctx.registry.current), 200);
  });

  const clusters = createRoute({
    method: 'get',
    path: '/v1/bundle/clusters',
    operationId: 'bundleClusters',
    ...PUBLIC,
    summary:
      "The clusters the specialists were made from, with the covariance of the generalist's predictions they came from",
    responses: {
      200: jsonResponse(ClustersResponse, 'clusters.json of the serving bundle'),
      404: jsonResponse(ErrorBody, 'The bundle has no clusters.json, or one too large to serve'),
      409: jsonResponse(ErrorBody, 'clusters.json changed on disk since the bundle was loaded'),
      ...COMMON_RESPONSES,
    },
  });
  app.openapi(clusters, async function bundleClusters(c) {
    return c.json(await readClusters(ctx.registry.current), 200);
  });

  const examples = createRoute({
    method: 'get',
    path: '/v1/examples',
    operationId: 'examples',
    ...PUBLIC,
    summary: "Random examples of the test split of the bundle's dataset, with their true labels, ready to predict",
    request: { query: ExamplesQuery },
    responses: {
      200: jsonResponse(ExamplesResponse, 'count examples (fewer if the test split is smaller)'),
      400: jsonResponse(ErrorBody, 'count or seed out of range'),
      404: jsonResponse(ErrorBody, 'The bundle does not name a dataset this server can load'),
      409: jsonResponse(ErrorBody, 'The dataset loaded here does not match the bundle'),
      ...COMMON_RESPONSES,
    },
  });
  app.openapi(examples, async function testExamples(c) {
    const { count, seed } = c.req.valid('query');
    return c.json(await drawExamples(ctx.registry.current, count, seed), 200);
  });
  return app;
}

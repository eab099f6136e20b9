import { createRoute, OpenAPIHono } from '@hono/zod-openapi';
import { BundleError } from '../../bundle/index.js';
import type { AppEnv, ServeContext } from '../context.js';
import { fail, validationHook } from '../errors.js';
import { adminAuth, jsonBody, refuseWhileDraining } from '../middleware.js';
import type { ModelSet } from '../models.js';
import { ERROR_RESPONSES, ErrorBody, ReloadRequest, ReloadResponse } from '../schemas.js';

const json = <S>(schema: S, description: string) => ({ description, content: { 'application/json': { schema } } });

/** POST /v1/admin/reload: a new bundle without a restart. */
export function adminRoutes(ctx: ServeContext): OpenAPIHono<AppEnv> {
  const app = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });
  // One at a time: two loads racing would swap in whichever finished last, not whichever was asked last.
  let reloading = false;

  const reload = createRoute({
    method: 'post', path: '/v1/admin/reload',
    summary: 'Load a bundle and swap it in; requests in flight finish on the old models',
    security: [{ bearer: [] }],
    middleware: [refuseWhileDraining(ctx.lifecycle), adminAuth(ctx.config.adminToken), jsonBody(ctx.config.limits.maxBodyBytes, { optional: true })] as const,
    request: { body: { content: { 'application/json': { schema: ReloadRequest } }, required: false } },
    responses: {
      200: json(ReloadResponse, 'The new bundle is serving'),
      401: json(ErrorBody, 'Missing or wrong admin token'),
      403: json(ErrorBody, 'No admin token configured: reload is disabled'),
      409: json(ErrorBody, 'Another reload is running'),
      422: json(ErrorBody, 'The bundle failed to load or check; the old one keeps serving'),
      ...ERROR_RESPONSES,
    },
  });
  app.openapi(reload, async function reloadBundle(c) {
    if (reloading) fail(409, 'a reload is already running');
    reloading = true;
    const started = performance.now();
    const dir = c.req.valid('json')?.bundle ?? ctx.registry.current.dir;
    try {
      let next: ModelSet;
      try {
        next = await ctx.loadModels(dir);
      } catch (error) {
        const details = error instanceof BundleError ? { code: error.code, file: error.file, field: error.field ?? null, message: error.message } : { message: (error as Error).message };
        ctx.logger.warn({ bundle: dir, ...details }, 'reload failed; the old bundle keeps serving');
        fail(422, 'bundle failed to load; the old one keeps serving', details);
      }
      ctx.registry.swap(next);
      const seconds = (performance.now() - started) / 1000;
      ctx.logger.info({ bundle: dir, name: next.manifest.name, createdAt: next.manifest.createdAt, seconds }, 'bundle reloaded');
      return c.json({ bundle: dir, name: next.manifest.name, createdAt: next.manifest.createdAt, seconds }, 200);
    } finally {
      reloading = false;
    }
  });
  return app;
}

import { realpath } from 'node:fs/promises';
import { dirname, relative, resolve, isAbsolute } from 'node:path';
import { createRoute, OpenAPIHono } from '@hono/zod-openapi';
import { BundleError } from '../../bundle/index.js';
import { CanaryError } from '../app.js';
import type { AppEnv, ServeContext } from '../context.js';
import { fail, validationHook } from '../errors.js';
import { adminAuth, jsonBody, refuseWhileDraining } from '../middleware.js';
import type { ModelSet } from '../models.js';
import { ERROR_RESPONSES, ErrorBody, ReloadRequest, ReloadResponse } from '../schemas.js';

const json = <S>(schema: S, description: string) => ({ description, content: { 'application/json': { schema } } });

/**
 * The bundle folder a reload asked for, with symlinks resolved, if it lies inside `root`; a path
 * outside it (or through a link that leads outside) is refused with 403 before anything is read.
 */
async function bundleInside(requested: string, root: string): Promise<string> {
  const [real, realRoot] = await Promise.all([realpath(resolve(requested)).catch(() => undefined), realpath(resolve(root))]);
  if (!real) fail(422, 'bundle failed to load; the old one keeps serving', { code: 'MISSING_BUNDLE', file: requested, field: null });
  const inside = relative(realRoot, real);
  if (inside === '' || inside.startsWith('..') || isAbsolute(inside)) {
    fail(403, 'reload may only load bundles inside the configured bundle root', { bundleRoot: root });
  }
  return real;
}

/** What a failed load may tell the client: which check failed where, never the file's content. */
function loadFailure(error: unknown): Record<string, unknown> {
  if (error instanceof BundleError) return { code: error.code, file: error.file, field: error.field ?? null };
  if (error instanceof CanaryError) return { code: 'CANARY_FAILED', problems: error.problems };
  return { code: 'LOAD_FAILED' };
}

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
      403: json(ErrorBody, 'No admin token configured (reload is disabled), or the bundle lies outside the bundle root'),
      409: json(ErrorBody, 'Another reload is running'),
      422: json(ErrorBody, 'The bundle failed to load or check; the old one keeps serving'),
      ...ERROR_RESPONSES,
    },
  });
  app.openapi(reload, async function reloadBundle(c) {
    if (reloading) fail(409, 'a reload is already running');
    reloading = true;
    const started = performance.now();
    const requested = c.req.valid('json')?.bundle ?? ctx.registry.current.dir;
    try {
      const dir = await bundleInside(requested, ctx.config.bundleRoot ?? dirname(resolve(ctx.config.bundleDir)));
      let next: ModelSet;
      try {
        next = await ctx.loadModels(dir);
      } catch (error) {
        ctx.logger.warn({ bundle: dir, err: error }, 'reload failed; the old bundle keeps serving');
        fail(422, 'bundle failed to load; the old one keeps serving', loadFailure(error));
      }
      ctx.registry.swap(next);
      const seconds = (performance.now() - started) / 1000;
      ctx.logger.info({ bundle: dir, name: next.manifest.name, createdAt: next.manifest.createdAt, seconds }, 'bundle reloaded');
      return c.json({ bundle: requested, name: next.manifest.name, createdAt: next.manifest.createdAt, seconds }, 200);
    } finally {
      reloading = false;
    }
  });
  return app;
}

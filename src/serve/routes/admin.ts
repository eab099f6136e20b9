import cluster from 'node:cluster';
import { realpath, stat } from 'node:fs/promises';
import { dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { createRoute, OpenAPIHono } from '@hono/zod-openapi';
import { BundleError } from '../../bundle/index.js';
import { listFiles } from '../../files/index.js';
import type { ServeContext } from '../context.js';
import type { AppEnv } from '../env.js';
import { fail, validationHook } from '../errors.js';
import { answerGather, gather } from '../gather.js';
import { rememberBundle } from '../workers.js';
import { adminAuth, jsonBody, refuseWhileDraining } from '../middleware.js';
import { CanaryError, type ModelSet } from '../runtime/model-set.js';
import { ERROR_RESPONSES, ErrorBody, header, jsonResponse, ReloadRequest, ReloadResponse } from '../schemas.js';

const BUNDLE_RELOAD = 'bundle-reload';
/** Loading a bundle and its canary on a busy machine; past it a worker counts as failed. */
const RELOAD_TIMEOUT_MS = 60_000;

/** Whether `path` lies strictly inside `base` (both absolute). `..data` is a name, not a way up. */
function within(path: string, base: string): boolean {
  const rest = relative(base, path);
  return rest !== '' && rest !== '..' && !rest.startsWith(`..${sep}`) && !isAbsolute(rest);
}

/**
 * The bundle folder a reload asked for, if it lies inside `root`: first as written (so a path
 * outside learns nothing about what exists there), then with symlinks resolved, the folder's and
 * each file's (so a link cannot lead out). It is loaded through the path as asked: a `current`
 * link that moves is followed again on the next reload, and a folder mid-swap is left to the
 * loader, which waits or recovers.
 */
async function bundleInside(requested: string, root: string): Promise<string> {
  const asked = resolve(requested);
  const realRoot = await realpath(root);
  const refuse = () =>
    fail(403, 'reload may only load bundles inside the configured bundle root', { bundleRoot: root });
  if (!within(asked, resolve(root)) && !within(asked, realRoot)) refuse();
  const real = await realpath(asked).catch(() => undefined);
  if (real && !within(real, realRoot)) refuse();
  if (real && !(await stat(real)).isDirectory()) {
    fail(422, 'bundle failed to load; the old one keeps serving', { code: 'NOT_A_FOLDER' });
  }
  // A link inside the folder to a file outside would be read as the bundle's: every file is followed too.
  for (const path of real ? await listFiles(asked) : []) {
    const file = await realpath(join(asked, path)).catch(() => undefined);
    if (file && !within(file, realRoot)) {
      fail(403, 'reload may only read files inside the configured bundle root', { bundleRoot: root, file: path });
    }
  }
  return asked;
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
    method: 'post',
    path: '/v1/admin/reload',
    operationId: 'adminReload',
    summary: 'Load a bundle and swap it in; requests in flight finish on the old models',
    security: [{ bearer: [] }],
    middleware: [refuseWhileDraining(ctx.lifecycle), adminAuth(ctx.config.adminToken),
      jsonBody(ctx.config.limits.maxBodyBytes, { optional: true })] as const,
    request: { body: { content: { 'application/json': { schema: ReloadRequest } }, required: false } },
    responses: {
      ...ERROR_RESPONSES,
      200: jsonResponse(ReloadResponse, 'The new bundle is serving'),
      401: jsonResponse(ErrorBody, 'Missing or wrong admin token', { 'WWW-Authenticate': header('Bearer') }),
      403: jsonResponse(ErrorBody,
        'No admin token configured (reload is disabled), the bundle lies outside the bundle root, or the Host is not ' +
          'one this server answers to'),
      409: jsonResponse(ErrorBody, 'Another reload is running'),
      422: jsonResponse(ErrorBody, 'The bundle failed to load or check; the old one keeps serving'),
    },
  });
  if (cluster.isWorker) answerGather(BUNDLE_RELOAD, (payload) => reloadInTurn(ctx, (payload as { dir: string }).dir));
  app.openapi(reload, async function reloadBundle(c) {
    if (reloading) fail(409, 'a reload is already running');
    reloading = true;
    const started = performance.now();
    const requested = c.req.valid('json')?.bundle ?? ctx.registry.current.dir;
    try {
      const dir = await bundleInside(requested, ctx.config.bundleRoot ?? dirname(resolve(ctx.config.bundleDir)));
      const loaded = cluster.isWorker ? await reloadEveryWorker(dir) : await reloadHere(ctx, dir);
      if ('failure' in loaded) fail(422, 'bundle failed to load; the old one keeps serving', loaded.failure);
      const seconds = (performance.now() - started) / 1000;
      return c.json({ bundle: requested, ...loaded, seconds }, 200);
    } finally {
      reloading = false;
    }
  });
  return app;
}

type Reloaded = { name: string; createdAt: string } | { failure: Record<string, unknown> };

/** Loads the bundle (checks and canary included) and swaps it in, or says why not; the old one keeps serving then. */
async function reloadHere(ctx: ServeContext, dir: string): Promise<Reloaded> {
  let next: ModelSet;
  try {
    next = await ctx.loadModels(dir);
  } catch (error) {
    ctx.logger.warn({ bundle: dir, err: error }, 'reload failed; the old bundle keeps serving');
    return { failure: loadFailure(error) };
  }
  ctx.registry.swap(next);
  ctx.logger.info({ bundle: dir, name: next.manifest.name, createdAt: next.manifest.createdAt }, 'bundle reloaded');
  return { name: next.manifest.name, createdAt: next.manifest.createdAt };
}

/** A worker's reloads one after another, in the order the primary sent them, so every worker ends on the same one. */
let reloadQueue: Promise<unknown> = Promise.resolve();
function reloadInTurn(ctx: ServeContext, dir: string): Promise<Reloaded> {
  const turn = reloadQueue.then(() => reloadHere(ctx, dir));
  reloadQueue = turn.catch(() => undefined);
  return turn;
}

/**
 * With --workers N: the reload runs in every worker, and the primary remembers the bundle for the
 * workers it starts later; a worker that failed is named, and the others keep what they loaded.
 */
async function reloadEveryWorker(dir: string): Promise<Reloaded> {
  const parts = (await gather(BUNDLE_RELOAD, { dir }, RELOAD_TIMEOUT_MS)) as Reloaded[];
  const failed = parts.filter((part) => 'failure' in part);
  if (failed.length > 0 || parts.length === 0) {
    return { failure: { code: 'WORKERS_FAILED', workers: parts.length, failed: failed.map((f) => f.failure) } };
  }
  rememberBundle(dir);
  return parts[0];
}

import type { IncomingMessage } from 'node:http';
import type { Context, ErrorHandler, NotFoundHandler } from 'hono';
import { HTTPException } from 'hono/http-exception';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import type { Logger } from 'pino';
import type { z } from 'zod';
import type { AppEnv } from './env.js';
import { answeredAtConnection } from './connections/admission.js';

/** What `fail` tucks into HTTPException's cause for onError to put in the body and headers. */
interface ApiErrorCause {
  kind: 'api-error';
  details: unknown;
  headers?: Record<string, string>;
}

const isApiCause = (cause: unknown): cause is ApiErrorCause =>
  typeof cause === 'object' && cause !== null && (cause as ApiErrorCause).kind === 'api-error';

/**
 * Throws the one error type every route uses; onError turns it into `{ error, details }`.
 *
 * @example
 *   fail(413, 'too many instances', { max: 256, got: 1000 });
 */
export function fail(status: ContentfulStatusCode, error: string, details: unknown = null,
  headers?: Record<string, string>): never {
  throw new HTTPException(status, { message: error,
    cause: { kind: 'api-error', details, headers } satisfies ApiErrorCause });
}

/** Zod issues as `[{ path: 'instances.3.7', message }]`: the path is what a client needs to fix its request. */
export function zodDetails(error: z.ZodError): { path: string; message: string }[] {
  return error.issues.slice(0, 20).map((issue) => ({ path: issue.path.join('.'), message: issue.message }));
}

/** The client hung up before its request was read in full (an upload cut off, a reset). */
function clientGone(incoming: IncomingMessage | undefined): boolean {
  return incoming !== undefined && !incoming.complete &&
    (incoming.readableAborted || incoming.destroyed || incoming.socket.destroyed);
}

/** Reasons hono itself gives for rejections it raises before our handlers run. */
function builtInStatusDetails(error: HTTPException): unknown {
  if (error.status === 415) return { accepted: 'application/json' };
  return null;
}

function respond(c: Context, status: ContentfulStatusCode, error: string, details: unknown,
  headers?: Record<string, string>): Response {
  for (const [name, value] of Object.entries(headers ?? {})) c.header(name, value);
  return c.json({ error, details }, status);
}

/**
 * The single onError: every failure leaves as JSON `{ error, details }`. Unexpected errors are
 * logged with their stack and answered 500 without internals, since a stack trace tells a
 * client nothing it can act on.
 */
export const errorHandler = (logger: Logger): ErrorHandler<AppEnv> =>
  function onError(error, c) {
    const answered = answeredAtConnection(c.env?.incoming);
    if (answered) {
      // The connection has its JSON answer already (admission.ts); this records it as what it was.
      logger.info({ requestId: c.get('requestId'), path: c.req.path, status: answered.status }, answered.message);
      return respond(c, answered.status as ContentfulStatusCode, answered.message, null);
    }
    if (clientGone(c.env?.incoming)) {
      // nginx's 499: the failure is the client's leaving, not ours, so it is no 5xx and has no stack.
      logger.info({ requestId: c.get('requestId'), path: c.req.path, reason: error.message },
        'client closed the request');
      return respond(c, 499 as ContentfulStatusCode, 'client closed request', null);
    }
    if (error instanceof HTTPException) {
      const status = error.status as ContentfulStatusCode;
      if (isApiCause(error.cause)) return respond(c, status, error.message, error.cause.details, error.cause.headers);
      return respond(c, status, error.message || 'request rejected', builtInStatusDetails(error));
    }
    logger.error({ err: error, requestId: c.get('requestId'), path: c.req.path }, 'unhandled error');
    return respond(c, 500, 'internal error', { requestId: c.get('requestId') ?? null });
  };

const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** The methods each route pattern answers (HEAD wherever GET), for telling 405 from 404. */
function methodsByPattern(routes: readonly { method: string; path: string }[]): [RegExp, string[]][] {
  const byPath = new Map<string, Set<string>>();
  for (const { method, path } of routes) {
    if (method === 'ALL') continue; // middleware, not a route
    const methods = byPath.get(path) ?? byPath.set(path, new Set()).get(path)!;
    methods.add(method);
    if (method === 'GET') methods.add('HEAD');
  }
  return [...byPath].map(([path, methods]) => [
    new RegExp(`^${path.split('/').map((part) => (part.startsWith(':') ? '[^/]+' : escapeRegExp(part))).join('/')}$`),
    [...methods],
  ]);
}

/**
 * Unmatched requests: a path some route serves with other methods gets 405 and the `Allow` header
 * RFC 9110 requires (OPTIONS gets 204 and `Allow`); any other path gets 404.
 */
export function notFoundHandler(routes: readonly { method: string; path: string }[]): NotFoundHandler {
  const patterns = methodsByPattern(routes);
  return function notFound(c) {
    const allowed = [...new Set(patterns.filter(([pattern]) => pattern.test(c.req.path)).flatMap(([, m]) => m))];
    if (allowed.length === 0) return respond(c, 404, 'not found', { method: c.req.method, path: c.req.path });
    const allow = [...allowed, 'OPTIONS'].join(', ');
    if (c.req.method === 'OPTIONS') return c.body(null, 204, { Allow: allow });
    return respond(c, 405, 'method not allowed', { method: c.req.method, path: c.req.path, allowed }, { Allow: allow });
  };
}

// ── Validation: zod failures become the right status ──────────────────────────────────────────

type Issue = z.core.$ZodIssue;

/** "instances has 300 items, at most 256" is a size problem (413), not a malformed request (400). */
const isTooMany = (issue: Issue) =>
  issue.code === 'too_big' && issue.path.length === 1 && issue.path[0] === 'instances';

/**
 * What a failed zod check becomes: 404 for a path parameter (an unknown model is an unknown
 * resource), 413 for too many instances, 400 for everything else, with the issues by path.
 */
export function rejectInvalid(target: string, error: z.ZodError): never {
  if (target === 'param') fail(404, 'not found', zodDetails(error));
  const tooMany = error.issues.find(isTooMany);
  if (tooMany) fail(413, 'too many instances', zodDetails(error));
  fail(400, 'invalid request', zodDetails(error));
}

/** OpenAPIHono's defaultHook: every validation failure goes through rejectInvalid and onError. */
export function validationHook(result: { target: string; success: boolean; error?: z.ZodError }): void {
  if (!result.success && result.error) rejectInvalid(result.target, result.error);
}

/**
 * The JSON body checked against `schema`, for routes outside OpenAPIHono (the v2 protocol):
 * `unparsable` for a body that is not JSON (default 400), then the schema's verdict.
 *
 * @example
 *   const body = await readJson(c, InferRequest);
 */
export async function readJson<S extends z.ZodType>(c: Context, schema: S,
  unparsable: () => never = () => fail(400, 'Malformed JSON in request body')): Promise<z.infer<S>> {
  let json: unknown;
  try {
    json = await c.req.json();
  } catch {
    unparsable();
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) rejectInvalid('json', parsed.error);
  return parsed.data;
}

import type { IncomingMessage } from 'node:http';
import { createHash, randomUUID, timingSafeEqual } from 'node:crypto';
import type { Context, MiddlewareHandler } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { routePath } from 'hono/route';
import type { Logger } from 'pino';
import { arrivedAt, arrivedWhileDraining } from './connections/admission.js';
import { MODEL_NAMES } from './config.js';
import type { AppEnv } from './env.js';
import { fail } from './errors.js';
import type { Lifecycle } from './lifecycle.js';
import { NONE, type ServeMetrics } from './metrics.js';
import { isWarmupRequest } from './warmup.js';

// Middleware factories, each returning a named handler as hono's own do.

// ── Every request ──────────────────────────────────────────────────────────────────────────────

/**
 * Counts each request in flight (drain waits on it), then records its status and latency under
 * the route pattern, model and variant the handler named, and writes one access-log line.
 */
export const observe = (metrics: ServeMetrics, lifecycle: Lifecycle, logger: Logger): MiddlewareHandler<AppEnv> =>
  async function observe(c, next) {
    if (isWarmupRequest(c.req.raw)) return next();
    const started = arrivedAt(c.env?.incoming) ?? performance.now();
    c.set('arrivedAt', started);
    lifecycle.begin();
    metrics.inflight.inc();
    try {
      await next();
    } finally {
      lifecycle.end();
      metrics.inflight.dec();
      const seconds = (performance.now() - started) / 1000;
      // The last matched route is the handler's pattern; '/*' when only middleware matched (404).
      const labels = { endpoint: routePath(c, -1), model: c.get('model') ?? modelInPath(c.req.path),
        variant: c.get('variant') ?? NONE, code: c.res.status };
      metrics.observe(labels, seconds);
      logger.info({ requestId: c.get('requestId'), clientRequestId: c.req.header('x-request-id'), method: c.req.method,
        path: c.req.path, status: c.res.status, ms: Math.round(seconds * 1e4) / 10, model: labels.model,
        variant: labels.variant }, 'request');
    }
  };

/**
 * The model a path names (/v1/models/{m}/…, /v2/models/{m}/…), for requests refused before their
 * handler ran (400, 413, 415): they still belong to that model's series. Unknown names stay 'none'.
 */
function modelInPath(path: string): string {
  const name = /^\/v[12]\/models\/([^/]+)/.exec(path)?.[1];
  return name && (MODEL_NAMES as readonly string[]).includes(name) ? name : NONE;
}

/**
 * A request id of the server's own on every request (X-Request-Id on the answer): ids name answers
 * in logs, and one a client picked could collide with another client's. A client's own
 * X-Request-Id is kept for its logs as clientRequestId.
 */
export const serverRequestId = (): MiddlewareHandler<AppEnv> =>
  async function serverRequestId(c, next) {
    const id = randomUUID();
    c.set('requestId', id);
    c.header('X-Request-Id', id);
    await next();
  };

/**
 * RFC 9110 §9.3.2: a HEAD answer should carry the header fields a GET's would, Content-Length
 * among them (§8.6: and only GET's length). Hono answers HEAD by running the GET route and
 * dropping its body, so the node adapter, which counts a body's bytes as it writes them, never
 * learns the length: count it here.
 */
export const headContentLength = (): MiddlewareHandler =>
  async function headContentLength(c, next) {
    await next();
    // Only for successes: an error's body names the method (HEAD), so its length is not GET's.
    if (c.req.raw.method !== 'HEAD' || !c.res.ok || !c.res.body || c.res.headers.has('Content-Length')) return;
    c.res.headers.set('Content-Length', String((await c.res.clone().arrayBuffer()).byteLength));
  };

/** The performance.now() time by which a request must be answered: `deadlineMs` after it arrived. */
export const deadlineOf = (c: Context<AppEnv>, deadlineMs: number): number =>
  (c.get('arrivedAt') ?? performance.now()) + deadlineMs;

/**
 * 403 for a Host header outside `allowed` (names, any port): a page whose DNS name was rebound to
 * 127.0.0.1 still sends its own name as Host, so it cannot reach a loopback server's routes.
 */
export const hostCheck = (allowed: string[] | undefined): MiddlewareHandler =>
  async function hostCheck(c, next) {
    // Node would answer this with an empty 400 of its own (the server turns its check off for this one).
    const incoming = (c.env as { incoming?: IncomingMessage } | undefined)?.incoming;
    if (incoming?.httpVersion === '1.1' && incoming.headers.host === undefined) {
      fail(400, 'missing Host header: HTTP/1.1 requests must name the host', null);
    }
    if (allowed) {
      // Under node the URL is built from the Host header; app.request in tests has only the URL.
      const host = c.req.header('host') ?? new URL(c.req.url).host;
      const lower = host.toLowerCase();
      const name = lower.startsWith('[') ? lower.slice(0, lower.indexOf(']') + 1) : lower.replace(/:\d*$/, '');
      if (!allowed.includes(name)) {fail(403, 'Host not allowed: start the server with --allowed-hosts naming it', {
          host,
        });}
    }
    await next();
  };

// ── Routes that take a body ────────────────────────────────────────────────────────────────────

export const JSON_TYPE = /^application\/(?:[\w.+-]+\+)?json\s*(?:;|$)/i;

/**
 * For routes that take a JSON body (`optional`: or none at all): 415 unless the Content-Type says
 * JSON (checked first, so a large body of the wrong type is refused unread) and for any
 * Content-Encoding but identity, then 413 past `maxBytes`. hono's bodyLimit counts the bytes as
 * they stream in, so a chunked body without Content-Length cannot slip past it. `anyType` skips
 * the media-type check: the v2 protocol's clients (tritonclient among them) post JSON with no
 * Content-Type or curl's form default, and Triton reads it as JSON; the route then answers 415
 * only if the body does not parse.
 */
export const jsonBody = (maxBytes: number, { optional = false, anyType = false } = {}): MiddlewareHandler => {
  const limit = bodyLimit({
    maxSize: maxBytes,
    onError: () => fail(413, 'request body too large', { maxBytes }),
  });
  return async function jsonBody(c, next) {
    const type = c.req.header('content-type');
    // An optional body may be left out (POST /v1/admin/reload with no options). Without a type,
    // only an empty body gets past the route's own media-type gate (415 otherwise).
    if (optional && !type) return limit(c, next);
    if (!anyType && (!type || !JSON_TYPE.test(type))) {
      fail(415, 'Content-Type must be application/json', { got: type ?? null });
    }
    // Node undoes only chunked framing; any other transfer coding (gzip, deflate) would reach the
    // parser as it is. RFC 9112 §6.1: a coding the server does not understand is a 501.
    const transfer = c.req.header('transfer-encoding');
    const codings = transfer?.split(',').map((coding) => coding.trim().toLowerCase()) ?? [];
    if (codings.some((coding) => coding !== 'chunked' && coding !== 'identity')) {
      fail(501, 'Transfer-Encoding other than chunked is not supported', { got: transfer });
    }
    // Bodies are read as they come: a compressed one would be parsed as its compressed bytes.
    const encoding = c.req.header('content-encoding');
    if (encoding !== undefined && encoding.trim().toLowerCase() !== 'identity') {
      fail(415, 'Content-Encoding is not supported: send the body uncompressed', { got: encoding },
        { 'Accept-Encoding': 'identity' });
    }
    const length = c.req.header('content-length');
    if (length !== undefined && c.req.header('transfer-encoding') === undefined) {
      // The check hono's bodyLimit makes for a sized body, made without touching the body stream:
      // bodyLimit reads `raw.body` first, which makes the Node adapter build a full web Request
      // for every call, the largest per-request cost on the predict route. Node's parser reads
      // exactly Content-Length bytes, so a sized body cannot outgrow what it declared.
      if (!(Number(length) <= maxBytes)) fail(413, 'request body too large', { maxBytes });
      return next();
    }
    return limit(c, next);
  };
};

// ── Guards ─────────────────────────────────────────────────────────────────────────────────────

/**
 * Work that arrives during a drain is refused with a retry hint, so clients go to another replica; work that arrived
 * before it, and waited for its turn, is served.
 */
export const refuseWhileDraining = (lifecycle: Lifecycle): MiddlewareHandler =>
  async function refuseWhileDraining(c, next) {
    const draining = arrivedWhileDraining(c.env?.incoming) ?? lifecycle.isDraining;
    if (draining) fail(503, 'draining: this server is shutting down', null, { 'Retry-After': '1' });
    await next();
  };

const digest = (text: string) => createHash('sha256').update(text).digest();

/**
 * `Authorization: Bearer <token>` for admin routes. Compared as sha256 digests in constant time,
 * so neither the token's length nor its prefix leaks through timing. Without a configured token
 * the admin routes are off (403), never open.
 */
export const adminAuth = (token: string | undefined): MiddlewareHandler => {
  const expected = token === undefined ? undefined : digest(token);
  return async function adminAuth(c, next) {
    if (!expected) fail(403, 'admin routes are disabled: start the server with an admin token (SERVE_ADMIN_TOKEN)');
    const given = /^Bearer\s+(.+)$/i.exec(c.req.header('authorization') ?? '')?.[1];
    if (!given || !timingSafeEqual(digest(given), expected)) {
      fail(401, 'missing or wrong admin token', null, { 'WWW-Authenticate': 'Bearer' });
    }
    await next();
  };
};

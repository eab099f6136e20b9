import cluster from 'node:cluster';
import { once } from 'node:events';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { getRequestListener } from '@hono/node-server';
import { admissionServer } from './connections/admission.js';
import { startHealthPort } from './connections/health.js';
import { TurnBudget } from './connections/turn-budget.js';
import { createApp, type ServeApp } from './app.js';
import { startCluster, WORKER_CONFIG_ENV, workerListening } from './workers.js';
import { parseServeConfig, type ServeConfig, ServeConfigError, type ServeConfigInput } from './config.js';
import { flagError } from '../cli/index.js';
import { onStopSignals } from './lifecycle.js';
import type { ServerHandle } from './handle.js';
import { createLogger } from './logger.js';
import { warmUp } from './warmup.js';

export type { ServerHandle } from './handle.js';

export interface StartOptions {
  /** Drain and exit on SIGTERM/SIGINT; a caller that manages the process itself (tests) turns it off. */
  signals?: boolean;
}

/** How long no request must have come before a draining server stops listening. */
const QUIET_BEFORE_CLOSE_MS = 200;

/** Closing a server waits for open connections; idle keep-alive ones are closed at once, busy ones after `graceMs`. */
async function closeServer(server: Server, graceMs: number): Promise<void> {
  const closed = once(server, 'close');
  server.close();
  server.closeIdleConnections();
  const force = setTimeout(() => server.closeAllConnections(), graceMs);
  await closed;
  clearTimeout(force);
}

async function listen(config: ServeConfig, served: ServeApp): Promise<{ server: Server; port: number }> {
  const { limits } = config;
  const budget = new TurnBudget({ perTurn: limits.requestsPerTurn, bytesPerTurn: limits.bodyBytesPerTurn,
    maxWaiting: limits.maxWaiting, acceptFirstMs: limits.acceptFirstMs, deadlineMs: config.batching.deadlineMs });
  served.context.metrics.waitingDepth = () => budget.depth;
  const admission = admissionServer({
    maxConnections: limits.maxConnections,
    budget,
    deadlineMs: config.batching.deadlineMs,
    maxBodyBytes: limits.maxBodyBytes,
    isDraining: () => served.context.lifecycle.isDraining,
    inflight: served.context.lifecycle,
    onConnection: () => served.context.lifecycle.connectionAccepted(),
    onRefuse: (reason) => served.context.metrics.refused.inc({ reason }),
    onConnectionAnswer: (status, message) => recordOutsideApp(served, status, message),
  });
  // The adapter's listener, not its serve(): only the listener takes an error handler.
  const server = admission({}, getRequestListener(served.app.fetch, { hostname: config.host,
    errorHandler: (error) => unreadableRequest(error, served) }));
  server.listen(config.port, config.host);
  await Promise.race([once(server, 'listening'), once(server, 'error').then(([error]) => {
    throw error;
  })]);
  return { server, port: (server.address() as AddressInfo).port };
}

/** An answer the app never saw, counted and logged as the app's own answers are. */
function recordOutsideApp(served: ServeApp, status: number, message: string): void {
  served.context.metrics.observe({ endpoint: '/*', model: 'none', variant: 'none', code: status }, 0);
  served.context.logger.info({ status }, message);
}

/**
 * A request the adapter cannot turn into a URL (a Host like `a b` or `[::1]evil`, a backslash in the
 * path, `OPTIONS *`): a JSON 400, counted and logged as the app's answers are, where the adapter
 * would send an empty one that nothing records.
 */
function unreadableRequest(error: unknown, served: ServeApp): Response {
  const reason = (error as Error).message;
  recordOutsideApp(served, 400, `unreadable request target or Host: ${reason}`);
  return new Response(JSON.stringify({ error: 'bad request target or Host header', details: { reason } }),
    { status: 400, headers: { 'Content-Type': 'application/json', 'X-Content-Type-Options': 'nosniff' } });
}

/**
 * Starts serving a bundle over HTTP: one process, or with `workers > 1` a node:cluster primary
 * whose workers share the port. In a worker, the config the primary sent wins over the argument,
 * so every worker serves exactly what the primary was asked to.
 *
 * @example
 *   const server = await startServer({ bundleDir: 'models/default', port: 8080 });
 *   console.log(`listening on ${server.port}`);
 *   await server.close();
 */
export async function startServer(input: ServeConfigInput, options: StartOptions = {}): Promise<ServerHandle> {
  const fromPrimary = cluster.isWorker ? process.env[WORKER_CONFIG_ENV] : undefined;
  const config = parseServeConfig(fromPrimary ? JSON.parse(fromPrimary) : input);
  const signals = options.signals ?? true;
  if (config.workers > 1 && cluster.isPrimary) return startCluster(config, { signals });

  const logger = createLogger(config.logLevel);
  const served = await createApp({ ...config, logger });
  const warmup = await warmUp(served, config.warmupMs);
  if (warmup.requests > 0) logger.info({ ms: config.warmupMs, ...warmup }, 'warmed up');
  const { server, port } = await listen(config, served);
  logger.info({ host: config.host, port, workers: config.workers }, 'listening');
  if (cluster.isWorker) workerListening(port);
  // In a cluster the primary answers probes: its loop is the idle one.
  const lifecycle = served.context.lifecycle;
  const health = config.healthPort === undefined || cluster.isWorker ?
    undefined :
    await startHealthPort({ host: config.host, port: config.healthPort,
      staleMs: Math.max(1000, config.batching.deadlineMs),
      state: () => ({ ready: lifecycle.isReady, draining: lifecycle.isDraining }) });
  if (health) logger.info({ healthPort: health.port }, 'probes answered on their own port');

  let closing: Promise<boolean> | undefined;
  const close = () => {
    closing ??= (async () => {
      logger.info({ inflight: served.context.lifecycle.inflight }, 'draining');
      // The listener stays open while draining, so late arrivals get a 503 to retry elsewhere
      // rather than a refused connection; it closes once nothing is in flight and no request has
      // come for a moment (or the drain's time is up).
      const deadline = performance.now() + config.drainTimeoutMs;
      const drained = lifecycle.drain(config.drainTimeoutMs);
      health?.refresh();
      const clean = await drained;
      await lifecycle.quiet(QUIET_BEFORE_CLOSE_MS, deadline);
      await closeServer(server, 1000);
      await health?.close();
      await served.shutdown();
      logger.info({ clean }, 'stopped');
      logger.flush();
      return clean;
    })();
    return closing;
  };
  if (signals || cluster.isWorker) onStopSignals(close);
  return { port, host: config.host, healthPort: health?.port, close };
}

/**
 * The CLI's catch-all: a bad flag or config value exits 2 with its message and no stack; any other
 * failure to start is logged and exits 1.
 */
export function exitOnStartFailure(error: unknown): never {
  if (error instanceof ServeConfigError) flagError(`${error.message}\n(--help lists the flags)`);
  createLogger('info').fatal({ err: error }, (error as Error).message);
  process.exit(1);
}

import { randomBytes } from 'node:crypto';
import cluster, { type Worker } from 'node:cluster';
import type { ServeConfig } from './config.js';
import { startHealthPort } from './connections/health.js';
import { onStopSignals } from './lifecycle.js';
import { createLogger } from './logger.js';
import { serveClusterClaims } from './ab/scored.js';
import { serveClusterGather } from './gather.js';
import type { ServerHandle } from './handle.js';

/** The primary's validated config, handed to each worker so all of them serve the same thing. */
export const WORKER_CONFIG_ENV = 'SERVE_WORKER_CONFIG';
const LISTENING = 'serve:listening';
/** More worker deaths than this within a minute means a crash loop: stop instead of forking forever. */
const MAX_RESTARTS_PER_MINUTE = 5;

const BUNDLE = 'serve:bundle';

/** In a worker: tells the primary every worker now serves `dir`, so the workers it starts later load it too. */
export function rememberBundle(dir: string): void {
  process.send?.({ type: BUNDLE, dir });
}

/** In a worker: tells the primary it is serving, and on which port. */
export function workerListening(port: number): void {
  process.send?.({ type: LISTENING, port });
}

/** Resolves with whether the worker exited cleanly (code 0), at once if it already has. */
function exited(worker: Worker): Promise<boolean> {
  if (worker.isDead()) return Promise.resolve(worker.process.exitCode === 0);
  return new Promise((resolve) => worker.once('exit', (code) => resolve(code === 0)));
}

/**
 * The node:cluster primary: forks `workers` processes that share one listening port (the
 * primary accepts and hands connections round-robin), restarts a worker that dies, aggregates
 * /metrics across workers, and on close sends each worker SIGTERM so each drains on its own.
 * Resolves once every worker listens.
 */
export async function startCluster(config: ServeConfig, { signals }: { signals: boolean }): Promise<ServerHandle> {
  const logger = createLogger(config.logLevel);
  serveClusterClaims();
  serveClusterGather();
  // Feedback may reach any worker: they must all check receipts with one key.
  const shared = { ...config, abSecret: config.abSecret ?? randomBytes(32).toString('hex') };
  const fork = () => cluster.fork({ [WORKER_CONFIG_ENV]: JSON.stringify(shared) });
  cluster.on('message', (_worker, message: { type?: string; dir?: unknown }) => {
    if (message?.type === BUNDLE && typeof message.dir === 'string') shared.bundleDir = message.dir;
  });
  let stopping = false;
  let listening = false;
  const restarts: number[] = [];
  const ports = new Map<number, number>();
  const port = await new Promise<number>((resolve, reject) => {
    cluster.on('message', (worker, message: { type?: string; port?: number }) => {
      if (message?.type !== LISTENING || typeof message.port !== 'number') return;
      ports.set(worker.id, message.port);
      if (!listening && ports.size === config.workers) {
        listening = true;
        resolve(message.port);
      }
    });
    cluster.on('exit', (worker, code, signal) => {
      ports.delete(worker.id);
      if (stopping) return;
      if (!listening) {
        stopping = true;
        for (const other of Object.values(cluster.workers ?? {})) other?.kill();
        reject(new Error(`worker ${worker.id} exited (${signal ?? code}) before listening: see its log above`));
        return;
      }
      const now = Date.now();
      restarts.push(now);
      while (restarts[0] < now - 60_000) restarts.shift();
      if (restarts.length > MAX_RESTARTS_PER_MINUTE) {
        logger.fatal({ restarts: restarts.length }, 'workers keep dying: stopping');
        void close().then(() => process.exit(1));
        return;
      }
      logger.warn({ worker: worker.id, code, signal }, 'worker died; starting another');
      fork();
    });
    for (let i = 0; i < config.workers; i++) fork();
  });
  logger.info({ host: config.host, port, workers: config.workers }, 'cluster listening');
  // Probes reach the primary, whose loop is idle: live while it runs, ready while a worker serves.
  const health = config.healthPort === undefined ?
    undefined :
    await startHealthPort({ host: config.host, port: config.healthPort,
      staleMs: Math.max(1000, config.batching.deadlineMs),
      state: () => ({ ready: ports.size > 0 && !stopping, draining: stopping }) });

  let closing: Promise<boolean> | undefined;
  const close = () => {
    closing ??= (async () => {
      stopping = true;
      health?.refresh();
      const workers = Object.values(cluster.workers ?? {}).filter((w): w is Worker => w !== undefined);
      for (const worker of workers) worker.process.kill('SIGTERM');
      // A worker whose drain timed out exits 1; the cluster reports it the same way.
      const clean = (await Promise.all(workers.map(exited))).every(Boolean);
      await health?.close();
      logger.info({ clean }, 'cluster stopped');
      return clean;
    })();
    return closing;
  };
  if (signals) onStopSignals(close);
  return { port, host: config.host, healthPort: health?.port, close };
}

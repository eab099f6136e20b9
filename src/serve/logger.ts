import cluster from 'node:cluster';
import { pino, type Logger } from 'pino';
import type { ServeConfig } from './config.js';

/**
 * JSON lines on stdout, one object per event, with the worker id under node:cluster so the lines
 * of N workers can be told apart. The Authorization header never reaches a log line.
 *
 * @example
 *   const logger = createLogger('info');
 *   logger.info({ bundle: 'models/default' }, 'serving');
 */
export function createLogger(level: ServeConfig['logLevel']): Logger {
  return pino({
    level,
    base: { pid: process.pid, ...(cluster.isWorker ? { worker: cluster.worker?.id } : {}) },
    redact: ['headers.authorization', 'req.headers.authorization'],
  });
}

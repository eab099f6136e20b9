import { type ChildProcess, fork } from 'node:child_process';
import { once } from 'node:events';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Hono } from 'hono';
import { z } from 'zod';
import type { ServeConfigInput } from '../src/serve/index.js';
import { LOOPBACK } from './options.js';

// Servers the load tests start, each in a child process (loadtest/child.ts) on 127.0.0.1: the
// model server (src/serve) and the trivial baseline route.

// ── The baseline ──────────────────────────────────────────────────────────────────────────────

/** Where the baseline answers; outside /v1 so it can never be mistaken for a model route. */
export const BASELINE_PATH = '/loadtest/baseline';

/**
 * The trivial route every endpoint is measured against: it reads and parses the same JSON body a
 * predict request carries, then answers a constant. Its rps is the ceiling of the HTTP stack on
 * this machine (node:http, @hono/node-server, hono, JSON), so an endpoint's rps as a fraction of
 * it is what the model and its validation cost, whatever the machine.
 *
 * @example
 *   const res = await baselineApp().request(BASELINE_PATH, { method: 'POST', body: '{"instances":[[0]]}' });
 *   await res.json(); // { predictions: [{ class: 0 }] }
 */
export function baselineApp(): Hono {
  const app = new Hono();
  app.post(BASELINE_PATH, async function baseline(c) {
    const body = (await c.req.json()) as { instances?: unknown };
    // A shape check as cheap as can be, so a body the models would refuse is refused here too.
    if (!Array.isArray(body.instances)) return c.json({ error: 'needs instances', details: null }, 400);
    return c.json({ predictions: [{ class: 0 }] });
  });
  return app;
}

// ── Child processes ───────────────────────────────────────────────────────────────────────────

const CHILD = fileURLToPath(new URL('./child.ts', import.meta.url));
/** tsx's loader by absolute URL: a bare `--import tsx` resolves from the cwd, which may be outside the project. */
export const TSX = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
/** Loading a bundle and picking the engine on a busy 2-core machine can take a while. */
const START_TIMEOUT_MS = 180_000;
/** A server that has not drained and exited by then is killed. */
const CLOSE_TIMEOUT_MS = 15_000;
/** Lines of a child's output kept to explain a failed start. */
const TAIL_CHARS = 4000;

export const ChildSpecSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('model'), config: z.custom<ServeConfigInput>((v) =>
    typeof v === 'object' && v !== null && 'bundleDir' in v
  ) }),
  z.object({ kind: z.literal('baseline') }),
]);
export type ChildSpec = z.infer<typeof ChildSpecSchema>;

export type ChildMessage = { type: 'listening'; port: number; healthPort?: number } | { type: 'failed';
  message: string };

export interface ChildServer {
  /** http://127.0.0.1:port */
  url: string;
  /** http://127.0.0.1:port of the probe port, when the server was given `healthPort`. */
  healthUrl?: string;
  pid: number;
  /** Asks the server to drain and exit; kills it if it has not within 15 s. Idempotent. */
  close(): Promise<void>;
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  if (child.connected) child.send({ type: 'close' });
  const timer = setTimeout(() => child.kill('SIGKILL'), CLOSE_TIMEOUT_MS);
  await exited;
  clearTimeout(timer);
}

/**
 * Starts a server in a child process and resolves once it listens.
 *
 * @example
 *   const server = await startChild({ kind: 'model', config: { bundleDir: 'models/default', logLevel: 'warn' } });
 *   // … load server.url …
 *   await server.close();
 */
export async function startChild(spec: ChildSpec): Promise<ChildServer> {
  const child = fork(CHILD, [JSON.stringify(ChildSpecSchema.parse(spec))], {
    execArgv: ['--import', TSX],
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  let tail = '';
  const keep = (chunk: Buffer) => {
    tail = (tail + chunk.toString()).slice(-TAIL_CHARS);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  let timer: NodeJS.Timeout | undefined;
  try {
    const { port, healthPort } = await new Promise<{ port: number; healthPort?: number }>((resolve, reject) => {
      timer = setTimeout(
        () => reject(new Error(`${spec.kind} server did not listen within ${START_TIMEOUT_MS / 1000} s`)),
        START_TIMEOUT_MS,
      );
      child.on('message', (message: ChildMessage) => {
        if (message.type === 'listening') resolve(message);
        else reject(new Error(`${spec.kind} server failed to start: ${message.message}`));
      });
      child.once('exit', (code, signal) =>
        reject(new Error(`${spec.kind} server exited (${signal ?? code}) before listening`)));
    });
    let closing: Promise<void> | undefined;
    const healthUrl = healthPort === undefined ? undefined : `http://${LOOPBACK}:${healthPort}`;
    return { url: `http://${LOOPBACK}:${port}`, healthUrl, pid: child.pid as number,
      close: () => (closing ??= stopChild(child)) };
  } catch (error) {
    await stopChild(child);
    throw new Error(`${(error as Error).message}\n${tail.trim()}`, { cause: error });
  } finally {
    clearTimeout(timer);
  }
}

/** Closes every server given, in parallel, whatever happens to the others. */
export async function closeAll(servers: readonly (ChildServer | undefined)[]): Promise<void> {
  await Promise.allSettled(servers.map((server) => server?.close()));
}

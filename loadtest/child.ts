// A server in its own process for the load tests: argv[2] is a ChildSpec as JSON. Its own
// process, so the server's event loop (and its synchronous tfjs kernels) never share a thread with
// the load generator's. Reports its port over IPC; closes on a 'close' message, or when the
// parent goes away, so a crashed load test leaves no server behind.
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { once } from 'node:events';
import { serve } from '@hono/node-server';
import { startServer } from '../src/serve/index.js';
import { baselineApp, type ChildMessage, ChildSpecSchema } from './servers.js';
import { LOOPBACK } from './options.js';

async function start(): Promise<{ port: number; healthPort?: number; close: () => Promise<unknown> }> {
  const spec = ChildSpecSchema.parse(JSON.parse(process.argv[2] ?? '{}'));
  if (spec.kind === 'model') {
    const handle = await startServer({ ...spec.config, host: LOOPBACK, port: 0, workers: 1 }, { signals: false });
    return handle;
  }
  const server = serve({ fetch: baselineApp().fetch, hostname: LOOPBACK, port: 0 }) as Server;
  await once(server, 'listening');
  return {
    port: (server.address() as AddressInfo).port,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

const send = (message: ChildMessage) => process.send?.(message);
try {
  const { port, healthPort, close } = await start();
  const stop = () => void close().finally(() => process.exit(0));
  process.on('message', (message: { type?: string }) => {
    if (message?.type === 'close') stop();
  });
  process.on('disconnect', stop);
  send({ type: 'listening', port, healthPort });
} catch (error) {
  send({ type: 'failed', message: (error as Error).message });
  process.exit(1);
}

// How long one Node process takes to accept a burst of new connections, with no model and no
// app: the floor under `npm run loadtest:overload`'s API-port probe. A probe whose connection
// lands behind the burst in the kernel's accept queue waits at least this long in any single
// Node process, whatever the app does. Load from autocannon in its own process, as in the
// overload test. Run it with nothing else on the machine.
//   npm run loadtest:accept-floor [-- --connections 512] [--runs 5]
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer as createHttpServer } from 'node:http';
import { createServer as createNetServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { median } from '../src/bench/index.js';
import { z } from 'zod';
import { parseFlags, scriptArgs } from '../src/cli/index.js';

/** Sockets and responses of the current run, destroyed when it ends. */
const held: { destroy(): unknown }[] = [];

/** What the server does with each connection while the burst arrives. */
const MODES = {
  /** accept() only: pauseOnConnect, nothing read. */
  accept: () => createNetServer({ pauseOnConnect: true }, (socket) => held.push(socket)),
  /** accept() and read the first chunk (what a server must do to tell a probe from the rest). */
  'accept + first read': () => createNetServer((socket) => socket.once('data', () => socket.pause())),
  /** node:http parses each request and holds it unanswered, as the server does during a burst. */
  'node:http, requests held': () => createHttpServer((_req, res) => held.push(res)),
} satisfies Record<string, () => Server>;

const AUTOCANNON = createRequire(import.meta.url).resolve('autocannon/autocannon.js');
const BODY = JSON.stringify({ instances: [Array.from({ length: 784 }, (_, i) => (i % 255) / 255)] });

/** Milliseconds from the burst's first accept to its last. */
async function burstMs(makeServer: () => Server, connections: number, bodyFile: string): Promise<number> {
  const stamps: number[] = [];
  const server = makeServer();
  server.on('connection', (socket: Socket) => {
    stamps.push(performance.now());
    held.push(socket);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  const load = spawn(process.execPath, [AUTOCANNON, '-c', String(connections), '-d', '3', '-m', 'POST',
    '-i', bodyFile, '-H', 'content-type=application/json', `http://127.0.0.1:${port}/v1/models/ensemble/predict`],
  { stdio: 'ignore' });
  const deadline = performance.now() + 10_000;
  while (stamps.length < connections && performance.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  load.kill();
  for (const h of held.splice(0)) h.destroy();
  server.close();
  if (stamps.length < connections) throw new Error(`only ${stamps.length} of ${connections} connections arrived`);
  return stamps[connections - 1] - stamps[0];
}

const { values } = scriptArgs({ options: { connections: { type: 'string', default: '512' },
  runs: { type: 'string', default: '5' } } });
const { connections, runs } = parseFlags(z.object({ connections: z.coerce.number().int().min(2).max(4096),
  runs: z.coerce.number().int().min(1).max(100) }), values);
const dir = await mkdtemp(join(tmpdir(), 'accept-floor-'));
try {
  const bodyFile = join(dir, 'body.json');
  await writeFile(bodyFile, BODY);
  console.log(`${connections} connections opened at once by autocannon (own process), ${runs} runs per mode`);
  for (const [mode, makeServer] of Object.entries(MODES)) {
    const times: number[] = [];
    for (let i = 0; i < runs; i++) times.push(await burstMs(makeServer, connections, bodyFile));
    console.log(`${mode}: median ${median(times).toFixed(1)} ms (runs ${times.map((t) => t.toFixed(1)).join(', ')})`);
  }
} finally {
  await rm(dir, { recursive: true, force: true });
}

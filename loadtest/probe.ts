// A liveness prober in its own process, as a kubelet is: every `everyMs` it opens a new connection
// to `url` and times the answer with a clock no load generator shares. argv: url, everyMs,
// durationS. Sends `{ type: 'ready' }` over IPC once booted, starts at the next message, and sends
// `{ type: 'probes', probes }` when done.
import { request } from 'node:http';

export interface Probe {
  /** Milliseconds since the prober started when this probe was sent. */
  atMs: number;
  /** Round trip on a fresh connection; null when it failed or outlived `timeoutMs`. */
  ms: number | null;
  status: number | null;
}

const TIMEOUT_MS = 10_000;

function probeOnce(url: string): Promise<{ ms: number | null; status: number | null }> {
  const started = performance.now();
  return new Promise((resolve) => {
    const req = request(url, { agent: false, timeout: TIMEOUT_MS, headers: { connection: 'close' } }, (res) => {
      res.resume();
      res.on('end', () => resolve({ ms: performance.now() - started, status: res.statusCode ?? null }));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve({ ms: null, status: null }));
    req.end();
  });
}

const [url, everyText, durationText] = process.argv.slice(2);
const everyMs = Number(everyText);
// Booting this process (tsx) is a CPU-heavy few hundred ms on a shared 2-core machine: it happens
// before the load starts, as a kubelet is running before traffic comes, and probing starts with it.
process.send?.({ type: 'ready' });
await new Promise((resolve) => process.once('message', resolve));
const until = performance.now() + Number(durationText) * 1000;
const origin = performance.now();
const pending: Promise<Probe>[] = [];
while (performance.now() < until) {
  const atMs = performance.now() - origin;
  pending.push(probeOnce(url).then((answer) => ({ atMs, ...answer })));
  await new Promise((resolve) => setTimeout(resolve, everyMs));
}
process.send?.({ type: 'probes', probes: await Promise.all(pending) });

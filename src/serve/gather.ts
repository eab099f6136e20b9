import cluster, { type Worker } from 'node:cluster';

// One question put to every worker of a node:cluster group, through the primary: "what are your
// A/B counts?" is answered by all of them, whichever worker the client reached.

const REQUEST = 'serve:gather-request';
const COLLECT = 'serve:gather-collect';
const PART = 'serve:gather-part';
const RESULT = 'serve:gather-result';
/** A worker that has not answered by then is left out rather than holding the answer. */
const TIMEOUT_MS = 3000;

type GatherMessage = { type: typeof REQUEST; kind: string; id: number; payload?: unknown; timeoutMs?: number } |
  { type: typeof COLLECT; kind: string; id: string; payload?: unknown } | { type: typeof PART; id: string;
    part: unknown } | { type: typeof RESULT; id: number; parts: unknown[] };

const answerers = new Map<string, (payload: unknown) => unknown>();
let listening = false;
let nextId = 0;

/**
 * In a cluster worker: answers the primary's collection of `kind` with `collect(payload)`, or
 * what its promise resolves to (a reload takes a while).
 */
export function answerGather(kind: string, collect: (payload: unknown) => unknown): void {
  answerers.set(kind, collect);
  if (listening) return;
  listening = true;
  process.on('message', (message: GatherMessage) => {
    if (message?.type !== COLLECT) return;
    const answer = answerers.get(message.kind);
    void Promise.resolve(answer ? answer(message.payload) : null).then(
      (part) => process.send?.({ type: PART, id: message.id, part } satisfies GatherMessage),
      (error: Error) => process.send?.({ type: PART, id: message.id, part: { error: error.message } }),
    );
  });
}

/**
 * In a cluster worker: sends the primary `request` (built around a fresh id) and resolves with
 * the value `reply` finds in the first message it recognises; rejects after `timeoutMs`.
 *
 * @example
 *   const parts = await askPrimary('metrics', (id) => ({ type: 'q', id }),
 *     (m) => (m.type === 'a' && m.id === id ? m.text : undefined));
 */
export function askPrimary<T>(what: string, request: (id: number) => object,
  reply: (message: { type?: string; id?: unknown } & Record<string, unknown>, id: number) => T | undefined,
  timeoutMs = TIMEOUT_MS * 2): Promise<T> {
  if (!process.send) return Promise.reject(new Error(`${what}: only a cluster worker can ask the primary`));
  const id = nextId++;
  return new Promise((resolve, reject) => {
    const timeout = setTimeout(() => finish(() => reject(new Error(`${what}: the cluster primary did not answer`))),
      timeoutMs);
    const finish = (settle: () => void) => {
      clearTimeout(timeout);
      process.off('message', listen);
      settle();
    };
    const listen = (message: { type?: string; id?: unknown } & Record<string, unknown>) => {
      const value = message && typeof message === 'object' ? reply(message, id) : undefined;
      if (value !== undefined) finish(() => resolve(value));
    };
    process.on('message', listen);
    process.send!(request(id));
  });
}

/**
 * In a cluster worker: every worker's answer to `kind` (given `payload`), this one's included; a
 * worker that has not answered within `timeoutMs` is left out.
 */
export function gather(kind: string, payload?: unknown, timeoutMs = TIMEOUT_MS): Promise<unknown[]> {
  return askPrimary(kind, (id) => ({ type: REQUEST, kind, id, payload, timeoutMs } satisfies GatherMessage),
    (message,
      id) => (message.type === RESULT && message.id === id ?
        (message as GatherMessage & { parts: unknown[] }).parts :
        undefined), timeoutMs * 2);
}

/** In the primary: fans each worker's request out to all workers and sends back what they answered. */
export function serveClusterGather(): void {
  let round = 0;
  cluster.on('message', (asker: Worker, message: GatherMessage) => {
    if (message?.type !== REQUEST) return;
    const workers = Object.values(cluster.workers ?? {}).filter((w): w is Worker => w !== undefined && w.isConnected());
    const id = `${round++}`;
    const parts: unknown[] = [];
    let pending = workers.length;
    const done = () => {
      clearTimeout(timer);
      cluster.off('message', collect);
      if (asker.isConnected()) asker.send({ type: RESULT, id: message.id, parts } satisfies GatherMessage);
    };
    const collect = (_worker: Worker, reply: GatherMessage) => {
      if (reply?.type !== PART || reply.id !== id) return;
      if (reply.part !== null) parts.push(reply.part);
      if (--pending === 0) done();
    };
    const timer = setTimeout(done, message.timeoutMs ?? TIMEOUT_MS);
    cluster.on('message', collect);
    for (const worker of workers) {
      worker.send({ type: COLLECT, kind: message.kind, id, payload: message.payload } satisfies GatherMessage);
    }
    if (workers.length === 0) done();
  });
}

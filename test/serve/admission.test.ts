import { once } from 'node:events';
import { Agent, request, type Server } from 'node:http';
import { type AddressInfo, connect } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { admissionServer, arrivedWhileDraining, type Refusal } from '../../src/serve/connections/admission.js';
import { TurnBudget } from '../../src/serve/connections/turn-budget.js';

/** A GET on a fresh keep-alive connection (so a Connection: close is the server's): status, that header, body. */
function get(port: number, path: string): Promise<{ status: number; connection?: string; body: string }> {
  const agent = new Agent({ keepAlive: true });
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, agent }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => {
        agent.destroy();
        resolve({ status: res.statusCode ?? 0, connection: res.headers.connection, body });
      });
    });
    req.on('error', reject);
    req.end();
  });
}

/**
 * An admission server that answers each request after `delayMs`, counting requests in flight
 * into `counter.inflight`; resolves with its port.
 */
async function delayedServer(delayMs: number, counter: { inflight: number }): Promise<number> {
  server = admissionServer({
    maxConnections: 100, deadlineMs: 60_000, maxBodyBytes: 1 << 20, isDraining: () => false,
    budget: new TurnBudget({ perTurn: 64, maxWaiting: 100, acceptFirstMs: 0 }),
    inflight: { begin: () => counter.inflight++, end: () => counter.inflight-- },
  })({}, (req, res) => setTimeout(() => res.end(`answer to ${req.url}`), delayMs));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return (server.address() as AddressInfo).port;
}

/** Raw bytes on one connection; resolves with everything the server sent once it closes. */
function exchange(port: number, bytes: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.write(bytes));
    let received = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => (received += chunk));
    socket.on('error', reject);
    socket.on('close', () => resolve(received));
  });
}

/** Polls until nothing is in flight, for at most 2 s. */
async function settled(counter: { inflight: number }): Promise<void> {
  for (let waited = 0; counter.inflight > 0 && waited < 2000; waited += 5) await new Promise((r) => setTimeout(r, 5));
}

/**
 * An admission server (body limit 1000 bytes) whose first request takes the only turn's budget and
 * is never answered, and whose waiting room holds none: every later request is refused ('full').
 */
async function refusingServer(deadlineMs: number): Promise<number> {
  let started = 0;
  server = admissionServer({
    maxConnections: 100, deadlineMs, maxBodyBytes: 1000, isDraining: () => false,
    budget: new TurnBudget({ perTurn: 1, maxWaiting: 0, defer: () => {} }),
    inflight: { begin: () => {}, end: () => {} },
  })({}, () => void started++);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  void get(port, '/held').catch(() => {});
  while (started === 0) await new Promise((r) => setTimeout(r, 5));
  return port;
}

let server: Server | undefined;
afterEach(async () => {
  server?.closeAllConnections();
  server?.close();
  server = undefined;
});

describe('admission with a turn budget', () => {
  it('counts a waiting request in flight until answered, and serves it after a drain begins if it came before',
    async () => {
      const turns: (() => void)[] = [];
      const budget = new TurnBudget({ perTurn: 1, maxWaiting: 10, defer: (run) => turns.push(run) });
      let draining = false;
      let inflight = 0;
      const refused: Refusal[] = [];
      const create = admissionServer({
        maxConnections: 100, deadlineMs: 60_000, maxBodyBytes: 1 << 20, budget, isDraining: () => draining,
        inflight: { begin: () => inflight++, end: () => inflight-- }, onRefuse: (reason) => refused.push(reason),
      });
      server = create({}, (req, res) => res.end(JSON.stringify({ draining: arrivedWhileDraining(req) })));
      server.listen(0, '127.0.0.1');
      await once(server, 'listening');
      const { port } = server.address() as AddressInfo;

      const answers = [get(port, '/a'), get(port, '/b'), get(port, '/c')];
      // One starts in its turn; the other two wait, and count in flight meanwhile.
      while (budget.depth < 2) await new Promise((r) => setTimeout(r, 5));
      expect(inflight).toBeGreaterThanOrEqual(2);
      draining = true;
      while (budget.depth > 0) {
        turns.splice(0).forEach((run) => run());
        await new Promise((r) => setTimeout(r, 5));
      }
      const served = await Promise.all(answers);
      expect(served.map((a) => [a.status, JSON.parse(a.body).draining]))
        .toEqual([[200, false], [200, false], [200, false]]);
      // The two that started after the drain began are told to reconnect elsewhere.
      expect(served.filter((a) => a.connection === 'close')).toHaveLength(2);
      while (inflight > 0) await new Promise((r) => setTimeout(r, 5));

      turns.splice(0).forEach((run) => run()); // a new turn: the budget renews
      const late = await get(port, '/d');
      expect(JSON.parse(late.body).draining).toBe(true);
      expect(late.connection).toBe('close');
      expect(refused).toEqual([]);
    });

  it('answers 503 with Retry-After past maxWaiting, and counts the refusal', async () => {
    const budget = new TurnBudget({ perTurn: 1, maxWaiting: 1, defer: () => {} });
    const refused: Refusal[] = [];
    let inflight = 0;
    server = admissionServer({
      maxConnections: 100, deadlineMs: 60_000, maxBodyBytes: 1 << 20, budget, isDraining: () => false,
      inflight: { begin: () => inflight++, end: () => inflight-- }, onRefuse: (reason) => refused.push(reason),
    })({}, () => {}); // the started request is never answered: it holds the turn's budget
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const { port } = server.address() as AddressInfo;
    void get(port, '/held').catch(() => {});
    void get(port, '/waits').catch(() => {});
    while (budget.depth < 1) await new Promise((r) => setTimeout(r, 5));
    const third = await get(port, '/refused');
    expect(third.status).toBe(503);
    expect(third.connection).toBe('keep-alive'); // a reconnect would queue behind every accept
    expect(JSON.parse(third.body)).toMatchObject({ error: 'overloaded: too many requests waiting to start' });
    expect(refused).toEqual(['waiting']);
    expect(inflight).toBe(2); // the held one and the waiting one; the refused one is not in flight
  });

  it('answers a request the queue would keep past its deadline 503 as it arrives, keeps its connection, ' +
    'and serves the next request on it (its unread body discarded)', async () => {
    const turns: (() => void)[] = [];
    // A deadline long enough that no request goes stale however slowly this machine runs the test.
    // A stopped clock: the means must not be forgotten however slowly this machine runs the test.
    const budget = new TurnBudget({ perTurn: 1, maxWaiting: 10, deadlineMs: 2000, defer: (run) => turns.push(run),
      now: () => 0 });
    for (let i = 0; i < 100; i++) budget.served(4000); // answers have been taking ~4 s
    let block = true;
    const reasons: Refusal[] = [];
    server = admissionServer({
      maxConnections: 100, deadlineMs: 2000, maxBodyBytes: 1 << 20, budget, isDraining: () => false,
      inflight: { begin: () => {}, end: () => {} }, onRefuse: (reason) => reasons.push(reason),
    })({}, (req, res) => (block ? undefined : req.resume().on('end', () => res.end('served'))));
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const { port } = server.address() as AddressInfo;
    void get(port, '/held').catch(() => {}); // starts and spends this turn's budget: the turn never ends
    while (turns.length === 0) await new Promise((r) => setTimeout(r, 5));
    void get(port, '/waiting').catch(() => {}); // nothing ahead of it: it waits for the next turn
    while (budget.depth === 0) await new Promise((r) => setTimeout(r, 5));
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const post = (body: string) => new Promise<{ status: number; text: string; reused: boolean;
      retryAfter?: string }>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port, path: '/p', method: 'POST', agent }, (res) => {
        let text = '';
        res.setEncoding('utf8').on('data', (chunk: string) => (text += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text, reused: req.reusedSocket,
          retryAfter: res.headers['retry-after'] as string | undefined }));
      });
      req.on('error', reject);
      req.end(body);
    });
    const refused = await post('x'.repeat(10_000));
    expect(refused.status).toBe(503);
    expect(refused.retryAfter).toBe('1');
    expect(JSON.parse(refused.text)).toMatchObject({ details: { deadlineMs: 2000 } });
    expect(reasons).toEqual(['late']); // counted apart from the 504s of requests that waited past it
    block = false;
    for (let i = 0; i < 100; i++) budget.served(0); // answers are fast again: the next request waits its turn
    let answered = false;
    const next = post('y').finally(() => (answered = true));
    while (!answered) { // turns end one by one: /waiting, then this request, start
      turns.splice(0).forEach((run) => run());
      await new Promise((r) => setTimeout(r, 5));
    }
    agent.destroy();
    expect(await next).toMatchObject({ status: 200, text: 'served', reused: true });
  });

  it('gives a refused request whose body stops arriving no second answer: its kept connection closes', async () => {
    const port = await refusingServer(100);
    const answer = await exchange(port, 'POST /p HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nab');
    expect(answer).toMatch(/^HTTP\/1\.1 503 /);
    expect(answer.match(/HTTP\/1\.1 \d{3}/g)).toHaveLength(1); // no 408 after the 503 when the timeout fires
  });

  it('closes the connection of a refused request whose body it would not read (too long, chunked), or that asked ' +
    'to close', async () => {
    const port = await refusingServer(60_000);
    const framings = ['Content-Length: 2000', 'Transfer-Encoding: chunked', 'Content-Length: 0\r\nConnection: close'];
    for (const framing of framings) {
      const answer = await exchange(port, `POST /p HTTP/1.1\r\nHost: x\r\n${framing}\r\n\r\n`);
      expect(answer, framing).toMatch(/^HTTP\/1\.1 503[^]*\r\nConnection: close\r\n/);
    }
  });

  it('refuses an Expect: 100-continue request without sending 100 Continue first, and closes its connection',
    async () => {
      const port = await refusingServer(60_000);
      const answer = await exchange(port,
        'POST /p HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\nExpect: 100-continue\r\n\r\n');
      expect(answer).toMatch(/^HTTP\/1\.1 503 [^]*\r\nConnection: close\r\n/);
      expect(answer).not.toMatch(/100 Continue/i);
    });

  it('answers a request whose body waits in the queue past Node\'s request timeout as the queue would: 504, ' +
    'counted as a deadline refusal, not a 408 blamed on the client', async () => {
    const reasons: Refusal[] = [];
    const connectionAnswers: number[] = [];
    server = admissionServer({
      maxConnections: 100, deadlineMs: 300, maxBodyBytes: 1000, isDraining: () => false,
      // Turns never end: the first request starts and is never answered, the next waits for good.
      budget: new TurnBudget({ perTurn: 1, maxWaiting: 10, defer: () => {} }),
      inflight: { begin: () => {}, end: () => {} }, onRefuse: (reason) => reasons.push(reason),
      onConnectionAnswer: (status) => connectionAnswers.push(status),
    })({}, () => {});
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const { port } = server.address() as AddressInfo;
    void get(port, '/held').catch(() => {});
    await new Promise((r) => setTimeout(r, 50));
    const answer = await exchange(port,
      'POST /p HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\nExpect: 100-continue\r\n\r\n');
    expect(answer).toMatch(/^HTTP\/1\.1 504 [^]*\r\nConnection: close\r\n[^]*"deadline exceeded"/);
    expect(reasons).toEqual(['deadline']);
    expect(connectionAnswers).toEqual([]);
  });

  it('sends 100 Continue to a queued Expect: 100-continue request when it starts, then reads its body', async () => {
    const turns: (() => void)[] = [];
    server = admissionServer({
      maxConnections: 100, deadlineMs: 60_000, maxBodyBytes: 1000, isDraining: () => false,
      budget: new TurnBudget({ perTurn: 1, maxWaiting: 10, defer: (run) => turns.push(run) }),
      inflight: { begin: () => {}, end: () => {} },
    })({}, (req, res) => {
      let body = '';
      req.setEncoding('utf8').on('data', (chunk: string) => (body += chunk));
      req.on('end', () => res.end(`read ${body}`));
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const { port } = server.address() as AddressInfo;
    void get(port, '/first').catch(() => {}); // spends this turn's one start
    while (turns.length === 0) await new Promise((r) => setTimeout(r, 5));
    const socket = connect(port, '127.0.0.1', () => socket.write('POST /p HTTP/1.1\r\nHost: x\r\n' +
      'Content-Length: 5\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n'));
    let received = '';
    socket.setEncoding('utf8').on('data', (chunk: string) => {
      received += chunk;
      if (/^HTTP\/1\.1 100 Continue\r\n\r\n$/.test(received)) socket.write('hello');
    });
    const closed = once(socket, 'close');
    await new Promise((r) => setTimeout(r, 100));
    expect(received).toBe(''); // queued: no 100 yet
    while (!received.includes('read hello')) { // turns end one by one until it starts
      turns.splice(0).forEach((run) => run());
      await new Promise((r) => setTimeout(r, 5));
    }
    await closed;
    expect(received).toMatch(/^HTTP\/1\.1 100 Continue\r\n\r\nHTTP\/1\.1 200 OK[^]*read hello$/);
  });

  it('holds a request that arrives in a turn which accepted a connection until a turn that accepted none', async () => {
    const turns: (() => void)[] = [];
    const budget = new TurnBudget({ perTurn: 4, maxWaiting: 10, acceptFirstMs: 60_000, defer: (run) => turns.push(run),
      now: () => 0 });
    server = admissionServer({
      maxConnections: 100, deadlineMs: 60_000, maxBodyBytes: 1 << 20, budget, isDraining: () => false,
      inflight: { begin: () => {}, end: () => {} },
    })({}, (_req, res) => res.end('served'));
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const { port } = server.address() as AddressInfo;
    // The test owns the turns: until it ends one, the turn that accepted this connection goes on.
    const answer = get(port, '/burst');
    for (let waited = 0; budget.depth < 1 && waited < 2000; waited += 5) await new Promise((r) => setTimeout(r, 5));
    expect(budget.depth).toBe(1); // held: it came in the turn that accepted its connection
    turns.splice(0).forEach((run) => run()); // the accepting turn ends: still held
    expect(budget.depth).toBe(1);
    turns.splice(0).forEach((run) => run()); // a turn with no new connection: it starts
    expect(budget.depth).toBe(0);
    expect((await answer).body).toBe('served');
  });

  it('answers pipelined requests before a malformed one behind them, then the error; none stays in flight',
    async () => {
      const counter = { inflight: 0 };
      const port = await delayedServer(30, counter);
      const get = (path: string) => `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`;
      const text = await exchange(port, get('/a') + get('/b') + 'GARBAGE / HTTP/1.1\r\n\r\n');
      expect(text.match(/HTTP\/1\.1 \d{3}/g)).toEqual(['HTTP/1.1 200', 'HTTP/1.1 200', 'HTTP/1.1 400']);
      expect(text.indexOf('answer to /a')).toBeLessThan(text.indexOf('answer to /b'));
      expect(text).toMatch(/\{"error":"malformed HTTP request"/);
      await settled(counter);
      expect(counter.inflight).toBe(0);
    });

  it('closes the connection after an answer sent once a drain has begun, though its request came before', async () => {
    let draining = false;
    server = admissionServer({
      maxConnections: 100, deadlineMs: 60_000, maxBodyBytes: 1 << 20, isDraining: () => draining,
      budget: new TurnBudget({ perTurn: 64, maxWaiting: 10, acceptFirstMs: 0 }),
      inflight: { begin: () => {}, end: () => {} },
    })({}, (_req, res) => {
      draining = true; // the drain begins while this request is in the app
      res.writeHead(200, { 'Content-Type': 'text/plain' });
      res.end('done');
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const { port } = server.address() as AddressInfo;
    expect(await get(port, '/in-flight')).toMatchObject({ status: 200, connection: 'close', body: 'done' });
  });

  it('answers 30 requests pipelined on one connection with one close listener, none left in flight', async () => {
    const counter = { inflight: 0 };
    const warnings: string[] = [];
    const onWarning = (warning: Error) => warnings.push(warning.name);
    process.on('warning', onWarning);
    try {
      const port = await delayedServer(5, counter);
      const requests = Array.from({ length: 30 }, (_, i) =>
        `GET /${i} HTTP/1.1\r\nHost: 127.0.0.1\r\n${i === 29 ? 'Connection: close\r\n' : ''}\r\n`).join('');
      expect((await exchange(port, requests)).match(/HTTP\/1\.1 200/g)).toHaveLength(30);
      await settled(counter);
      expect(counter.inflight).toBe(0);
      await new Promise((r) => setImmediate(r)); // warnings are emitted on the next tick
      expect(warnings).not.toContain('MaxListenersExceededWarning');
    } finally {
      process.off('warning', onWarning);
    }
  });
});

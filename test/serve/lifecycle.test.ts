import { once } from 'node:events';
import { type AddressInfo, connect, createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { Lifecycle } from '../../src/serve/lifecycle.js';

describe('Lifecycle', () => {
  it('is ready once marked, and not while draining', () => {
    const lifecycle = new Lifecycle();
    expect(lifecycle.isReady).toBe(false);
    lifecycle.markReady();
    expect(lifecycle.isReady).toBe(true);
    void lifecycle.drain(10);
    expect(lifecycle.isReady).toBe(false);
    expect(lifecycle.isDraining).toBe(true);
  });

  it('drain resolves true once the requests in flight end', async () => {
    const lifecycle = new Lifecycle();
    lifecycle.begin();
    lifecycle.begin();
    let done: boolean | undefined;
    const draining = lifecycle.drain(5000).then((clean) => (done = clean));
    lifecycle.end();
    await new Promise((r) => setTimeout(r, 5));
    expect(done).toBeUndefined();
    lifecycle.end();
    expect(await draining).toBe(true);
  });

  it('drain gives up after its timeout and says so', async () => {
    const lifecycle = new Lifecycle();
    lifecycle.begin();
    expect(await lifecycle.drain(20)).toBe(false);
  });

  it('is quiet once nothing is in flight and no request began for quietMs, or says not at the deadline', async () => {
    const lifecycle = new Lifecycle();
    lifecycle.begin();
    lifecycle.end();
    const started = performance.now();
    expect(await lifecycle.quiet(60, started + 5000)).toBe(true);
    expect(performance.now() - started).toBeGreaterThanOrEqual(50); // the last request began just now
    lifecycle.begin(); // one that never ends
    expect(await lifecycle.quiet(10, performance.now() + 40)).toBe(false);
  });

  it('is not quiet after a stall until the connections that queued during it have been accepted', async () => {
    const lifecycle = new Lifecycle();
    let acceptedAt = Infinity;
    const listener = createServer((socket) => {
      acceptedAt = performance.now();
      lifecycle.connectionAccepted();
      socket.destroy();
    });
    listener.listen(0, '127.0.0.1');
    await once(listener, 'listening');
    const client = connect((listener.address() as AddressInfo).port, '127.0.0.1').on('error', () => {});
    // The process stalls while the kernel queues the connection: nothing has been accepted yet.
    const until = performance.now() + 50;
    while (performance.now() < until) { /* busy: the loop cannot poll */ }
    const quietAt = await lifecycle.quiet(30, performance.now() + 5000).then(() => performance.now());
    client.destroy();
    listener.close();
    expect(acceptedAt).toBeLessThan(Infinity);
    expect(quietAt - acceptedAt).toBeGreaterThanOrEqual(30); // quiet counted from the accept, not before it
  });
});

import { HTTPException } from 'hono/http-exception';
import { describe, expect, it } from 'vitest';
import { Batcher, type BatcherOptions, ItemFailure } from '../../src/serve/runtime/batcher.js';

const OPTIONS: BatcherOptions = { maxBatchSize: 8, maxQueueDelayMs: 20, maxQueueSize: 4 };
const far = () => performance.now() + 60_000;

/** A batcher over numbers that doubles them and records each batch it ran. */
function doubler(options: Partial<BatcherOptions> = {}, delayMs = 0) {
  const batches: number[][] = [];
  const depths: number[] = [];
  const batcher = new Batcher<number[], number[]>('test', async (items) => {
    batches.push(items.flat());
    if (delayMs) await new Promise((r) => setTimeout(r, delayMs));
    return items.map((item) => item.map((v) => v * 2));
  }, (item) => item.length, { ...OPTIONS, ...options }, { onDepth: (d) => depths.push(d) });
  return { batcher, batches, depths };
}

const statusOf = async (promise: Promise<unknown>) =>
  promise.then(() => 200, (error) => (error instanceof HTTPException ? error.status : -1));

describe('Batcher', () => {
  it('merges requests that arrive within the delay into one call and splits the answers back', async () => {
    const { batcher, batches } = doubler();
    const answers = await Promise.all([batcher.submit([1, 2], far()), batcher.submit([3], far()),
      batcher.submit([4, 5, 6], far())]);
    expect(answers).toEqual([[2, 4], [6], [8, 10, 12]]);
    expect(batches).toEqual([[1, 2, 3, 4, 5, 6]]);
  });

  it('runs at once when maxBatchSize rows are waiting, and never splits a request', async () => {
    // The delay outlasts the test's timeout: only a flush on size can answer in time.
    const { batcher, batches } = doubler({ maxQueueDelayMs: 10_000, maxBatchSize: 4 });
    await Promise.all([batcher.submit([1, 2, 3], far()), batcher.submit([4, 5], far()), batcher.submit([6, 7], far())]);
    expect(batches).toEqual([[1, 2, 3], [4, 5, 6, 7]]);
  }, 5000);

  it('runs a request larger than maxBatchSize alone rather than never', async () => {
    const { batcher, batches } = doubler({ maxBatchSize: 2 });
    expect(await batcher.submit([1, 2, 3], far())).toEqual([2, 4, 6]);
    expect(batches).toEqual([[1, 2, 3]]);
  });

  it('answers 503 with Retry-After at once when the queue is full', async () => {
    const { batcher } = doubler({ maxQueueSize: 2, maxQueueDelayMs: 50 });
    const queued = [batcher.submit([1], far()), batcher.submit([2], far())];
    let error: unknown;
    try {
      void batcher.submit([3], far());
    } catch (thrown) {
      error = thrown;
    }
    expect(error).toBeInstanceOf(HTTPException);
    expect((error as HTTPException).status).toBe(503);
    expect(((error as HTTPException).cause as { headers: Record<string, string> }).headers['Retry-After']).toBe('1');
    expect(await Promise.all(queued)).toEqual([[2], [4]]);
  });

  it('answers 503 at once when the work ahead would not ' +
    'finish before the deadline, from recent batch times', async () => {
    const { batcher } = doubler({ maxQueueDelayMs: 0, maxBatchSize: 1 }, 60);
    await batcher.submit([1], far()); // one 60 ms batch teaches the batcher its speed
    const ahead = [batcher.submit([2], far()), batcher.submit([3], far()), batcher.submit([4], far())];
    expect(batcher.expectedWaitMs).toBeGreaterThanOrEqual(150);
    let error: unknown;
    try {
      void batcher.submit([5], performance.now() + 100);
    } catch (thrown) {
      error = thrown;
    }
    expect(error).toBeInstanceOf(HTTPException);
    expect((error as HTTPException).status).toBe(503);
    expect((error as HTTPException).message).toMatch(/would not finish before the deadline/);
    // A deadline the queue can meet is admitted.
    expect(await batcher.submit([6], performance.now() + 5000)).toEqual([12]);
    expect(await Promise.all(ahead)).toEqual([[4], [6], [8]]);
  });

  it('answers 408, not 503, when nothing is ahead and the deadline left cannot fit the request\'s own batch',
    async () => {
      const { batcher } = doubler({ maxQueueDelayMs: 0, maxBatchSize: 1 }, 60);
      await batcher.submit([1], far()); // one 60 ms batch teaches the batcher its speed
      expect(batcher.expectedWaitMs).toBe(0);
      let error: unknown;
      try {
        void batcher.submit([2], performance.now() + 20); // a request that took its deadline to arrive
      } catch (thrown) {
        error = thrown;
      }
      expect((error as HTTPException).status).toBe(408);
      expect((error as HTTPException).message).toMatch(/arrived too late/);
    });

  it('answers 504 past the deadline, and drops the request from the queue unrun', async () => {
    const { batcher, batches, depths } = doubler({ maxQueueDelayMs: 100 });
    const late = batcher.submit([1], performance.now() + 10);
    const onTime = batcher.submit([2], far());
    expect(await statusOf(late)).toBe(504);
    expect(depths.at(-1)).toBe(1);
    expect(await onTime).toEqual([4]);
    expect(batches).toEqual([[2]]);
  });

  it('answers 504 when the batch outlives the deadline, and stays usable', async () => {
    const { batcher } = doubler({ maxQueueDelayMs: 0 }, 60);
    expect(await statusOf(batcher.submit([1], performance.now() + 20))).toBe(504);
    expect(await batcher.submit([2], far())).toEqual([4]);
  });

  it('fails every request of a batch whose run throws, then carries on', async () => {
    let fail = true;
    const batcher = new Batcher<number, number>('flaky', async (items) => {
      if (fail) throw new Error('kernel exploded');
      return items;
    }, () => 1, OPTIONS);
    const results = await Promise.allSettled([batcher.submit(1, far()), batcher.submit(2, far())]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    fail = false;
    expect(await batcher.submit(3, far())).toBe(3);
  });

  it('fails only the request whose output is an ItemFailure; its batch-mates get their answers', async () => {
    const batcher = new Batcher<number, number>('picky',
      async (items) => items.map((v) => (v < 0 ? new ItemFailure(new Error(`bad ${v}`)) : v * 10)), () => 1, OPTIONS);
    const results = await Promise.allSettled([batcher.submit(1, far()), batcher.submit(-2, far()),
      batcher.submit(3, far())]);
    expect(results.map((r) => (r.status === 'fulfilled' ? r.value : (r.reason as Error).message))).toEqual([10,
      'bad -2', 30]);
  });

  it('declines shadow work once the queue is half full, so it never causes a 503', async () => {
    const { batcher } = doubler({ maxQueueSize: 4, maxQueueDelayMs: 30 });
    const real = [batcher.submit([1], far()), batcher.submit([2], far())];
    expect(batcher.offer([3], far())).toBeUndefined();
    await Promise.all(real);
    expect(await batcher.offer([3], far())).toEqual([6]);
  });

  it('idle() resolves once nothing is queued or running', async () => {
    const { batcher } = doubler({}, 30);
    await batcher.idle();
    let done = false;
    const pending = batcher.submit([1], far()).then(() => {
      done = true;
    });
    await batcher.idle();
    expect(done).toBe(true);
    await pending;
  });
});

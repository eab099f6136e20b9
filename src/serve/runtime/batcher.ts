import { fail } from '../errors.js';

export interface BatcherOptions {
  maxBatchSize: number;
  maxQueueDelayMs: number;
  maxQueueSize: number;
}

export interface BatcherHooks {
  /** Rows in a batch about to run. */
  onBatch?: (rows: number) => void;
  /** Requests waiting, after every change. */
  onDepth?: (depth: number) => void;
  /** Seconds each request of a batch waited in the queue, as the batch starts. */
  onQueued?: (seconds: number) => void;
  /** Seconds a batch spent in the model (its run), once it finishes or fails. */
  onRun?: (seconds: number) => void;
}

/** One item's own failure inside a batch that otherwise ran: only that item's request fails. */
export class ItemFailure {
  constructor(readonly error: unknown) {}
}

/**
 * Runs one batch: one output per item, in order, or an ItemFailure for an item that failed alone.
 * Rejecting fails every item of the batch, so a runner that can tell whose fault a failure is
 * should answer per item instead.
 */
export type RunBatch<I, O> = (items: I[]) => Promise<(O | ItemFailure)[]>;

interface Entry<I, O> {
  item: I;
  rows: number;
  enqueuedAt: number;
  settled: boolean;
  timer?: NodeJS.Timeout;
  resolve: (value: O) => void;
  reject: (error: unknown) => void;
}

/**
 * Dynamic batching as Triton does it, per model: the first waiting request holds the queue open
 * for `maxQueueDelayMs`, or less if `maxBatchSize` rows are waiting; then everything that fits
 * runs as one call. One batch runs at a time, since tfjs's CPU kernels hold the thread anyway.
 *
 * @example
 *   const batcher = new Batcher(async (xs) => xs.map(double), (x) => 1, { maxBatchSize: 32, maxQueueDelayMs: 2,
 *     maxQueueSize: 100 });
 *   await batcher.submit(3, performance.now() + 1000); // 6
 */
export class Batcher<I, O> {
  private readonly queue: Entry<I, O>[] = [];
  private running = false;
  private timer: NodeJS.Timeout | undefined;
  private turn: NodeJS.Immediate | undefined;
  private idleWaiters: (() => void)[] = [];
  private queuedRows = 0;
  private runningRows = 0;
  /** Model time per row, a moving average over recent batches (0 until one has run). */
  private msPerRow = 0;

  constructor(private readonly name: string, private readonly run: RunBatch<I, O>,
    private readonly rowsOf: (item: I) => number, private readonly options: BatcherOptions,
    private readonly hooks: BatcherHooks = {}) {}

  get depth(): number {
    return this.queue.length;
  }

  /** How long work queued or running now should take to finish, from recent batches' speed. */
  get expectedWaitMs(): number {
    return (this.queuedRows + this.runningRows) * this.msPerRow;
  }

  /**
   * Queues `item`; rejects at once with 503 when the queue is full or when the rows ahead of it
   * would, at recent speed, not finish before `deadlineAt` (a performance.now() time), with 408
   * when nothing is ahead and it still would not (the request took its deadline to arrive), and
   * with 504 when the deadline passes before its batch finishes anyway.
   */
  submit(item: I, deadlineAt: number): Promise<O> {
    if (this.queue.length >= this.options.maxQueueSize) {
      // Retry-After: by then the queue has had at least one full flush cycle to drain.
      const retryAfter = String(Math.max(1, Math.ceil(this.options.maxQueueDelayMs / 1000)));
      fail(503, 'overloaded: the queue is full', { model: this.name, queued: this.queue.length,
        maxQueueSize: this.options.maxQueueSize }, { 'Retry-After': retryAfter });
    }
    // Refused now, the client can retry elsewhere at once; admitted, it would only wait to get a 504.
    const rows = this.rowsOf(item);
    const expectedMs = this.expectedWaitMs + rows * this.msPerRow;
    if (performance.now() + expectedMs > deadlineAt) {
      // With nothing ahead of it, the time is gone because the request itself came slowly: no overload.
      if (this.expectedWaitMs === 0) {
        fail(408, 'request arrived too late to be answered within the deadline', { model: this.name,
          leftMs: Math.max(0, Math.round(deadlineAt - performance.now())), neededMs: Math.round(expectedMs) });
      }
      fail(503, 'overloaded: the work queued ahead would not finish before the deadline', { model: this.name,
        queued: this.queue.length, expectedWaitMs: Math.round(expectedMs) }, {
        'Retry-After': String(Math.max(1, Math.ceil(expectedMs / 1000))),
      });
    }
    return this.enqueue(item, rows, deadlineAt);
  }

  /**
   * Queues work nobody waits on (shadow traffic) only while the queue is under half full, so it
   * can never be the reason a real request gets 503. Returns undefined when it declined.
   */
  offer(item: I, deadlineAt: number): Promise<O> | undefined {
    if (this.queue.length * 2 >= this.options.maxQueueSize) return undefined;
    return this.enqueue(item, this.rowsOf(item), deadlineAt);
  }

  /** Resolves once nothing is queued or running: after a reload the old models are freed then. */
  idle(): Promise<void> {
    if (!this.running && this.queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private enqueue(item: I, rows: number, deadlineAt: number): Promise<O> {
    return new Promise<O>((resolve, reject) => {
      const entry: Entry<I, O> = { item, rows, enqueuedAt: performance.now(), settled: false, resolve, reject };
      const remaining = Math.max(0, deadlineAt - entry.enqueuedAt);
      entry.timer = setTimeout(() => this.expire(entry), remaining);
      this.queue.push(entry);
      this.queuedRows += entry.rows;
      this.hooks.onDepth?.(this.queue.length);
      this.schedule();
    });
  }

  private expire(entry: Entry<I, O>): void {
    const at = this.queue.indexOf(entry);
    if (at >= 0) {
      this.queue.splice(at, 1);
      this.queuedRows -= entry.rows;
      this.hooks.onDepth?.(this.queue.length);
    }
    // A running batch cannot be interrupted (its kernels are synchronous); its answer is dropped.
    this.settle(entry,
      () =>
        fail(504, 'deadline exceeded', { model: this.name,
          waitedMs: Math.round(performance.now() - entry.enqueuedAt) }));
  }

  private settle(entry: Entry<I, O>, outcome: () => O): void {
    if (entry.settled) return;
    entry.settled = true;
    clearTimeout(entry.timer);
    try {
      entry.resolve(outcome());
    } catch (error) {
      entry.reject(error);
    }
  }

  private schedule(): void {
    if (this.running || this.queue.length === 0) return;
    const rows = this.queue.reduce((sum, entry) => sum + entry.rows, 0);
    const waited = performance.now() - this.queue[0].enqueuedAt;
    const delay = this.options.maxQueueDelayMs;
    if (rows >= this.options.maxBatchSize || (delay > 0 && waited >= delay)) {
      clearTimeout(this.timer);
      this.timer = undefined;
      void this.flush();
    } else if (delay === 0) {
      // No added delay, but one turn of the event loop: the model runs synchronously, so requests
      // that arrived meanwhile are still unparsed in their sockets; setImmediate runs after the
      // I/O phase has queued them all, so a loaded server still batches and an idle one waits µs.
      this.turn ??= setImmediate(() => {
        this.turn = undefined;
        if (!this.running && this.queue.length > 0) void this.flush();
      });
    } else if (!this.timer) {
      this.timer = setTimeout(() => {
        this.timer = undefined;
        this.schedule();
      }, this.options.maxQueueDelayMs - waited);
    }
  }

  private timed(rows: number, ms: number): void {
    this.hooks.onRun?.(ms / 1000);
    this.runningRows = 0;
    // Small batches overstate the time per row (each run has a fixed cost), so the estimate errs
    // towards refusing early, which is the side a deadline can afford.
    this.msPerRow = this.msPerRow === 0 ? ms / rows : 0.8 * this.msPerRow + 0.2 * (ms / rows);
  }

  private async flush(): Promise<void> {
    const batch: Entry<I, O>[] = [];
    let rows = 0;
    // FIFO, at least one request: one larger than maxBatchSize runs alone rather than never.
    while (this.queue.length > 0 && (batch.length === 0 || rows + this.queue[0].rows <= this.options.maxBatchSize)) {
      const entry = this.queue.shift() as Entry<I, O>;
      batch.push(entry);
      rows += entry.rows;
    }
    this.queuedRows -= rows;
    this.runningRows = rows;
    this.hooks.onDepth?.(this.queue.length);
    this.running = true;
    this.hooks.onBatch?.(rows);
    const startedAt = performance.now();
    for (const entry of batch) this.hooks.onQueued?.((startedAt - entry.enqueuedAt) / 1000);
    try {
      const outputs = await this.run(batch.map((entry) => entry.item)).finally(() =>
        this.timed(rows, performance.now() - startedAt)
      );
      batch.forEach((entry, i) =>
        this.settle(entry, () => {
          const output = outputs[i];
          if (output instanceof ItemFailure) throw output.error;
          return output;
        })
      );
    } catch (error) {
      batch.forEach((entry) =>
        this.settle(entry, () => {
          throw error;
        })
      );
    } finally {
      this.running = false;
      this.schedule();
      if (!this.running && this.queue.length === 0) this.idleWaiters.splice(0).forEach((wake) => wake());
    }
  }
}

// How many requests one turn of the event loop may start.
//
// Why: libuv accepts one new connection per turn of the loop (libuv/libuv#3696), and without a
// bound a turn starts every request its sockets hold: at 512 busy connections the loop turned
// 7 times a second, so each connection opened then (a client's retry, a kubelet's probe) waited
// ~140 ms per connection queued ahead of it. Starting at most `perTurn` requests a turn and keeping
// the rest in arrival order makes turns short, so connections are accepted at tens a second, while
// the requests themselves are served in the same order and at the same total speed.
//
// A bound per turn is not enough for a burst: 512 connections opened at once take 512 turns to
// accept, and turns that each started a batch's worth of work (~25 ms under that load) kept a probe
// opened behind them waiting 0.5–3 s. So while every turn accepts a connection, turns start no
// more requests (for at most `acceptFirstMs`): such a turn costs ~0.2 ms (the socket, its parser,
// the request it brings), the burst is accepted in ~0.1 s, and then its requests start in arrival
// order. A flood of connections cannot stall requests: a streak that runs to its limit gives way
// to one turn of starts, and once three quarters of the waiting room are taken nothing is held.
// (A rest as long as the streak after each forced turn was tried: it left the tail of a
// 512-connection burst to long turns again, and probes behind it waited ~200 ms.)

/**
 * Past this share of `maxWaiting` taken, nothing is held: holding must not turn into 503s. Half was
 * tried first, and with the default 1,024 it stopped holding exactly as the 512 requests of a
 * 512-connection burst came in, leaving the burst's tail to long turns again.
 */
const HOLD_WHILE_WAITING_BELOW = 0.75;

/**
 * Weights of the newest turn length and the newest start-to-answer time in their running means:
 * turns come ~100 a second under load and answers thousands, so each mean spans a few tens of ms.
 */
const TURN_WEIGHT = 0.2;
const SERVICE_WEIGHT = 0.05;

/**
 * A running mean that forgets: after `forgetAfterMs` without a sample it reads 0 and the next
 * sample replaces it. Why: the means decide refusals, and refusals stop the samples (a request
 * refused is never answered), so a mean left high by a slow moment (a cold start, a burst of
 * poison rows) would otherwise refuse every queued request until the queue happened to empty.
 */
class RecentMean {
  private mean = 0;
  private lastAt = -Infinity;

  constructor(private readonly weight: number, private readonly forgetAfterMs: number,
    private readonly now: () => number) {}

  add(sample: number): void {
    const at = this.now();
    this.mean = this.forgotten(at) ? sample : this.mean + this.weight * (sample - this.mean);
    this.lastAt = at;
  }

  get value(): number {
    return this.forgotten(this.now()) ? 0 : this.mean;
  }

  private forgotten(at: number): boolean {
    return at - this.lastAt > this.forgetAfterMs;
  }
}

export interface TurnBudgetOptions {
  /** Requests started per turn of the event loop. */
  perTurn: number;
  /**
   * Body bytes the requests started in one turn may carry; a request larger alone starts in a turn
   * of its own. Unbounded when absent.
   */
  bytesPerTurn?: number;
  /** Requests kept waiting for a later turn; past it `refuse` answers them at once. */
  maxWaiting: number;
  /**
   * How long a streak of turns that each accept a connection may hold back starting requests;
   * 0 never holds. A turn that accepts nothing ends the streak, and so does one turn of starts
   * forced when it has lasted this long, and nothing is held once the waiting room is three
   * quarters full.
   */
  acceptFirstMs?: number;
  /** Defers to the end of the current turn (setImmediate); injectable so tests own the turns. */
  defer?: (run: () => void) => void;
  /** Milliseconds on a monotonic clock; injectable so tests own the time. */
  now?: () => number;
  /**
   * Every request's deadline from its arrival. When set, a request queued behind others whose
   * predicted time to its answer (from the recent turns' length and start-to-answer time) passes
   * the deadline is refused ('late') as it arrives: a fast 503 rather than a 504 after waiting the
   * deadline out.
   */
  deadlineMs?: number;
}

export interface Waiting {
  /**
   * The bytes of body it brings (its Content-Length, or the largest a body may be when unknown):
   * reading and parsing it is most of what starting it costs.
   */
  bytes: number;
  start: () => void;
  /**
   * Called instead of `start` when the request cannot be started: the queue is full, it would wait
   * past its deadline (late, `predictedMs` from its arrival), or it is stale.
   */
  refuse: (reason: 'full' | 'late' | 'stale', predictedMs?: number) => void;
  /**
   * Milliseconds left before its deadline, checked as the request leaves the queue: 0 or less is
   * stale (a client that left counts as 0). With less left than answers have been taking, it is
   * refused as late rather than started only to be refused or answered past the deadline.
   */
  leftMs: () => number;
}

export class TurnBudget {
  private readonly waiting: Waiting[] = [];
  private started = 0;
  private startedBytes = 0;
  /** The waiting requests' bytes, each counted up to a turn's (`turnBytes`). */
  private waitingBytes = 0;
  private endOfTurnScheduled = false;
  private acceptedThisTurn = false;
  /** When the current streak of accepting turns began; null when the last turn accepted nothing. */
  private acceptStreakSince: number | null = null;
  private readonly defer: (run: () => void) => void;
  private readonly now: () => number;
  /** When the last end of turn ran, if it scheduled the next (so the gap to it is one turn); else null. */
  private lastEndOfTurnAt: number | null = null;
  /**
   * Running means, each forgotten after a deadline without a sample: a turn's length while
   * requests wait, and a started request's time to its answer.
   */
  private readonly turnMs: RecentMean;
  private readonly serviceMs: RecentMean;

  private readonly bytesPerTurn: number;

  constructor(private readonly options: TurnBudgetOptions) {
    this.bytesPerTurn = options.bytesPerTurn ?? Infinity;
    this.defer = options.defer ?? ((run) => setImmediate(run));
    this.now = options.now ?? (() => performance.now());
    const forgetAfterMs = options.deadlineMs ?? Infinity;
    this.turnMs = new RecentMean(TURN_WEIGHT, forgetAfterMs, this.now);
    this.serviceMs = new RecentMean(SERVICE_WEIGHT, forgetAfterMs, this.now);
  }

  /** The server accepted a connection during this turn. */
  connectionAccepted(): void {
    if (!this.options.acceptFirstMs) return;
    this.acceptedThisTurn = true;
    this.acceptStreakSince ??= this.now();
    this.scheduleEndOfTurn();
  }

  /** Whether this turn leaves requests waiting so that the next turns come sooner, to accept. */
  private holding(): boolean {
    if (!this.acceptedThisTurn || this.acceptStreakSince === null) return false;
    return this.now() - this.acceptStreakSince < (this.options.acceptFirstMs ?? 0) &&
      this.waiting.length < this.options.maxWaiting * HOLD_WHILE_WAITING_BELOW;
  }

  get maxWaiting(): number {
    return this.options.maxWaiting;
  }

  /** Requests waiting for a later turn. */
  get depth(): number {
    return this.waiting.length;
  }

  /** A started request was answered `ms` after it started. */
  served(ms: number): void {
    this.serviceMs.add(ms);
  }

  /**
   * How long a request queued now would take from its arrival to its answer: the turns until the
   * `perTurn` ahead of it have started, then the recent start-to-answer time.
   */
  predictedMs(): number {
    const turnsAhead = Math.max(Math.floor(this.waiting.length / this.options.perTurn),
      Math.floor(this.waitingBytes / this.bytesPerTurn));
    return (turnsAhead + 1) * this.turnMs.value + this.serviceMs.value;
  }

  /** Whether this turn's budget, of requests and of their bytes, has room for one of `bytes`. */
  private roomFor(bytes: number): boolean {
    return this.started < this.options.perTurn &&
      (this.startedBytes === 0 || this.startedBytes + bytes <= this.bytesPerTurn);
  }

  /** A request's share of the turns ahead: one larger than a turn's bytes still takes one turn. */
  private turnBytes(request: Waiting): number {
    return Math.min(request.bytes, this.bytesPerTurn);
  }

  private startNow(request: Waiting): void {
    this.started++;
    this.startedBytes += request.bytes;
    request.start();
  }

  /** Starts `request` now if this turn's budget allows and nothing arrived before it, else queues it. */
  admit(request: Waiting): void {
    // Only behind others: a request with nothing ahead starts on the next turn, never refused as late.
    const predicted = this.waiting.length > 0 ? this.predictedMs() : 0;
    if (this.waiting.length === 0 && this.roomFor(request.bytes) && !this.holding()) {
      this.startNow(request);
    } else if (this.waiting.length >= this.options.maxWaiting) {
      request.refuse('full');
    } else if (predicted > (this.options.deadlineMs ?? Infinity)) {
      request.refuse('late', predicted);
    } else {
      this.waiting.push(request);
      this.waitingBytes += this.turnBytes(request);
    }
    this.scheduleEndOfTurn();
  }

  /**
   * Times the turn just ended, from the end of the one before, when it started requests: a turn
   * held for accepts starts none and takes ~0.2 ms, and counting it would make queues look fast.
   */
  private timeTurn(startedAny: boolean): void {
    const at = this.now();
    if (startedAny && this.lastEndOfTurnAt !== null) {
      this.turnMs.add(at - this.lastEndOfTurnAt);
    }
    this.lastEndOfTurnAt = at;
  }

  // At the end of each turn the budget renews and the oldest waiting requests start; what they
  // schedule in turn runs on the next one, after its I/O (and its one accept) has been polled.
  private scheduleEndOfTurn(): void {
    if (this.endOfTurnScheduled) return;
    this.endOfTurnScheduled = true;
    this.defer(() => {
      this.endOfTurnScheduled = false;
      this.started = 0;
      this.startedBytes = 0;
      const holding = this.holding();
      if (!holding) this.acceptStreakSince = null;
      this.acceptedThisTurn = false;
      try {
        while (!holding && this.waiting.length > 0 && this.roomFor(this.waiting[0].bytes)) {
          const request = this.waiting.shift() as Waiting;
          this.waitingBytes -= this.turnBytes(request);
          const leftMs = request.leftMs();
          if (leftMs <= 0) {
            request.refuse('stale');
            continue;
          }
          const serviceMs = this.serviceMs.value;
          if (this.options.deadlineMs !== undefined && leftMs < serviceMs) {
            // A refusal is an answer written: it spends the turn's budget as a start does, so a
            // turn that refuses hundreds does not keep new connections waiting.
            this.started++;
            request.refuse('late', this.options.deadlineMs - leftMs + serviceMs);
            continue;
          }
          this.startNow(request);
        }
      } finally {
        // Even if a start threw, what still waits gets the next turn rather than the next arrival;
        // after a held turn the next one must run too, to end the streak if it accepts nothing.
        this.timeTurn(this.started > 0);
        if (holding || this.started > 0 || this.waiting.length > 0) this.scheduleEndOfTurn();
        else this.lastEndOfTurnAt = null;
      }
    });
  }
}

// How many requests one turn of the event loop may start.
//
// Why: libuv accepts one new connection per turn of the loop (libuv/libuv#3696), and without a
// bound a turn starts every request its sockets hold: at 512 busy connections the loop turned
// 7 times a second, so each connection opened then (a client's retry, a kubelet's probe) waited
// ~140 ms per connection queued ahead of it. Starting at most `perTurn` requests a turn and keeping
// the rest in arrival order makes turns short, so connections are accepted at tens a second, while
// the requests themselves are served in the same order and at the same total speed.

export interface TurnBudgetOptions {
  /** Requests started per turn of the event loop. */
  perTurn: number;
  /** Requests kept waiting for a later turn; past it `refuse` answers them at once. */
  maxWaiting: number;
  /** Defers to the end of the current turn (setImmediate); injectable so tests own the turns. */
  defer?: (run: () => void) => void;
}

export interface Waiting {
  start: () => void;
  /** Called instead of `start` when the request cannot be started: the queue is full, or it is stale. */
  refuse: (reason: 'full' | 'stale') => void;
  /** Checked as the request leaves the queue: a client that left, or a deadline already past. */
  stale: () => boolean;
}

export class TurnBudget {
  private readonly waiting: Waiting[] = [];
  private started = 0;
  private endOfTurnScheduled = false;
  private readonly defer: (run: () => void) => void;

  constructor(private readonly options: TurnBudgetOptions) {
    this.defer = options.defer ?? ((run) => setImmediate(run));
  }

  get maxWaiting(): number {
    return this.options.maxWaiting;
  }

  /** Requests waiting for a later turn. */
  get depth(): number {
    return this.waiting.length;
  }

  /** Starts `request` now if this turn's budget allows and nothing arrived before it, else queues it. */
  admit(request: Waiting): void {
    if (this.waiting.length === 0 && this.started < this.options.perTurn) {
      this.started++;
      request.start();
    } else if (this.waiting.length >= this.options.maxWaiting) {
      request.refuse('full');
    } else {
      this.waiting.push(request);
    }
    this.scheduleEndOfTurn();
  }

  // At the end of each turn the budget renews and the oldest waiting requests start; what they
  // schedule in turn runs on the next one, after its I/O (and its one accept) has been polled.
  private scheduleEndOfTurn(): void {
    if (this.endOfTurnScheduled) return;
    this.endOfTurnScheduled = true;
    this.defer(() => {
      this.endOfTurnScheduled = false;
      this.started = 0;
      try {
        while (this.waiting.length > 0 && this.started < this.options.perTurn) {
          const request = this.waiting.shift() as Waiting;
          if (request.stale()) {
            request.refuse('stale');
            continue;
          }
          this.started++;
          request.start();
        }
      } finally {
        // Even if a start threw, what still waits gets the next turn rather than the next arrival.
        if (this.started > 0 || this.waiting.length > 0) this.scheduleEndOfTurn();
      }
    });
  }
}

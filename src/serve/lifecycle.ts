/**
 * Readiness and the requests in flight, for probes and for a graceful stop. Draining turns
 * readiness off first, so a load balancer stops sending, then waits for what is in flight.
 */
export class Lifecycle {
  private ready = false;
  private draining = false;
  private count = 0;
  private waiters: (() => void)[] = [];
  /** performance.now() of the last request that began or connection accepted, for the quiet period before close. */
  private lastActivity = -Infinity;

  get isReady(): boolean {
    return this.ready && !this.draining;
  }

  get isDraining(): boolean {
    return this.draining;
  }

  get inflight(): number {
    return this.count;
  }

  markReady(): void {
    this.ready = true;
  }

  begin(): void {
    this.count++;
    this.lastActivity = performance.now();
  }

  /** A connection was accepted: its request is on the way, so the listener is not yet quiet. */
  connectionAccepted(): void {
    this.lastActivity = performance.now();
  }

  end(): void {
    this.count--;
    if (this.count === 0) this.waiters.splice(0).forEach((wake) => wake());
  }

  /**
   * Resolves once no request has begun and no connection been accepted for `quietMs` and none is
   * in flight, or at `deadline` (performance.now()); true when quiet. Closing the listener before
   * then resets connections the kernel holds for it; waiting answers them 503 to retry elsewhere.
   * A timer that fires after the process stalled runs before the turn's poll has accepted what
   * queued meanwhile, so quiet is confirmed once more after a poll (setImmediate runs after it).
   */
  async quiet(quietMs: number, deadline: number): Promise<boolean> {
    const isQuiet = () => this.count === 0 && performance.now() - this.lastActivity >= quietMs;
    for (;;) {
      const now = performance.now();
      if (isQuiet()) {
        await new Promise((resolve) => setImmediate(resolve));
        if (isQuiet()) return true;
        continue;
      }
      if (now >= deadline) return false;
      await new Promise((resolve) => setTimeout(resolve, Math.min(quietMs / 4, deadline - now)));
    }
  }

  /**
   * Stops taking new work and resolves once nothing is in flight, or after `timeoutMs`;
   * true when everything finished. Requests already queued or running are not cut short.
   *
   * @example
   *   if (!(await lifecycle.drain(10_000))) logger.warn('closing with requests still running');
   */
  async drain(timeoutMs: number): Promise<boolean> {
    this.draining = true;
    if (this.count === 0) return true;
    let timer: NodeJS.Timeout | undefined;
    const finished = new Promise<boolean>((resolve) => this.waiters.push(() => resolve(true)));
    const timedOut = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), timeoutMs);
    });
    try {
      return await Promise.race([finished, timedOut]);
    } finally {
      clearTimeout(timer);
    }
  }
}

/**
 * SIGTERM or SIGINT: close (drain) once and exit 0, or 1 if the drain timed out with requests
 * still running or closing failed, so an orchestrator sees work was cut short. A second signal
 * while draining is ignored rather than fatal: Ctrl-C reaches cluster workers and their primary
 * both, and the primary then forwards SIGTERM.
 */
export function onStopSignals(close: () => Promise<boolean>): void {
  const stop = () => {
    void close().then((clean) => process.exit(clean ? 0 : 1), () => process.exit(1));
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

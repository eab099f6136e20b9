import type { Logger } from 'pino';
import type { ModelSet } from './model-set.js';

export interface Lease {
  set: ModelSet;
  /** Idempotent: a request releases on every path, errors included. */
  release(): void;
}

/**
 * Which ModelSet is serving, and when a replaced one may be freed. Every request leases the
 * current set for its whole life, so a reload never pulls models from under it: the old set is
 * disposed once its last lease is released and its batchers have gone idle (a request that hit
 * its deadline lets go while its batch may still be running).
 */
export class ModelRegistry {
  private serving: ModelSet;
  private readonly leases = new Map<ModelSet, number>();
  private readonly retired = new Set<ModelSet>();
  private readonly freeing = new Set<Promise<void>>();
  private readonly closers: (() => void)[] = [];
  private closing: Promise<void> | undefined;

  constructor(initial: ModelSet, private readonly logger: Logger) {
    this.serving = initial;
  }

  get current(): ModelSet {
    return this.serving;
  }

  acquire(): Lease {
    return this.leaseOn(this.serving);
  }

  /** A second lease on the set `lease` holds, while it still holds it: shadow work outlives its request. */
  share(lease: Lease): Lease {
    return this.leaseOn(lease.set);
  }

  private leaseOn(set: ModelSet): Lease {
    this.leases.set(set, (this.leases.get(set) ?? 0) + 1);
    let released = false;
    return {
      set,
      release: () => {
        if (released) return;
        released = true;
        const left = (this.leases.get(set) ?? 1) - 1;
        this.leases.set(set, left);
        if (left === 0 && this.retired.has(set)) this.free(set);
      },
    };
  }

  /** Puts `next` in service; the old set keeps answering its leases, then is freed. */
  swap(next: ModelSet): void {
    const old = this.serving;
    this.serving = next;
    this.retired.add(old);
    if ((this.leases.get(old) ?? 0) === 0) this.free(old);
  }

  /** Frees every set once its work is done: the server is closing, and nothing acquires after this. */
  close(): Promise<void> {
    this.closing ??= this.closeOnce();
    return this.closing;
  }

  private async closeOnce(): Promise<void> {
    this.retired.add(this.serving);
    if ((this.leases.get(this.serving) ?? 0) === 0) this.free(this.serving);
    if (this.retired.size > 0) await new Promise<void>((resolve) => this.closers.push(resolve));
    await Promise.all(this.freeing);
  }

  private free(set: ModelSet): void {
    this.retired.delete(set);
    this.leases.delete(set);
    const done = set.idle().then(() => {
      set.dispose();
      this.freeing.delete(done);
      this.logger.info({ bundle: set.manifest.name, createdAt: set.manifest.createdAt }, 'models freed');
    });
    this.freeing.add(done);
    if (this.retired.size === 0) this.closers.splice(0).forEach((wake) => wake());
  }
}

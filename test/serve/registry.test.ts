import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import type { ModelSet } from '../../src/serve/runtime/model-set.js';
import { ModelRegistry } from '../../src/serve/runtime/registry.js';

/** A stand-in ModelSet that records its disposal and can be held busy. */
function fakeSet(name: string) {
  let busy: Promise<void> = Promise.resolve();
  const set = {
    disposed: false,
    manifest: { name, createdAt: 'now' },
    idle: () => busy,
    dispose() {
      set.disposed = true;
    },
    holdBusy() {
      let release!: () => void;
      busy = new Promise((resolve) => (release = resolve));
      return release;
    },
  };
  return set;
}
const asSet = (fake: ReturnType<typeof fakeSet>) => fake as unknown as ModelSet;
const tick = () => new Promise((r) => setTimeout(r, 5));
const logger = pino({ level: 'silent' });

describe('ModelRegistry', () => {
  it('keeps a replaced set alive until its last lease is released, then disposes it', async () => {
    const a = fakeSet('a');
    const b = fakeSet('b');
    const registry = new ModelRegistry(asSet(a), logger);
    const lease = registry.acquire();
    registry.swap(asSet(b));
    expect(registry.current).toBe(asSet(b));
    expect(lease.set).toBe(asSet(a));
    await tick();
    expect(a.disposed).toBe(false);
    lease.release();
    lease.release(); // a second release is harmless
    await tick();
    expect(a.disposed).toBe(true);
    expect(b.disposed).toBe(false);
  });

  it("waits for the old set's batchers to go idle even after the leases are gone", async () => {
    const a = fakeSet('a');
    const registry = new ModelRegistry(asSet(a), logger);
    const finishBatch = a.holdBusy();
    registry.swap(asSet(fakeSet('b')));
    await tick();
    expect(a.disposed).toBe(false);
    finishBatch();
    await tick();
    expect(a.disposed).toBe(true);
  });

  it('shares a lease on the same set for shadow work, and close() waits for every lease', async () => {
    const a = fakeSet('a');
    const registry = new ModelRegistry(asSet(a), logger);
    const lease = registry.acquire();
    const shadow = registry.share(lease);
    lease.release();
    let closed = false;
    const closing = registry.close().then(() => {
      closed = true;
    });
    await tick();
    expect(closed).toBe(false);
    shadow.release();
    await closing;
    expect(a.disposed).toBe(true);
    await registry.close(); // idempotent
  });
});

import { createHash } from 'node:crypto';
import type { AbArm, ModelName } from '../config.js';

/**
 * A key's place in [0, 1): the first 32 bits of its sha256. A cryptographic hash because keys
 * are often sequential ("user-41", "user-42") and a weak hash would put neighbours in one arm.
 */
export function hashUnit(key: string): number {
  return createHash('sha256').update(key).digest().readUInt32BE(0) / 2 ** 32;
}

/**
 * The weighted A/B split. A request with an `x-ab-key` always lands in the same arm (as long as
 * the weights do not change); one without is placed at random.
 *
 * @example
 *   const split = new AbSplit([{ variant: 'student', weight: 90 }, { variant: 'ensemble', weight: 10 }]);
 *   split.pick('user-42'); // the same answer on every call
 */
export class AbSplit {
  private readonly bounds: { variant: ModelName; upTo: number }[];

  constructor(readonly arms: readonly AbArm[]) {
    const total = arms.reduce((sum, arm) => sum + arm.weight, 0);
    let upTo = 0;
    this.bounds = arms.filter((arm) => arm.weight > 0).map((arm) => ({ variant: arm.variant,
      upTo: upTo += arm.weight / total })
    );
  }

  get variants(): ModelName[] {
    return this.arms.map((arm) => arm.variant);
  }

  pick(key: string | undefined): ModelName {
    const u = key === undefined ? Math.random() : hashUnit(key);
    // The last bound is 1 up to rounding; falling through to it covers u just under 1.
    return (this.bounds.find((bound) => u < bound.upTo) ?? this.bounds[this.bounds.length - 1]).variant;
  }

  /** The variants a shadow run compares against: every other arm, zero-weight ones included. */
  others(variant: ModelName): ModelName[] {
    return this.variants.filter((v) => v !== variant);
  }
}

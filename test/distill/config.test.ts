import { describe, expect, it } from 'vitest';
import { learningRateAt, momentumAt, TrainConfig } from '../../src/distill/index.js';

describe('momentumAt', () => {
  const ramped = TrainConfig.parse({ epochs: 10,
    optimizer: { kind: 'momentum', learningRate: 0.1, momentum: 0.95, ramp: { from: 0.5, epochs: 4 } } });

  it('rises linearly from the ramp start to the momentum, then stays', () => {
    expect([0, 1, 2, 3, 4, 9].map((e) => momentumAt(ramped, e))).toEqual(
      [0.5, 0.6125, 0.725, 0.8375, 0.95, 0.95].map((m) => expect.closeTo(m, 12)),
    );
  });

  it('is the constant momentum without a ramp, and undefined for Adam', () => {
    expect(momentumAt(TrainConfig.parse({ epochs: 3, optimizer: { kind: 'momentum', learningRate: 0.1 } }), 2)).toBe(
      0.9,
    );
    expect(momentumAt(TrainConfig.parse({ epochs: 3, optimizer: { kind: 'adam', learningRate: 1e-3 } }), 0))
      .toBeUndefined();
  });

  it('leaves the learning-rate schedule alone', () => {
    expect(learningRateAt(ramped, 3)).toBe(0.1);
  });
});

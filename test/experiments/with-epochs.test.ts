import { describe, expect, it } from 'vitest';
import { TrainConfig } from '../../src/distill/index.js';
import { withEpochs } from '../../src/experiments/index.js';

describe('withEpochs', () => {
  const momentum = { epochs: 40, optimizer: { kind: 'momentum' as const, learningRate: 0.05, ramp: { from: 0.5,
    epochs: 10 } }, averageWeights: { fromEpoch: 21 } };

  it('keeps the ramp and the averaged epochs at the same share of the run', () => {
    // 20 of 40 epochs averaged: 40 of 80 (41–80), 5 of 10 (6–10), 80 of 160.
    expect(withEpochs(momentum, 80)).toEqual({ ...momentum, epochs: 80,
      optimizer: { ...momentum.optimizer, ramp: { from: 0.5, epochs: 20 } }, averageWeights: { fromEpoch: 41 } });
    expect(withEpochs(momentum, 160).averageWeights).toEqual({ fromEpoch: 81 });
    const quarter = withEpochs(momentum, 10);
    expect(quarter).toMatchObject({ epochs: 10, optimizer: { ramp: { epochs: 3 } }, averageWeights: { fromEpoch: 6 } });
    expect(() => TrainConfig.parse(quarter)).not.toThrow(); // averaging still starts inside the run
  });

  it('never scales a start below the first epoch, and leaves what a config lacks absent', () => {
    expect(withEpochs(momentum, 1)).toMatchObject({ optimizer: { ramp: { epochs: 1 } },
      averageWeights: { fromEpoch: 1 } });
    const adam = { epochs: 30, optimizer: { kind: 'adam' as const, learningRate: 0.001 } };
    expect(withEpochs(adam, 5)).toEqual({ ...adam, epochs: 5 });
  });
});

import { describe, expect, it } from 'vitest';
import { DatasetConfigSchema, loadDataset } from '../../src/data/index.js';

describe('loadDataset', () => {
  it('builds the dataset a config names, without decoding anything yet', () => {
    expect(loadDataset({ name: 'mnist' })).toMatchObject({ name: 'mnist', numClasses: 10 });
    expect(loadDataset({ name: 'fashion-mnist' }).classNames[9]).toBe('Ankle boot');
    const synthetic = loadDataset({ name: 'synthetic', superclasses: 3, finePerSuperclass: 4, inputSize: 5 });
    expect(synthetic).toMatchObject({ name: 'synthetic', numClasses: 12, inputShape: [5] });
  });

  it('refuses an unknown dataset or knob', () => {
    expect(DatasetConfigSchema.safeParse({ name: 'cifar' }).success).toBe(false);
    expect(DatasetConfigSchema.safeParse({ name: 'synthetic', superclasses: 0 }).success).toBe(false);
  });
});

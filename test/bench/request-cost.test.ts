import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { requestCost } from '../../src/bench/index.js';
import { initEngine } from '../../src/engine/index.js';
import { type EnsembleModels, EnsembleOptionsSchema, predictEnsemble } from '../../src/ensemble/index.js';
import { INPUT_SIZE, tinyModel } from '../bundle/helpers.js';

beforeAll(async () => {
  await initEngine({ backend: 'auto', log: () => {} });
});

describe('requestCost', () => {
  it('times both paths on single rows and counts the specialists each row ran', () => {
    const models: EnsembleModels = {
      generalist: tinyModel(5, 1),
      specialists: [{ id: 's0', classes: [0, 1], dustbinOffset: -0.5, model: tinyModel(3, 11) }, { id: 's1',
        classes: [1, 2, 3], dustbinOffset: 0.2, model: tinyModel(4, 21) }],
      numClasses: 5,
    };
    const options = EnsembleOptionsSchema.parse({});
    const rows = 12;
    const x = Float32Array.from({ length: rows * INPUT_SIZE }, (_, i) => Math.sin(i * 1.7) * 2);
    let active = 0;
    for (let r = 0; r < rows; r++) {
      const out = predictEnsemble(models,
        tf.tensor2d(x.subarray(r * INPUT_SIZE, (r + 1) * INPUT_SIZE), [1, INPUT_SIZE]), options);
      active += out.active[0].length;
      out.probabilities.dispose();
    }
    const before = tf.memory().numTensors;
    const cost = requestCost(models, options, x, INPUT_SIZE, rows);
    expect(cost.rows).toBe(rows);
    expect(cost.meanActive).toBeCloseTo(active / rows, 12);
    expect(cost.meanActive).toBeGreaterThan(0);
    expect(cost.generalistMicros).toBeGreaterThan(0);
    expect(cost.ensembleMicros).toBeGreaterThan(0);
    expect(tf.memory().numTensors).toBe(before);
  });
});

import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initEngine } from '../../src/engine/index.js';
import { buildMlp, FastDropout } from '../../src/nets/index.js';

beforeAll(async () => {
  await initEngine({ backend: 'auto', log: () => {} });
});

describe('FastDropout', () => {
  it('zeroes about `rate` of the units in training and scales the rest by 1/(1 − rate)', () => {
    const layer = new FastDropout({ rate: 0.3, seed: 7 });
    const y = layer.apply(tf.ones([200, 500]), { training: true }) as tf.Tensor;
    const values = y.dataSync();
    const zeros = values.filter((v) => v === 0).length / values.length;
    expect(zeros).toBeGreaterThan(0.29);
    expect(zeros).toBeLessThan(0.31);
    expect(new Set(values)).toEqual(new Set([0, Math.fround(1 / 0.7)]));
  });

  it('is the identity at inference and passes gradients through the kept units only', () => {
    const layer = new FastDropout({ rate: 0.5, seed: 3 });
    expect(Array.from((layer.apply(tf.tensor1d([1, 2, 3])) as tf.Tensor).dataSync())).toEqual([1, 2, 3]);
    const x = tf.ones([1000]);
    const grad = tf.grad((t: tf.Tensor) => tf.sum(layer.apply(t, { training: true }) as tf.Tensor))(x).dataSync();
    const output = (layer.apply(x, { training: true }) as tf.Tensor).dataSync();
    expect(new Set(grad)).toEqual(new Set([0, 2]));
    expect(new Set(output)).toEqual(new Set([0, 2]));
  });

  it('saves as a stock Dropout layer that plain tfjs loads', async () => {
    const model = buildMlp({ kind: 'mlp', hidden: [4], inputDropout: 0.2, hiddenDropout: 0.5, maxNorm: 0, seed: 1 }, 3,
      2);
    let artifacts: tf.io.ModelArtifacts | undefined;
    await model.save(tf.io.withSaveHandler(async (a) => {
      artifacts = a;
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }));
    const loaded = await tf.loadLayersModel(tf.io.fromMemory(artifacts!));
    expect(loaded.layers.map((l) => l.getClassName())).toEqual(['Dropout', 'Dense', 'Dropout', 'Dense']);
    expect(loaded.layers[0].constructor.name).not.toBe('FastDropout');
    const x = tf.tensor2d([[1, 2, 3]]);
    expect(Array.from((loaded.predict(x) as tf.Tensor).dataSync())).toEqual(
      Array.from((model.predict(x) as tf.Tensor).dataSync()),
    );
  });

  it('draws its masks from xorshift32 seeded as documented, continuing the stream across calls', () => {
    // Reference: the generator written the plain way, one float draw in [0, 1) per unit.
    let state = (11 * 2654435761) >>> 0;
    const draw = () => {
      state ^= state << 13;
      state >>>= 0;
      state ^= state >>> 17;
      state ^= state << 5;
      state >>>= 0;
      return state / 4294967296;
    };
    const layer = new FastDropout({ rate: 0.25, seed: 11 });
    for (const size of [37, 1000]) {
      const expected = Array.from({ length: size }, () => (draw() < 0.75 ? Math.fround(1 / 0.75) : 0));
      expect(Array.from((layer.apply(tf.ones([size]), { training: true }) as tf.Tensor).dataSync())).toEqual(expected);
    }
  });

  it('rejects rates outside [0, 1)', () => {
    expect(() => new FastDropout({ rate: 1 })).toThrow(/rate/);
  });
});

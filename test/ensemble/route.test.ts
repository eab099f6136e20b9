import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { createRng } from '../../src/data/random.js';
import { initEngine } from '../../src/engine/index.js';
import { buildSpecialistIndex, combine, route, type SpecialistSpec } from '../../src/ensemble/index.js';
import { randomDistribution } from './instances.js';

beforeAll(async () => {
  await initEngine({ backend: 'auto', log: () => {} });
});

// Classes 0..7; class 7 has no specialist, class 2 has two.
const SPECS: SpecialistSpec[] = [{ id: 'a', classes: [0, 1, 2] }, { id: 'b', classes: [2, 3] }, { id: 'c',
  classes: [4, 5, 6] }];
const index = buildSpecialistIndex(SPECS, 8);

/** Rows with their largest probability on the given classes, in that order. */
function peaked(tops: number[][], classes = 8): tf.Tensor2D {
  const values = tops.flatMap((order) => {
    const row = new Array<number>(classes).fill(0.01);
    order.forEach((c, rank) => {
      row[c] = 0.5 / (rank + 1);
    });
    const sum = row.reduce((s, v) => s + v, 0);
    return row.map((v) => v / sum);
  });
  return tf.tensor2d(values, [tops.length, classes]);
}

describe('specialist index', () => {
  it('maps each class to the specialists covering it', () => {
    expect(index.byClass).toEqual([[0], [0], [0, 1], [1], [2], [2], [2], []]);
  });

  it('rejects specialists that do not fit the classes, listing every problem', () => {
    const build = (specs: SpecialistSpec[], n = 8) => () => buildSpecialistIndex(specs, n);
    expect(build([{ id: 'a', classes: [0] }, { id: 'a', classes: [1] }])).toThrow(/1\.id: duplicate specialist id "a"/);
    expect(build([{ id: 'a', classes: [0, 8] }])).toThrow(/0\.classes: class 8 is outside 0\.\.7/);
    expect(build([{ id: 'a', classes: [1, 1] }])).toThrow(/lists a class twice/);
    expect(build([{ id: 'all', classes: [0, 1] }], 2)).toThrow(
      /covers every class: a dustbin needs at least one class outside/,
    );
    expect(build([{ id: 'a', classes: [] }])).toThrow(/0\.classes/);
    expect(build([], 1)).toThrow(/numClasses must be an integer ≥ 2/);
  });
});

describe('route', () => {
  it('activates the specialists covering the top-1 class', () => {
    const pg = peaked([[2], [4], [7], [0]]);
    const routing = route(index, pg);
    expect(routing.active).toEqual([[0, 1], [2], [], [0]]);
    expect(routing.examples).toEqual([[0, 3], [0], [1]]);
    expect(routing.mask.shape).toEqual([4, 3]);
    expect(routing.mask.arraySync()).toEqual([[1, 1, 0], [0, 0, 1], [0, 0, 0], [1, 0, 0]]);
    tf.dispose([pg, routing.mask]);
  });

  it('takes the union over the top-k classes as an option', () => {
    const pg = peaked([[3, 4], [7, 0], [5, 6]]);
    const routing = route(index, pg, { topK: 2 });
    expect(routing.active).toEqual([[1, 2], [0], [2]]);
    expect(routing.examples).toEqual([[1], [0], [0, 2]]);
    tf.dispose([pg, routing.mask]);
  });

  it('agrees with a per-example loop on a random batch, and leaves only the mask behind', () => {
    const rng = createRng(5);
    const specs = Array.from({ length: 12 },
      (_, s) => ({ id: `s${s}`,
        classes: [...new Set(Array.from({ length: 1 + (s % 5) }, () => Math.floor(rng() * 50)))].sort((x, y) =>
          x - y
        ) }));
    const big = buildSpecialistIndex(specs, 50);
    const rows = Array.from({ length: 33 }, () => Array.from(randomDistribution(rng, 50, 3)));
    const pg = tf.tensor2d(rows);
    const before = tf.memory().numTensors;
    const routing = route(big, pg, { topK: 3 });
    expect(tf.memory().numTensors).toBe(before + 1);
    const mask = routing.mask.arraySync();
    rows.forEach((row, b) => {
      const top = row.map((p, c) => [p, c]).sort((x, y) => y[0] - x[0]).slice(0, 3).map(([, c]) => c);
      const expected = specs.flatMap((spec, s) => (spec.classes.some((c) => top.includes(c)) ? [s] : []));
      expect(routing.active[b]).toEqual(expected);
      expect(mask[b]).toEqual(specs.map((_, s) => (expected.includes(s) ? 1 : 0)));
    });
    routing.examples.forEach((examples, s) =>
      expect(examples).toEqual(routing.active.flatMap((set, b) => (set.includes(s) ? [b] : [])))
    );
    tf.dispose([pg, routing.mask]);
  });

  it('rejects a generalist of the wrong width and a top-k beyond the classes', () => {
    const narrow = tf.ones([2, 7]) as tf.Tensor2D;
    expect(() => route(index, narrow)).toThrow(/generalist must be \[batch, 8\], got \[2, 7\]/);
    const pg = peaked([[1]]);
    expect(() => route(index, pg, { topK: 9 })).toThrow(/topK 9 exceeds the 8 classes/);
    expect(() => route(index, pg, { topK: 0 })).toThrow();
    tf.dispose([narrow, pg]);
  });

  it('drives combine: each specialist runs on just its examples', () => {
    const pg = peaked([[2], [7], [5], [1]]);
    const routing = route(index, pg);
    // Each specialist's output for its own rows: most mass on its first class, a little on the dustbin.
    const specialists = Object.fromEntries(SPECS.flatMap((spec, s) => {
      const rows = routing.examples[s];
      if (rows.length === 0) return [];
      const width = spec.classes.length + 1;
      const row = Array.from({ length: width }, (_, j) => (j === 0 ? 0.7 : 0.3 / (width - 1)));
      return [[spec.id, tf.tensor2d(rows.flatMap(() => row), [rows.length, width])]];
    }));
    const { q, iterations } = combine(index, { generalist: pg, specialists, active: routing.examples });
    const values = q.arraySync();
    expect(iterations).toBeGreaterThan(0);
    expect(values[1]).toEqual(pg.arraySync()[1]); // class 7: no specialist, p_g unchanged
    values.forEach((row) => expect(row.reduce((s, v) => s + v, 0)).toBeCloseTo(1, 5));
    expect(values[0][0]).toBeGreaterThan(pg.arraySync()[0][0]); // both 'a' and 'b' pushed mass to their first classes
    tf.dispose([pg, routing.mask, q, ...Object.values(specialists)]);
  });
});

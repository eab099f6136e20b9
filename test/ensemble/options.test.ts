import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadBundle, saveBundle } from '../../src/bundle/index.js';
import { initEngine } from '../../src/engine/index.js';
import { ensembleFromBundle, EnsembleOptionsSchema, fromCombinerRecord,
  toCombinerRecord } from '../../src/ensemble/index.js';
import { bundleTeacherLogits, parsePipelineConfig } from '../../src/pipeline/index.js';
import { draft, tempDir } from '../bundle/helpers.js';

let dir: string;
beforeAll(async () => {
  await initEngine({ backend: 'cpu', log: () => {} });
  dir = await tempDir();
});
afterAll(() => rm(dir, { recursive: true, force: true }));

describe('one combiner schema', () => {
  it('fills the defaults a pipeline config and a bundle share, and round-trips through the manifest record', () => {
    const options = EnsembleOptionsSchema.parse({});
    expect(options).toEqual({ solver: 'em', tolerance: 1e-6, maxIterations: 200, topK: 1 });
    const custom = EnsembleOptionsSchema.parse({ solver: 'gradient', tolerance: 1e-4, maxIterations: 50, topK: 2 });
    expect(fromCombinerRecord(toCombinerRecord(custom))).toEqual(custom);
  });

  it('says why a recorded combiner cannot run instead of guessing one', () => {
    expect(fromCombinerRecord(undefined)).toBe('the bundle has no combiner settings');
    expect(fromCombinerRecord({ solver: 'newton', iterations: 10, tolerance: 1e-6 })).toMatch(
      /^its combiner settings cannot be run: solver: /,
    );
    expect(fromCombinerRecord({ solver: 'em', iterations: 0, tolerance: 1e-6 })).toMatch(/maxIterations/);
  });

  it("is the pipeline config's combiner: an unknown solver is refused there too", () => {
    expect(() => parsePipelineConfig({ ...minimalConfig(), combiner: { solver: 'newton' } }, 'test.json')).toThrow(
      /combiner\.solver/,
    );
  });

  it('builds the ensemble from a bundle; one whose combiner is unknown or missing cannot teach (a missing one used ' +
    'to fall back to em silently)', async () => {
    const bad = { ...draft(1), combiner: { solver: 'newton', iterations: 50, tolerance: 1e-6 } };
    await saveBundle(join(dir, 'bad'), bad);
    const bundle = await loadBundle(join(dir, 'bad'));
    const { models, options } = ensembleFromBundle(bundle);
    expect(models.specialists.map((s) => [s.id, s.classes, s.dustbinOffset])).toEqual(
      bad.specialists!.map((s) => [s.id, s.classes, s.dustbinOffset]),
    );
    expect(options).toMatch(/solver/);
    bundle.dispose();
    await expect(bundleTeacherLogits(join(dir, 'bad'), 'ensemble', new Float32Array(8), 2)).rejects.toThrow(
      /the ensemble cannot teach: its combiner settings cannot be run/,
    );
    const { combiner: _none, ...unset } = draft(2);
    await saveBundle(join(dir, 'unset'), unset);
    await expect(bundleTeacherLogits(join(dir, 'unset'), 'ensemble', new Float32Array(8), 2)).rejects.toThrow(
      /the ensemble cannot teach: the bundle has no combiner settings/,
    );
  });
});

function minimalConfig() {
  const train = { epochs: 1, batchSize: 8, optimizer: { kind: 'adam', learningRate: 0.01 } };
  return {
    name: 'tiny',
    dataset: { name: 'synthetic' },
    generalist: { net: { hidden: [8] }, train },
    clusters: { clustering: { clusters: 2 } },
    specialists: { train },
    student: { net: { hidden: [8] }, train: { ...train, loss: { temperature: 2 } } },
  };
}

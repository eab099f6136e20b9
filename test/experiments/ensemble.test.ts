import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateSynthetic } from '../../src/data/index.js';
import { predictLogits } from '../../src/distill/index.js';
import { engineInfo, initEngine } from '../../src/engine/index.js';
import { type EnsemblePlan, type EnsembleResult, ensemblePlan, runEnsembleExperiment,
  writeEnsembleReport } from '../../src/experiments/index.js';
import { loadModel } from '../../src/bundle/index.js';

const data = generateSynthetic({ superclasses: 5, finePerSuperclass: 2, inputSize: 16, trainPerClass: 30,
  validationPerClass: 8, testPerClass: 20, seed: 9 });
const quick = ensemblePlan(true);
const plan: EnsemblePlan = { ...quick, seeds: [1, 2, 3], sizes: [1, 3], temperatures: [1, 4],
  studentSeeds: [101, 102] };
const root = mkdtempSync(join(tmpdir(), 'ensemble-experiment-'));
const run = (dir: string, log: (line: string) => void = () => {}) =>
  runEnsembleExperiment('synthetic', data, join(root, dir), plan, { log });
const weightsOf = async (dir: string, name: string) => {
  const model = await loadModel(join(root, dir, name, 'model'));
  const weights = model.getWeights().map((w) => Array.from(w.dataSync()));
  model.dispose();
  return weights;
};

/** Test errors of the members' mean probability, computed here in float64 from each saved member. */
async function pooledErrors(dir: string, seeds: number[]): Promise<number> {
  const classes = data.numClasses;
  const mean = new Float64Array(data.test.n * classes);
  for (const seed of seeds) {
    const model = await loadModel(join(root, dir, `member-s${seed}`, 'model'));
    const logits = predictLogits(model, data.test.x, data.test.n);
    model.dispose();
    for (let r = 0; r < data.test.n; r++) {
      const row = Array.from(logits.subarray(r * classes, (r + 1) * classes));
      const z = row.reduce((s, v) => s + Math.exp(v), 0);
      row.forEach((v, j) => {
        mean[r * classes + j] += Math.exp(v) / z / seeds.length;
      });
    }
  }
  let errors = 0;
  for (let r = 0; r < data.test.n; r++) {
    const row = Array.from(mean.subarray(r * classes, (r + 1) * classes));
    if (row.indexOf(Math.max(...row)) !== data.test.y[r]) errors++;
  }
  return errors;
}

let first: EnsembleResult;
beforeAll(async () => {
  await initEngine({ backend: 'auto', log: () => {} });
  first = await run('a');
}, 120_000);
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('the ensemble experiment', () => {
  it('trains each member deterministically per seed, and different seeds differently', async () => {
    await run('b');
    expect(await weightsOf('b', 'member-s2')).toEqual(await weightsOf('a', 'member-s2'));
    expect(await weightsOf('a', 'member-s1')).not.toEqual(await weightsOf('a', 'member-s2'));
  }, 120_000);

  it("scores the ensemble of K as the first K members' mean probability", async () => {
    expect(first.sizes.map((s) => s.members)).toEqual([1, 3]);
    expect(first.sizes[1].ensemble).toBe(await pooledErrors('a', [1, 2, 3]));
    expect(first.sizes[0].ensemble).toBe(first.memberErrors[0]);
    expect(first.single.mean).toBeCloseTo(first.memberErrors.reduce((a, b) => a + b, 0) / 3, 10);
  });

  it('keeps the temperature with the fewest validation errors, and reports the share of the gain recovered', () => {
    for (const size of first.sizes) {
      const best = Math.min(...Object.values(size.validationErrors));
      expect(size.validationErrors[String(size.temperature)]).toBe(best);
      expect(Object.keys(size.validationErrors)).toEqual(['1', '4']);
      expect(size.testErrorsByTemperature[String(size.temperature)]).toBe(size.distilled);
      expect(size.distilledBySeed).toHaveLength(2);
      expect(size.distilled).toBeCloseTo((size.distilledBySeed[0] + size.distilledBySeed[1]) / 2, 10);
    }
    const three = first.sizes[1];
    const gain = first.single.mean - three.ensemble;
    if (gain > 0) expect(three.recovered).toBeCloseTo((first.single.mean - three.distilled) / gain, 10);
    else expect(three.recovered).toBeUndefined();
    expect(first.sizes[0].recovered).toBeUndefined();
  });

  it('resumes from finished runs: a rerun trains nothing and gives the same result', async () => {
    const lines: string[] = [];
    const again = await run('a', (line) => lines.push(line));
    expect(lines.filter((line) => / epoch \d+\//.test(line))).toEqual([]);
    expect({ ...again, runs: [] }).toEqual({ ...first, runs: [] });
  }, 60_000);

  it('writes its report: targets, a table per dataset and the plot', async () => {
    const out = join(root, 'report');
    const markdown = await writeEnsembleReport(out, [first], plan, engineInfo(), [12, 30], 1);
    expect(markdown).toContain('synthetic: the ensemble of 3 beats one net');
    expect(markdown).toContain('0.7 min over 2 invocations');
    expect(readFileSync(join(out, 'errors-vs-members.svg'), 'utf8')).toMatch(/^<svg/);
    expect(JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8')).results[0].sizes).toHaveLength(2);
    expect(existsSync(join(out, 'summary.md'))).toBe(true);
  });
});

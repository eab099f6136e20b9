import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateSynthetic, type Split } from '../../src/data/index.js';
import { predictLogits, type TrainingSet } from '../../src/distill/index.js';
import { initEngine } from '../../src/engine/index.js';
import { type MnistPaperPlan, PAPER_PRESET, paperPlan, runMnistPaper,
  withEpochs } from '../../src/experiments/index.js';
import { RunPool, type RunSpec } from '../../src/experiments/pool.js';
import { readPipelineConfig } from '../../src/pipeline/index.js';

// 10 classes of 16 features, read as 4×4 images where a run jitters them.
const data = generateSynthetic({ superclasses: 5, finePerSuperclass: 2, inputSize: 16, trainPerClass: 30,
  validationPerClass: 8, testPerClass: 8, seed: 5 });
const asSet = (split: Split, teacherLogits?: Float32Array): TrainingSet => ({ x: split.x, n: split.n,
  features: split.features, labels: split.y, teacherLogits });
const net = (hidden: number[], seed = 1) => ({ kind: 'mlp' as const, hidden, inputDropout: 0.1, hiddenDropout: 0.2,
  maxNorm: 0, seed });
const adam = (epochs: number, loss?: RunSpec['config']['loss']) => ({ epochs, batchSize: 32,
  optimizer: { kind: 'adam' as const, learningRate: 0.01 }, seed: 2, loss });
const tiny = (name: string): RunSpec => ({ name, net: net([8]), classes: 10, train: asSet(data.train),
  validation: asSet(data.validation), config: adam(2) });
const root = mkdtempSync(join(tmpdir(), 'run-pool-'));
const quiet = { log: () => {}, shouldStop: () => false, backend: 'blas' as const };

const weightsOf = (model: tf.LayersModel) => model.getWeights().map((w) => Array.from(w.dataSync()));
function maxDifference(a: number[][], b: number[][]): number {
  let worst = 0;
  a.forEach((values, i) =>
    values.forEach((v, j) => {
      worst = Math.max(worst, Math.abs(v - b[i][j]));
    })
  );
  return worst;
}

beforeAll(async () => {
  await initEngine({ backend: 'blas', log: () => {} });
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('RunPool', () => {
  it('trains runs in worker processes to the same weights as in this process, and cleans up its job files',
    async () => {
      const teacherSpec: RunSpec = {
        name: 'teacher',
        net: net([24]),
        classes: 10,
        train: asSet(data.train),
        validation: asSet(data.validation),
        config: adam(3),
        jitter: { inputShape: [4, 4], maxShift: 1 },
      };
      const here = new RunPool(join(root, 'here'), { ...quiet, workers: 1 });
      const { model: teacher } = await here.train(teacherSpec);
      const logits = predictLogits(teacher, data.train.x, data.train.n);
      const studentSpec: RunSpec = { name: 'student', net: net([16], 3), classes: 10, train: asSet(data.train, logits),
        validation: asSet(data.validation), config: adam(2, { temperature: 4, softWeight: 1, hardWeight: 0.1 }) };
      const { model: student } = await here.train(studentSpec);
      await here.close();

      const lines: string[] = [];
      const away = new RunPool(join(root, 'away'), { ...quiet, workers: 2, log: (line) => lines.push(line) });
      const [awayTeacher, awayStudent] = await Promise.all([away.train(teacherSpec), away.train(studentSpec)]);
      await away.close();
      // the workers' epoch lines reach our log
      expect(lines.filter((l) => /^teacher epoch \d\/3/.test(l))).toHaveLength(3);
      expect(lines.filter((l) => /^student epoch \d\/2/.test(l))).toHaveLength(2);
      // One OpenBLAS thread there, possibly more here: the sums may round in another order.
      expect(maxDifference(weightsOf(awayTeacher.model), weightsOf(teacher))).toBeLessThan(1e-4);
      expect(maxDifference(weightsOf(awayStudent.model), weightsOf(student))).toBeLessThan(1e-4);
      expect(awayStudent.record.epochs).toBe(2);
      expect(readdirSync(join(root, 'away')).filter((f) => f.startsWith('.jobs'))).toEqual([]);
      for (const m of [teacher, student, awayTeacher.model, awayStudent.model]) m.dispose();

      // Trained once: a second pool reloads instead of spawning a worker.
      const again = new RunPool(join(root, 'away'), { ...quiet, workers: 2, log: (line) => lines.push(line) });
      const before = lines.length;
      const reloaded = await again.train(studentSpec);
      await again.close();
      expect(lines.length).toBe(before);
      reloaded.model.dispose();
    }, 60_000);

  it("rejects with the worker's own error and leaves nothing running", async () => {
    const pool = new RunPool(join(root, 'bad'), { ...quiet, workers: 2 });
    const spec: RunSpec = { name: 'bad', net: net([8]), classes: 10, train: asSet(data.train),
      validation: asSet(data.validation), config: adam(1), jitter: { inputShape: [5, 5], maxShift: 1 } };
    await expect(pool.train(spec)).rejects.toThrow(
      /bad: worker exited with code 1: .*jitter: inputShape \[5, 5\] does not describe images of 16 features/,
    );
    await pool.close();
    expect(existsSync(join(root, 'bad', 'bad', 'record.json'))).toBe(false);
  }, 30_000);

  it('trains an `alone` run by itself: runs asked for after it wait, then share the workers', async () => {
    const lines: string[] = [];
    const pool = new RunPool(join(root, 'alone'), { ...quiet, workers: 2, log: (line) => lines.push(line) });
    const runs = [pool.train(tiny('first'), { alone: true }), pool.train(tiny('second')), pool.train(tiny('third'))];
    for (const { model } of await Promise.all(runs)) model.dispose();
    await pool.close();
    const at = (name: string) => lines.map((l, i) => (l.startsWith(`${name} epoch`) ? i : -1)).filter((i) => i >= 0);
    expect(at('first')).toHaveLength(2);
    expect(Math.max(...at('first'))).toBeLessThan(Math.min(...at('second'), ...at('third')));
  }, 60_000);

  it('starts no worker for a run still queued when the run before it fails', async () => {
    const pool = new RunPool(join(root, 'failed'), { ...quiet, workers: 2 });
    const broken = pool.train({ ...tiny('broken'), jitter: { inputShape: [5, 5], maxShift: 1 } }, { alone: true });
    const queued = pool.train(tiny('queued'));
    queued.catch(() => {});
    await expect(broken).rejects.toThrow(/jitter: inputShape/);
    await pool.close();
    await expect(queued).rejects.toThrow(/queued not started: the pool is closed/);
    expect(existsSync(join(root, 'failed', 'queued', 'record.json'))).toBe(false);
  }, 30_000);

  it('refuses a worker count that is not a whole number ≥ 1', () => {
    expect(() => new RunPool(root, { ...quiet, workers: 0 })).toThrow(/workers must be a whole number/);
    expect(() => new RunPool(root, { ...quiet, workers: Number.NaN })).toThrow(/workers/);
  });
});

describe('runMnistPaper', () => {
  // The full plan's rows on tiny data: every run, both in this process and two at a time in workers.
  let plan: MnistPaperPlan;
  beforeAll(async () => {
    const full = paperPlan(await readPipelineConfig(PAPER_PRESET), false);
    plan = {
      ...full,
      seeds: [1, 2],
      teacher: { net: net([32]), train: withEpochs(full.teacher.train, 2), jitter: 0, allTraining: true },
      student: { net: { ...full.student.net, hidden: [16, 16] }, train: withEpochs(full.student.train, 1) },
      sweep: { units: 30, epochs: 1, temperatures: [1, 4], seeds: [1] },
    };
  });

  it('builds the same table whether its runs train here or side by side in workers', async () => {
    const here = await runMnistPaper(data, join(root, 'paper-here'), plan, { log: () => {}, workers: 1 });
    const away = await runMnistPaper(data, join(root, 'paper-away'), plan, { log: () => {}, workers: 2 });
    const T = plan.student.train.loss?.temperature; // the preset's, chosen on validation
    expect(away.runs.map((r) => r.name)).toEqual(['teacher', 'baseline-s1', 'baseline-s2', 'three-percent-hard',
      `distilled-T${T}-s1`, `distilled-T${T}-s2`, `distilled-T${T}-s1-momentum`, 'no-3s', 'only-7-8',
      'three-percent-soft', 'sweep-30-T1-s1', 'sweep-30-T4-s1']);
    expect(away.runs.map((r) => r.name)).toEqual(here.runs.map((r) => r.name));
    // The teacher learns from train + validation, as the paper's did, and keeps its last epoch.
    const teacher = away.runs[0];
    expect(JSON.parse(teacher.setup).examples).toBe(data.train.n + data.validation.n);
    expect(teacher.bestEpoch).toBe(plan.teacher.train.epochs);
    expect(away.rows[0].run).toMatch(/on all \d+ training images, last epoch kept/);
    expect(away.rows.map((r) => r.run)).toEqual(here.rows.map((r) => r.run));
    // Test errors out of 80 per row; one example may flip where the two engines round differently.
    away.rows.forEach((row, i) => {
      if (row.errors !== undefined) expect(Math.abs(row.errors - here.rows[i].errors!)).toBeLessThanOrEqual(1);
    });
  }, 120_000);
});

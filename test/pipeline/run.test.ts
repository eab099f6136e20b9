import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadBundle } from '../../src/bundle/index.js';
import { DEFAULT_SYNTHETIC, writeSyntheticFiles } from '../../src/data/index.js';
import { initEngine } from '../../src/engine/index.js';
import { parsePipelineConfig, pipelineEnsemble, runPipeline, StageInterrupted } from '../../src/pipeline/index.js';
import { TINY, tinyTrain } from '../fixtures/tiny-pipeline.js';

const tmp = mkdtempSync(join(tmpdir(), 'pipeline-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
beforeAll(async () => {
  await initEngine({ backend: 'auto', log: () => {} });
});

const train = tinyTrain;

const quiet = () => {};

describe('runPipeline', () => {
  it('goes from a dataset to a bundle that loads, with every stage recorded', async () => {
    const runDir = join(tmp, 'full');
    const out = join(tmp, 'bundles', 'full');
    const result = await runPipeline(parsePipelineConfig(TINY), { runDir, out, log: quiet,
      ensemble: pipelineEnsemble });
    expect(result.ran).toEqual(['generalist', 'clusters', 'specialists', 'student', 'bundle']);
    expect(result.clusters!.adjustedRandIndex).toBeGreaterThan(0.5);
    // Measured on the held-out validation rows (12 classes × 10), not on the rows the generalist fit.
    expect(result.clusters!.transferExamples).toBe(120);
    expect(result.specialists!.length).toBe(result.clusters!.clusters.length);
    // The offset is fitted on validation rows; on the unseen test rows (120, so a sampling error of
    // ≈ 0.04 in the share) the mean dustbin probability must match the true share.
    for (const s of result.specialists!) {
      expect(Math.abs(s.meanDustbinProbability - s.nonSpecialFraction)).toBeLessThan(0.08);
    }
    const state = JSON.parse(readFileSync(join(runDir, 'state.json'), 'utf8'));
    expect(Object.keys(state.stages)).toEqual(['generalist', 'clusters', 'specialists', 'student', 'bundle']);
    expect(existsSync(join(runDir, 'clusters', 'heatmap.svg'))).toBe(true);

    const bundle = await loadBundle(out);
    expect(bundle.manifest.specialists.length).toBe(result.specialists!.length);
    expect(bundle.manifest.generalist.metrics.testErrors).toBe(result.generalist!.testErrors);
    expect(bundle.manifest.student?.teacher).toBe('generalist');
    const metrics = bundle.manifest.metrics;
    expect(metrics.generalistTestErrors).toBe(result.generalist!.testErrors);
    expect(metrics.ensembleTestErrors).toBeGreaterThanOrEqual(0);
    expect(metrics.ensembleTestErrors).toBeLessThan(metrics.testExamples / 2);
    bundle.dispose();

    // A second run does nothing; a changed student config reruns the student and the bundle only.
    const again = await runPipeline(parsePipelineConfig(TINY), { runDir, out, log: quiet, ensemble: pipelineEnsemble });
    expect(again.ran).toEqual([]);
    const changed = await runPipeline(
      parsePipelineConfig({ ...TINY, student: { ...TINY.student, net: { hidden: [24] } } }),
      { runDir, out, log: quiet, ensemble: pipelineEnsemble },
    );
    expect(changed.ran).toEqual(['student', 'bundle']);
    expect(changed.skipped).toEqual(['generalist', 'clusters', 'specialists']);
    // The ensemble as teacher: the student distils the combined distribution (the loop the paper left open).
    const fromEnsemble = await runPipeline(
      parsePipelineConfig({ ...TINY, student: { ...TINY.student, teacher: 'ensemble' } }),
      { runDir, out, log: quiet, ensemble: pipelineEnsemble },
    );
    expect(fromEnsemble.ran).toEqual(['student', 'bundle']);
    expect(fromEnsemble.student!.teacher).toBe('ensemble');
    expect(fromEnsemble.student!.testErrorRate).toBeLessThan(0.5);
    // Soft targets carry the generalist's own (natural-prior) posterior: no hard-label correction
    // applies, and the fitted one keeps them calibrated too.
    const soft = await runPipeline(
      parsePipelineConfig({ ...TINY, specialists: { ...TINY.specialists, softTargets: true } }),
      { runDir, out, log: quiet, ensemble: pipelineEnsemble },
    );
    expect(soft.ran).toEqual(['specialists', 'student', 'bundle']);
    for (const s of soft.specialists!) {
      expect(Math.abs(s.meanDustbinProbability - s.nonSpecialFraction)).toBeLessThan(0.08);
    }
  });

  it('retrains on new contents of a files dataset at the same paths, and on nothing else', async () => {
    const data = join(tmp, 'files-data');
    const synthetic = { ...DEFAULT_SYNTHETIC, superclasses: 4, finePerSuperclass: 3, inputSize: 16, trainPerClass: 40,
      testPerClass: 10, seed: 3 };
    const dataset = await writeSyntheticFiles(data, synthetic);
    const config = parsePipelineConfig({ ...TINY, dataset });
    const runDir = join(tmp, 'files-run');
    const out = join(tmp, 'bundles', 'files');
    await runPipeline(config, { runDir, out, log: quiet });
    expect((await runPipeline(config, { runDir, out, log: quiet })).ran).toEqual([]);
    await writeSyntheticFiles(data, { ...synthetic, seed: 4 });
    const rerun = await runPipeline(config, { runDir, out, log: quiet });
    expect(rerun.ran).toEqual(['generalist', 'clusters', 'specialists', 'student', 'bundle']);
  });

  it('resumes after a kill between stages and mid-stage, redoing nothing finished', async () => {
    const runDir = join(tmp, 'resume');
    const out = join(tmp, 'bundles', 'resume');
    let stopRequested = false;
    const interrupted = runPipeline(parsePipelineConfig(TINY), {
      runDir,
      out,
      shouldStop: () => stopRequested,
      log: (line) => {
        if (line.startsWith('student: running')) stopRequested = true;
      },
    });
    await expect(interrupted).rejects.toBeInstanceOf(StageInterrupted);
    const resumed = await runPipeline(parsePipelineConfig(TINY), { runDir, out, log: quiet });
    expect(resumed.skipped).toEqual(['generalist', 'clusters', 'specialists']);
    expect(resumed.ran).toEqual(['student', 'bundle']);
  });

  it('trains specialists in parallel worker processes, and one at a time on request', async () => {
    const runDir = join(tmp, 'parallel');
    const config = parsePipelineConfig({ ...TINY, specialists: { ...TINY.specialists, parallel: 2 } });
    const only = await runPipeline(config, { runDir, out: join(tmp, 'bundles', 'parallel'), log: quiet,
      onlySpecialists: ['s0'] });
    expect(only.specialists!.map((s) => s.id)).toEqual(['s0']);
    expect(existsSync(join(runDir, 'specialists', 's1', 'metrics.json'))).toBe(false);
    const all = await runPipeline(config, { runDir, out: join(tmp, 'bundles', 'parallel'), log: quiet });
    expect(all.specialists!.length).toBe(all.clusters!.clusters.length);
    expect(all.failedSpecialists).toEqual([]);
  }, 180_000);

  it('reports a failing specialist after its retries and keeps the others', async () => {
    const runDir = join(tmp, 'parallel'); // trained by the test above
    const clustersPath = join(runDir, 'clusters', 'clusters.json');
    const clusters = JSON.parse(readFileSync(clustersPath, 'utf8'));
    clusters.clusters.push({ id: 'sbad', classes: [999] }); // no such class: its training throws
    writeFileSync(clustersPath, JSON.stringify(clusters));
    const lines: string[] = [];
    const config = parsePipelineConfig({ ...TINY, specialists: { ...TINY.specialists, parallel: 2, attempts: 2 } });
    const result = await runPipeline(config, { runDir, out: join(tmp, 'bundles', 'parallel'), log: (l) => lines.push(l),
      onlySpecialists: ['s0', 'sbad'] });
    expect(result.failedSpecialists).toEqual(['sbad']);
    expect(result.specialists!.map((s) => s.id)).toEqual(['s0']);
    expect(lines.filter((l) => /specialist sbad: attempt \d\/2 failed/.test(l))).toHaveLength(2);
  }, 120_000);

  it('runs as an indexed job: shards on shared storage, then an assembly identical to the one-machine bundle',
    async () => {
      // Every run in its own process on one OpenBLAS thread, so the two ways do the same arithmetic.
      const configPath = join(tmp, 'tiny.json');
      writeFileSync(configPath, JSON.stringify(TINY));
      const pipeline = (args: string[], env: Record<string, string> = {}) =>
        new Promise<{ code: number | null; stderr: string }>((resolve) => {
          const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/pipeline.ts', '--config', configPath,
            ...args], { env: { ...process.env, OPENBLAS_NUM_THREADS: '1', ...env },
            stdio: ['ignore', 'ignore', 'pipe'] });
          let stderr = '';
          child.stderr.on('data', (chunk) => (stderr += chunk));
          child.on('exit', (code) => resolve({ code, stderr }));
        });
      const sharded = join(tmp, 'sharded');
      const out = join(tmp, 'bundles', 'sharded');
      const single = join(tmp, 'single');
      // A shard never trains the shared stages itself (checked in-process: it fails before any work).
      await expect(
        runPipeline(parsePipelineConfig(TINY), { runDir: sharded, out, log: quiet, shard: { index: 0, count: 2 } }),
      ).rejects.toThrow(/generalist is not done .*--until clusters/);
      // The one-machine pipeline runs beside the prepare step and the shards.
      const oneMachine = pipeline(['--run', single, '--out', join(tmp, 'bundles', 'single')]);
      expect((await pipeline(['--run', sharded, '--out', out, '--until', 'clusters'])).code).toBe(0);
      expect(existsSync(join(sharded, 'specialists'))).toBe(false);
      // Index 0 from the environment, as Kubernetes gives it; both at once on the shared folder.
      const shards = await Promise.all([
        pipeline(['--run', sharded, '--out', out, '--count', '2'], { JOB_COMPLETION_INDEX: '0' }),
        pipeline(['--run', sharded, '--out', out, '--index', '1', '--count', '2']),
      ]);
      expect(shards.map((r) => r.code)).toEqual([0, 0]);
      const ids: string[] = JSON.parse(readFileSync(join(sharded, 'clusters', 'clusters.json'), 'utf8')).clusters.map((
        c: { id: string },
      ) => c.id);
      for (const id of ids) expect(existsSync(join(sharded, 'specialists', id, 'metrics.json')), id).toBe(true);
      expect((await pipeline(['--run', sharded, '--out', out, '--assemble'])).code).toBe(0);

      expect((await oneMachine).code).toBe(0);
      // The weight files of every model, by path and sha256.
      const weights = (dir: string) =>
        Object.entries(
          JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')).files as Record<string, { sha256: string }>,
        ).filter(([path]) => path.endsWith('.bin')).map(([path, { sha256 }]) => `${path} ${sha256}`).sort();
      expect(weights(out).length).toBe(2 + ids.length);
      expect(weights(out)).toEqual(weights(join(tmp, 'bundles', 'single')));

      // A missing shard is named, not trained.
      rmSync(join(sharded, 'specialists', ids[1]), { recursive: true, force: true });
      rmSync(join(sharded, 'specialists', 'done'), { force: true });
      await expect(runPipeline(parsePipelineConfig(TINY), { runDir: sharded, out, log: quiet, assemble: true })).rejects
        .toThrow(new RegExp(`cannot assemble: specialists ${ids[1]} are not trained`));
    }, 240_000);

  it("refuses to publish the bundle over one of the run's stage folders", async () => {
    const runDir = join(tmp, 'clash');
    await expect(runPipeline(parsePipelineConfig(TINY), { runDir, out: join(runDir, 'bundle'), log: quiet })).rejects
      .toThrow(/is the bundle stage's folder/);
    expect(existsSync(runDir)).toBe(false);
  });

  it('rejects invalid configs naming the path of each bad field', () => {
    const bad = { ...TINY, generalist: { ...TINY.generalist, train: { ...train(4), epochs: 0 } },
      specialists: { train: train(1), parallel: -1 } };
    expect(() => parsePipelineConfig(bad, 'bad.json')).toThrow(
      /bad\.json: invalid pipeline config[\s\S]*generalist\.train\.epochs[\s\S]*specialists\.parallel/,
    );
    expect(() => parsePipelineConfig({ ...TINY, dataset: { name: 'imagenet' } })).toThrow(/dataset\.name/);
  });
});

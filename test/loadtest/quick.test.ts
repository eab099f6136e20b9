// The `--quick` load test and A/B comparison end to end on a tiny real bundle (synthetic data,
// trained here in seconds): servers in child processes, autocannon, reports. Asserts that the
// runs complete without a failed request and that the numbers are sane, never how fast they are.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initEngine } from '../../src/engine/index.js';
import { parsePipelineConfig, type PipelineConfigInput, runPipeline } from '../../src/pipeline/index.js';
import { TINY as SHARED_TINY, TINY_TEST_ROWS } from '../fixtures/tiny-pipeline.js';
import { parseBudgets, QUICK_AB, QUICK_LOADTEST, runAb, runLoadtest, writeAbReport, writeLoadtestReport,
  type Measurement } from '../../loadtest/index.js';

const TINY: PipelineConfigInput = { ...SHARED_TINY, name: 'tiny-loadtest' };
const TEST_ROWS = TINY_TEST_ROWS;

const tmp = mkdtempSync(join(tmpdir(), 'loadtest-'));
const bundleDir = join(tmp, 'bundle');
beforeAll(async () => {
  await initEngine({ backend: 'auto', log: () => {} });
  await runPipeline(parsePipelineConfig(TINY), { runDir: join(tmp, 'run'), out: bundleDir, log: () => {} });
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** Every answer a 2xx, and numbers that could be true: positive, ordered, within the timeout. */
function expectSane(m: Measurement): void {
  expect(m.errors + m.timeouts + m.non2xx).toBe(0);
  expect(m.ok).toBeGreaterThan(0);
  expect(m.rps).toBeGreaterThan(0);
  const { p50, p90, p99, p999, max } = m.latencyMs as Record<string, number>;
  expect(p50).toBeGreaterThan(0);
  expect([p50 <= p90, p90 <= p99, p99 <= p999, p999 <= max]).toEqual([true, true, true, true]);
  expect(max).toBeLessThan(10_000);
}

describe('npm run loadtest -- --quick', () => {
  it('sweeps the trivial route and every endpoint, batching on and off, with zero errors', async () => {
    const result = await runLoadtest({ ...QUICK_LOADTEST, bundleDir, budgets: parseBudgets('errors=0') });
    const endpoints = ['baseline', 'student', 'ensemble', 'student (batching off)', 'ensemble (batching off)',
      'student (v2, JSON)', 'student (v2, binary)'];
    expect(result.cells.map((c) => `${c.endpoint}@${c.connections}`).sort()).toEqual(
      QUICK_LOADTEST.connections.flatMap((c) => endpoints.map((e) => `${e}@${c}`)).sort(),
    );
    for (const cell of result.cells) {
      expectSane(cell.measurement);
      expect(cell.rpsRatio).toBeGreaterThan(0);
      if (cell.model === 'baseline') expect(cell.rpsRatio).toBe(1);
    }
    expect(result.batching.map((b) => b.speedup! > 0)).toEqual([true, true, true, true]);
    expect(result.targets.find((t) => t.target.startsWith('student errors'))?.met).toBe(true);
    // The binary tensor data extension, through autocannon as a client would send it.
    expect(result.targets.find((t) => t.target.startsWith('student v2 rps binary / JSON'))?.value).toBeGreaterThan(0);
    // errors=0 holds the model endpoints with batching on (student, ensemble, student over v2 both ways) at every
    // level.
    expect(result.budgets.length).toBe(4 * QUICK_LOADTEST.connections.length);
    expect(result.passed).toBe(true);

    const markdown = await writeLoadtestReport(result, join(tmp, 'loadtest'));
    expect(markdown).toMatch(/load generator \(autocannon\) runs on the same \d+-core machine/);
    expect(JSON.parse(readFileSync(join(tmp, 'loadtest', 'summary.json'), 'utf8')).cells.length).toBe(
      result.cells.length,
    );
    expect(readFileSync(join(tmp, 'loadtest', 'sweep.svg'), 'utf8')).toMatch(/^<svg[\s\S]*Latency p99[\s\S]*<\/svg>$/);
  });
});

describe('npm run ab -- --quick', () => {
  it('scores every test example through the API and finds the A/B report in agreement', async () => {
    const result = await runAb({ ...QUICK_AB, bundleDir });
    expect(result.examples).toBe(TEST_ROWS);
    for (const side of [result.models.student, result.models.ensemble]) {
      expect(side.accuracy).toBeGreaterThan(1 / 12);
      expect(side.correct).toBe(Math.round(side.accuracy * TEST_ROWS));
      expectSane(side.load);
    }
    expect(result.agreement).toBeGreaterThan(0);
    expect(result.agreement).toBeLessThanOrEqual(1);
    expect(result.models.ensemble.meanActiveSpecialists).toBeGreaterThanOrEqual(0);
    expect(result.cost.parameters).toBeGreaterThan(1);
    expect(Object.values(result.ab.served).reduce((a, b) => a + b, 0)).toBe(TEST_ROWS);
    expect(result.ab.checks.filter((c) => !c.ok)).toEqual([]);
    expect(result.passed).toBe(true);

    const markdown = await writeAbReport(result, join(tmp, 'ab'));
    expect(markdown).toMatch(/load generator \(autocannon\) runs on the same \d+-core machine/);
    expect(existsSync(join(tmp, 'ab', 'latency.svg'))).toBe(true);
  });
});

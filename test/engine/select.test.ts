import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { initEngine, loadBlas, parseBackendChoice } from '../../src/engine/index.js';

const fixture = fileURLToPath(new URL('../fixtures/engine-choice.ts', import.meta.url));

/** Starts a fresh process with the given environment and returns its output lines as parsed JSON. */
function choose(env: Record<string, string>): { stdout: Record<string, unknown>[]; stderr: string } {
  const result = spawnSync(process.execPath, ['--import', 'tsx', fixture], {
    env: { ...process.env, DISTILL_BACKEND: '', DISTILL_NO_BLAS: '', ...env },
    encoding: 'utf8',
    timeout: 60_000,
  });
  const stdout = result.stdout.trim().split('\n').filter(Boolean).map((line) =>
    JSON.parse(line) as Record<string, unknown>
  );
  return { stdout, stderr: result.stderr };
}

describe('backend selection', () => {
  it('parses the choices and rejects unknown ones with the list', () => {
    expect(parseBackendChoice(undefined)).toBe('auto');
    expect(parseBackendChoice('wasm')).toBe('wasm');
    expect(() => parseBackendChoice('gpu')).toThrow(/auto, tensorflow, blas, wasm, cpu/);
  });

  it.skipIf(!loadBlas().ok)('auto picks blas here and says why tensorflow was skipped', async () => {
    const lines: string[] = [];
    const info = await initEngine({ backend: 'auto', log: (line) => lines.push(line) });
    expect(info.backend).toBe('blas');
    expect(info.blasLibrary).toMatch(/OpenBLAS/);
    expect(info.skipped.map((s) => s.backend)).toEqual(['tensorflow']);
    expect(lines.join('\n')).toMatch(/skipped tensorflow: .*tfjs-node-gpu not installed/);
  });

  it('refuses a forced backend that cannot load instead of falling back', () => {
    const { stdout } = choose({ DISTILL_BACKEND: 'tensorflow' });
    const tensorflowInstalled = stdout.some((line) =>
      (line.info as { backend?: string } | undefined)?.backend === 'tensorflow'
    );
    if (tensorflowInstalled) return; // a machine with tfjs-node: nothing to refuse
    expect(stdout.find((line) => line.error)?.error).toMatch(/"tensorflow" was forced but cannot load/);
  });

  it('without nblas, auto falls back to wasm and prints the fix', () => {
    const { stdout, stderr } = choose({ DISTILL_NO_BLAS: '1' });
    expect(stdout[0].beforeInit).toMatch(/call initEngine\(\) first/);
    expect((stdout[1].info as { backend: string }).backend).toBe('wasm');
    expect(stderr).toMatch(/skipped blas: .*DISTILL_NO_BLAS/);
  });

  it('a forced blas without nblas is an error naming the fix', () => {
    const { stdout } = choose({ DISTILL_NO_BLAS: '1', DISTILL_BACKEND: 'blas' });
    expect(stdout[1].error).toMatch(/"blas" was forced but cannot load: .*unset it/);
  });
});

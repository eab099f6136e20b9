import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { youngGenerationSized } from '../../src/engine/index.js';

const fixture = fileURLToPath(new URL('../fixtures/heap-churn.ts', import.meta.url));

function churn(
  mode: 'keep',
): { choice?: { kept: boolean; reason: string }; faultsPerRound: number; pagesPerRound: number } {
  const result = spawnSync(process.execPath, ['--expose-gc', '--import', 'tsx', fixture, mode], { encoding: 'utf8',
    timeout: 60_000 });
  if (result.status !== 0) throw new Error(`heap-churn ${mode} failed: ${result.stderr}`);
  return JSON.parse(result.stdout.trim().split('\n').pop()!);
}

describe.runIf(process.platform === 'linux')('keepFreedMemory', () => {
  it('stops freed kernel-sized arrays from faulting back in on the next allocation', () => {
    const kept = churn('keep');
    expect(kept.choice).toMatchObject({ kept: true });
    expect(kept.faultsPerRound).toBeLessThan(0.1 * kept.pagesPerRound);
    // Only the setting's effect is asserted. Without it glibc's own behaviour decides (1,850-4,150
    // faults of ~4,190 pages per round, moving with machine load), which is no property of this
    // code; `npm run bench:engine` reports page faults per training step for the record.
  });
});

describe('youngGenerationSized', () => {
  it('finds the semi-space flag on the command line or in NODE_OPTIONS, and only there', () => {
    expect(youngGenerationSized(['--max-semi-space-size=64'], '')).toBe(true);
    expect(youngGenerationSized([], '--enable-source-maps --max-semi-space-size=32')).toBe(true);
    expect(youngGenerationSized(['--import', 'tsx'], '--max-old-space-size=4096')).toBe(false);
  });
});

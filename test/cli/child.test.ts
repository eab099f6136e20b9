import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { runChild } from '../../src/cli/index.js';

const SCRIPT = fileURLToPath(new URL('../fixtures/child-script.ts', import.meta.url));

describe('runChild', () => {
  it('resolves with the message a TypeScript child sent, given its arguments and environment', async () => {
    const lines: string[] = [];
    const message = await runChild(SCRIPT, ['message', 'a', 'b'], { label: 'probe', env: { OPENBLAS_NUM_THREADS: '1' },
      onLine: (line) => lines.push(line) });
    expect(message).toEqual({ threads: '1', args: ['a', 'b'] });
    expect(lines).toEqual([]);
  });

  it('rejects with the exit status and the last five stderr lines, having relayed every line', async () => {
    const lines: string[] = [];
    await expect(runChild(SCRIPT, ['fail'], { label: 'specialist s1', onLine: (line) => lines.push(line) })).rejects
      .toThrow('specialist s1: worker exited with code 3: line 3 | line 4 | line 5 | line 6 | line 7');
    expect(lines).toEqual(['line 1', 'line 2', 'line 3', 'line 4', 'line 5', 'line 6', 'line 7']);
  });

  it('resolves undefined for a child that sends nothing, and rejects for a script that does not exist', async () => {
    expect(await runChild(SCRIPT, ['silent'], { label: 'quiet' })).toBeUndefined();
    await expect(runChild(`${SCRIPT}.missing`, [], { label: 'missing' })).rejects.toThrow(
      /missing: worker exited with code 1: .*(Cannot find module|ERR_MODULE_NOT_FOUND)/,
    );
  });
});

import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { backendFlag, parseFlags, scriptUsage, TrainingFlags } from '../../src/cli/index.js';

const Flags = z.object({ threads: z.coerce.number().int().min(1), out: z.string() });
const failing = (message: string): never => {
  throw new Error(message);
};

describe('parseFlags', () => {
  it('returns the typed values when every flag is valid', () => {
    expect(parseFlags(Flags, { threads: '2', out: 'reports/x' }, failing)).toEqual({ threads: 2, out: 'reports/x' });
  });

  it('names each bad flag instead of throwing a ZodError', () => {
    const cases: [unknown, RegExp][] = [
      [{ threads: 'abc', out: 'x' }, /^--threads: .*NaN/i], // malformed
      [{ threads: 'NaN', out: 'x' }, /^--threads: /], // non-finite
      [{ threads: 'Infinity', out: 'x' }, /^--threads: /],
      [{ threads: '0', out: 'x' }, /^--threads: .*>=1/], // out of range
      [{ threads: '1.5', out: 'x' }, /^--threads: .*expected int/],
      [{ threads: '2' }, /^--out: /], // missing
    ];
    for (const [values, pattern] of cases) expect(() => parseFlags(Flags, values, failing)).toThrow(pattern);
  });

  it('reports every problem at once, one line per flag', () => {
    expect(() => parseFlags(Flags, {}, failing)).toThrow(/^--threads: .*\n--out: /);
  });

  it('refuses empty and huge training flags with the flag named', () => {
    const valid = { epochs: '20', 'batch-size': '128', lr: '0.05', optimizer: 'momentum', schedule: 'cosine',
      patience: '0', seed: '1' };
    expect(parseFlags(TrainingFlags, valid, failing).epochs).toBe(20);
    // '' coerces to 0, not positive
    expect(() => parseFlags(TrainingFlags, { ...valid, lr: '' }, failing)).toThrow(/^--lr: /);
    expect(() => parseFlags(TrainingFlags, { ...valid, epochs: '1e400' }, failing)).toThrow(/^--epochs: /); // Infinity
    expect(() => parseFlags(TrainingFlags, { ...valid, optimizer: 'sgd' }, failing)).toThrow(/^--optimizer: /);
  });
});

describe('--backend', () => {
  it('exits 2 naming the flag for an unknown backend, in every script that takes one, before any work', () => {
    for (const script of ['train-generalist', 'distill', 'pipeline', 'evaluate', 'experiment-specialists',
      'experiment-ensemble']) {
      const result = spawnSync(process.execPath, ['--import', 'tsx', `scripts/${script}.ts`, '--backend', 'foo'], {
        encoding: 'utf8',
        timeout: 60_000,
      });
      expect(result.status, script).toBe(2);
      expect(result.stderr, script).toMatch(/--backend: .*"auto"/);
    }
  }, 120_000);

  it('the ensemble experiment refuses an unknown dataset, an empty list and a non-whole worker count, naming the flag',
    () => {
      for (const [flag, value, message] of [['--datasets', 'cifar', /--datasets\.0: .*"fashion-mnist"/], ['--datasets',
        ',', /--datasets\.0/], ['--workers', '0', /--workers: Too small/], ['--workers', '1e400',
        /--workers: .*Infinity/]] as const) {
        const result = spawnSync(process.execPath, ['--import', 'tsx', 'scripts/experiment-ensemble.ts', flag, value], {
          encoding: 'utf8',
          timeout: 60_000,
        });
        expect(result.status, `${flag} ${value}`).toBe(2);
        expect(result.stderr, `${flag} ${value}`).toMatch(message);
      }
    }, 120_000);

  it('passes a known backend through and leaves an absent one to the environment', () => {
    expect(backendFlag('blas')).toBe('blas');
    expect(backendFlag(undefined)).toBeUndefined();
  });
});

describe('--help and unknown flags', () => {
  const run = (script: string, ...args: string[]) =>
    spawnSync(process.execPath, ['--import', 'tsx', `scripts/${script}.ts`, ...args], { encoding: 'utf8',
      timeout: 60_000 });

  it("prints a script's opening comment as its usage", () => {
    const usage = scriptUsage('scripts/evaluate.ts');
    expect(usage.split('\n')[0]).toMatch(/^Evaluate a model or a bundle/);
    expect(usage).toContain('npm run evaluate -- --bundle models/default --which ensemble');
    expect(usage).not.toMatch(/^\/\/|import /m);
  });

  it('answers --help with the usage and exit 0, and an unknown flag with one line and exit 2, no stack', () => {
    for (const script of ['evaluate', 'serve']) {
      const help = run(script, '--help');
      expect(help.status, script).toBe(0);
      expect(help.stdout, script).toContain(`npm run ${script} --`);
      if (script === 'serve') expect(help.stdout).toMatch(/--max-connections\s+SERVE_MAX_CONNECTIONS/);
      const bogus = run(script, '--no-such-flag');
      expect(bogus.status, script).toBe(2);
      expect(bogus.stderr, script).toMatch(/^Unknown option '--no-such-flag'/);
      expect(bogus.stderr, script).not.toMatch(/\n\s+at /);
    }
  }, 120_000);

  it('refuses bad values of the flags scripts parse themselves with exit 2 before any work, no stack', () => {
    for (const [script, args, message] of [
      ['train-generalist', ['--dataset', 'bogus'], /^--dataset bogus: name: /],
      ['distill', ['--teacher', 'x', '--temperature', 'abc'], /^--temperature: /],
      ['evaluate', ['--model', 'x', '--which', 'foo'], /^--which: .*"ensemble"/],
    ] as const) {
      const result = run(script, ...args);
      expect(result.status, `${script} ${args.join(' ')}`).toBe(2);
      expect(result.stderr, `${script} ${args.join(' ')}`).toMatch(message);
      expect(result.stderr).not.toMatch(/\n\s+at /);
    }
  }, 120_000);

  it('is how every script reads its command line', () => {
    for (const file of readdirSync('scripts').filter((name) => name.endsWith('.ts'))) {
      const source = readFileSync(`scripts/${file}`, 'utf8');
      expect(source, file).not.toMatch(/\bparseArgs\b/);
      expect(source, file).toMatch(/\b(scriptArgs|exitWithHelpIfAsked)\(/);
    }
  });
});

import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

export interface PeerResult {
  torch: string;
  threads: number;
  trainSgdExamplesPerSecond: number;
  trainAdamExamplesPerSecond: number;
  predictBatch1Micros: number;
  predictBatch64Micros: number;
}

export const PEER_PYTHON = '/usr/bin/python3.11';

/**
 * Runs the PyTorch peer benchmark (shared/peers/torch_mlp.py) and parses its lines. Returns the
 * reason instead when python or torch is missing: the comparison is optional, the engine's own
 * numbers are not.
 */
export function runTorchPeer(script: string, threads = 1): PeerResult | { skipped: string } {
  if (!existsSync(PEER_PYTHON)) return { skipped: `${PEER_PYTHON} not found` };
  if (!existsSync(script)) return { skipped: `${script} not found` };
  const result = spawnSync(PEER_PYTHON, [script, String(threads)], { encoding: 'utf8', timeout: 300_000 });
  if (result.status !== 0) {
    return {
      skipped: `peer failed: ${
        (result.stderr || result.stdout).trim().split('\n').pop()
      } (apt-get install -y python3-torch)`,
    };
  }
  const out = result.stdout;
  const number = (pattern: RegExp) => {
    const match = pattern.exec(out);
    if (!match) throw new Error(`peer output did not match ${pattern}:\n${out}`);
    return Number(match[1]);
  };
  return {
    torch: /torch (\S+)/.exec(out)?.[1] ?? 'unknown',
    threads: number(/threads (\d+)/),
    trainSgdExamplesPerSecond: number(/sgd: .* (\d+) examples\/s/),
    trainAdamExamplesPerSecond: number(/adam: .* (\d+) examples\/s/),
    predictBatch1Micros: number(/predict batch 1: (\d+) us/),
    predictBatch64Micros: number(/predict batch 64: (\d+) us/),
  };
}

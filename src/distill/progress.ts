import cliProgress from 'cli-progress';

export interface Progress {
  update(done: number, status: Record<string, string | number>): void;
  stop(): void;
}

/**
 * A progress bar within an epoch when stderr is a terminal; nothing otherwise (logs and CI get
 * the per-epoch lines alone, not thousands of carriage returns).
 */
export function epochProgress(total: number, label: string): Progress {
  if (!process.stderr.isTTY || process.env.CI) return { update: () => {}, stop: () => {} };
  const bar = new cliProgress.SingleBar({
    format: `${label} [{bar}] {value}/{total} batches | loss {loss} | {rate} ex/s`,
    stream: process.stderr,
    clearOnComplete: true,
    hideCursor: true,
  }, cliProgress.Presets.shades_classic);
  bar.start(total, 0, { loss: '…', rate: '…' });
  return {
    update: (done, status) => bar.update(done, status),
    stop: () => bar.stop(),
  };
}

/** "1h02m", "3m10s", "42s": for ETAs. */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '?';
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { writeJson } from '../files/index.js';

export const STAGES = ['generalist', 'clusters', 'specialists', 'members', 'student', 'bundle'] as const;
export type StageName = (typeof STAGES)[number];

const StageRecord = z.object({
  /** Hash of this stage's config and of every stage it reads from: a change anywhere upstream reruns it. */
  hash: z.string(),
  finishedAt: z.string(),
  seconds: z.number(),
});
export type StageRecord = z.infer<typeof StageRecord>;

const RunState = z.object({ stages: z.partialRecord(z.enum(STAGES), StageRecord) });
export type RunState = z.infer<typeof RunState>;

/** Stable JSON (sorted keys), so equal configs hash equally whatever their key order. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value && typeof value === 'object') {
    return `{${
      Object.keys(value).sort().map((k) => `${JSON.stringify(k)}:${canonical((value as Record<string, unknown>)[k])}`)
        .join(',')
    }}`;
  }
  return JSON.stringify(value);
}

export function stageHash(...parts: unknown[]): string {
  return createHash('sha256').update(canonical(parts)).digest('hex').slice(0, 16);
}

export async function readRunState(runDir: string): Promise<RunState> {
  const path = join(runDir, 'state.json');
  if (!existsSync(path)) return { stages: {} };
  const parsed = RunState.safeParse(JSON.parse(await readFile(path, 'utf8')));
  // An unreadable state only costs a rerun; it must not stop the pipeline.
  return parsed.success ? parsed.data : { stages: {} };
}

export async function recordStage(runDir: string, stage: StageName, record: StageRecord): Promise<void> {
  const state = await readRunState(runDir);
  state.stages[stage] = record;
  await writeJson(join(runDir, 'state.json'), state);
}

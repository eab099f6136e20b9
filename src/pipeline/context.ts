import { join } from 'node:path';
import type { Dataset } from '../data/index.js';
import type { PipelineConfig } from './config.js';

/** What every stage gets: the validated config, its run folder, the dataset, and where to log. */
export interface StageContext {
  config: PipelineConfig;
  runDir: string;
  dataset: Dataset;
  log: (line: string) => void;
  /** True once Ctrl-C was pressed: training stops at the next batch, after a checkpoint. */
  shouldStop: () => boolean;
}

/** Thrown when a stage stopped on request; the run can be resumed from its checkpoints. */
export class StageInterrupted extends Error {
  constructor(stage: string) {
    super(`${stage} interrupted; rerun the same command to resume`);
  }
}

export const stageDir = (ctx: StageContext, ...parts: string[]) => join(ctx.runDir, ...parts);

import * as tf from '@tensorflow/tfjs';
import { join } from 'node:path';
import { timePerCall } from '../bench/index.js';
import { markdownTable, type Cell } from '../report/index.js';
import type { PipelineConfig } from './config.js';
import { loadModel } from '../bundle/index.js';
import type { PipelineResult } from './run.js';

/** Median microseconds of one forward pass at batch 1: what a request of one example costs. */
async function forwardMicros(dir: string, features: number): Promise<number> {
  const model = await loadModel(dir);
  const x = tf.zeros([1, features]);
  const seconds = timePerCall(() =>
    tf.tidy(() => {
      (model.apply(x) as tf.Tensor).dataSync();
    }), { warmup: 10, iterations: 50, runs: 5 });
  x.dispose();
  model.dispose();
  return seconds * 1e6;
}

/**
 * The end-of-run table: each model's test error, parameters and forward latency, then the
 * time each stage took (— for stages that were already up to date).
 */
export async function summaryTable(config: PipelineConfig, result: PipelineResult, runDir: string,
  features: number): Promise<string> {
  const rows: Cell[][] = [];
  const pct = (rate: number | undefined) => (rate === undefined ? undefined : `${(rate * 100).toFixed(2)}%`);
  if (result.generalist) {
    rows.push(['generalist', result.generalist.testErrors, pct(result.generalist.testErrorRate),
      result.generalist.parameters, await forwardMicros(join(runDir, 'generalist', 'model'), features)]);
  }
  for (const s of result.specialists ?? []) {
    rows.push([`specialist ${s.id} [${s.classes.join(' ')}]`, null,
      `${(s.testErrorRateOnClasses * 100).toFixed(2)}% on its classes`, s.parameters,
      await forwardMicros(join(runDir, 'specialists', s.id, 'model'), features)]);
  }
  if (result.student) {
    rows.push([`student (from ${result.student.teacher})`, result.student.testErrors, pct(result.student.testErrorRate),
      result.student.parameters, await forwardMicros(join(runDir, 'student', 'model'), features)]);
  }
  const models = markdownTable(['model', 'test errors', 'test error', 'parameters', 'forward b=1 µs'], rows);
  const stages = markdownTable(['stage', 'seconds'],
    (['generalist', 'clusters', 'specialists', 'student', 'bundle'] as const).map((
      name,
    ) => [name, result.seconds[name] ?? (result.skipped.includes(name) ? 'up to date' : null)]));
  return `## ${config.name}\n\n${models}\n\n${stages}\n`;
}

/** Prints the end-of-run table to stdout. */
export async function printSummary(config: PipelineConfig, result: PipelineResult, runDir: string,
  features: number): Promise<void> {
  console.log(`\n${await summaryTable(config, result, runDir, features)}`);
  if (result.bundle) console.log(`bundle written to ${result.bundle}`);
  if (result.failedSpecialists?.length) {
    console.log(`failed specialists (rerun to retry): ${result.failedSpecialists.join(', ')}`);
  }
}

import { join } from 'node:path';
import type { EngineInfo } from '../engine/index.js';
import { barSpec, lineSpec, markdownTable, renderSvg, type Series, writeAtomic, writeJson } from '../report/index.js';
import type { MnistPaperPlan, MnistPaperResult } from './mnist-paper.js';

/** summary.json, summary.md and the SVG plots beside them. */
export async function writeMnistReport(outDir: string, result: MnistPaperResult, plan: MnistPaperPlan, engine: EngineInfo, wallSeconds: number, workers = 1): Promise<string> {
  const curves: Series[] = result.runs
    .filter((r) => !r.name.startsWith('sweep') && !r.name.startsWith('three'))
    .flatMap((r) => r.history.map((h) => ({ series: r.name, x: h.epoch, y: h.validationError * 100 })));
  await writeAtomic(join(outDir, 'training-curves.svg'), await renderSvg(lineSpec(curves, 'epoch', 'validation error (%)', 'MNIST: validation error by epoch', true)));
  const bars = Object.entries(result.perClassErrors)
    .filter(([name]) => name === 'teacher' || name.endsWith('(seed 1)'))
    .flatMap(([group, errors]) => errors.map((value, digit) => ({ category: String(digit), group, value })));
  await writeAtomic(join(outDir, 'errors-per-class.svg'), await renderSvg(barSpec(bars, 'digit', 'test errors', 'MNIST: test errors per class')));
  if (result.temperatureSweep.length > 0) {
    const sweep = result.temperatureSweep.map((s) => ({ series: '784-30-30-10 student', x: s.temperature, y: s.errors }));
    await writeAtomic(join(outDir, 'temperature-sweep.svg'), await renderSvg(lineSpec(sweep, 'temperature T', 'test errors', 'Distilling into 30 units per layer: test errors by temperature')));
  }
  const table = markdownTable(['run', 'paper (test errors / 10,000)', 'ours'], result.rows.map((r) => [r.run, r.paper, r.ours]));
  const runs = markdownTable(['model', 'epochs', 'best epoch', 'wall s', 'examples/s'],
    result.runs.map((r) => [r.name, r.epochs, r.bestEpoch, r.seconds, r.examplesPerSecond]));
  const markdown = [
    `# MNIST: the paper's §3 experiments${plan.quick ? ' (--quick)' : ''}`,
    '',
    `Engine: ${engine.backend} (${engine.blasLibrary}, ${engine.threads} threads)` +
      (workers > 1 ? `; the teacher trained alone on them, the other runs ${workers} at a time in worker processes sharing the cores out, so their wall times overlap` : '') +
      `. Total wall time ${(wallSeconds / 60).toFixed(1)} min ` +
      `(training times below include only runs trained in this invocation; reloaded runs keep their original time).`,
    `Teacher ${plan.teacherEpochs} epochs; students ${plan.studentEpochs} epochs, seeds ${plan.seeds.join(', ')}; checkpoints selected on the 5,000-image validation split; biases tuned on validation only.`,
    '',
    table,
    '',
    '## Runs',
    '',
    runs,
    '',
    '![training curves](training-curves.svg) ![errors per class](errors-per-class.svg)' + (result.temperatureSweep.length ? ' ![temperature sweep](temperature-sweep.svg)' : ''),
    '',
  ].join('\n');
  await writeAtomic(join(outDir, 'summary.md'), markdown);
  await writeJson(join(outDir, 'summary.json'), { plan, engine, workers, wallSeconds, ...result });
  return markdown;
}

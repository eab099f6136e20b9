import { join } from 'node:path';
import { TrainConfig, type TrainConfigInput } from '../distill/index.js';
import type { EngineInfo } from '../engine/index.js';
import { barSpec, lineSpec, markdownTable, renderSvg, type Series } from '../report/index.js';
import { writeAtomic, writeJson } from '../files/index.js';
import type { Headline, MnistPaperPlan, MnistPaperResult } from './mnist-paper.js';

/** "40 epochs of adam at 0.0005 (constant), weights averaged over epochs 21–40": what a reader needs to rerun it. */
function studentRecipe(input: TrainConfigInput): string {
  const train = TrainConfig.parse(input);
  const schedule = train.schedule.kind;
  const averaged = train.averageWeights ?
    `, weights averaged over epochs ${train.averageWeights.fromEpoch}–${train.epochs}` :
    '';
  const { kind, learningRate } = train.optimizer;
  return `${train.epochs} epochs of ${kind} at ${learningRate} (${schedule})${averaged}`;
}

/** summary.json, summary.md and the SVG plots beside them. */
/** `invocations`: the wall seconds of each invocation that built this table (one unless it was resumed). */
export async function writeMnistReport(outDir: string, result: MnistPaperResult, plan: MnistPaperPlan,
  engine: EngineInfo, invocations: number[], workers = 1): Promise<string> {
  const wallSeconds = invocations.reduce((a, b) => a + b, 0);
  const curves: Series[] = result.runs.filter((r) => !r.name.startsWith('sweep') && !r.name.startsWith('three'))
    .flatMap((r) => r.history.map((h) => ({ series: r.name, x: h.epoch, y: h.validationError * 100 })));
  await writeAtomic(join(outDir, 'training-curves.svg'),
    await renderSvg(lineSpec(curves, 'epoch', 'validation error (%)', 'MNIST: validation error by epoch', true)));
  const bars = Object.entries(result.perClassErrors).filter(([name]) => name === 'teacher' || name.endsWith('(seed 1)'))
    .flatMap(([group, errors]) => errors.map((value, digit) => ({ category: String(digit), group, value })));
  await writeAtomic(join(outDir, 'errors-per-class.svg'),
    await renderSvg(barSpec(bars, 'digit', 'test errors', 'MNIST: test errors per class')));
  if (result.temperatureSweep.length > 0) {
    const sweep = result.temperatureSweep.map((s) => ({ series: '784-30-30-10 student', x: s.temperature,
      y: s.errors })
    );
    await writeAtomic(join(outDir, 'temperature-sweep.svg'),
      await renderSvg(
        lineSpec(sweep, 'temperature T', 'test errors',
          'Distilling into 30 units per layer: test errors by temperature'),
      ));
  }
  if (result.optimizerCurves.length > 0) {
    const points = result.optimizerCurves.map((c) => ({ series: c.optimizer, x: c.epoch, y: c.testError * 10_000 }));
    await writeAtomic(join(outDir, 'optimizers.svg'),
      await renderSvg(
        lineSpec(points, 'epoch', 'test errors / 10,000',
          `Distilled 800-800 student (seed ${plan.seeds[0]}), same teacher: test errors by epoch per optimizer`),
      ));
  }
  const table = markdownTable(['run', 'paper (test errors / 10,000)', 'ours'],
    result.rows.map((r) => [r.run, r.paper, r.ours]));
  const runs = markdownTable(['model', 'epochs', 'best epoch', 'last epoch: loss terms', 'wall s', 'examples/s'],
    result.runs.map((
      r,
    ) => [r.name, r.epochs, r.bestEpoch, lossTerms(r.history[r.history.length - 1]?.terms), r.seconds,
      r.examplesPerSecond]
    ));
  const markdown = [`# MNIST: the paper's §3 experiments${plan.quick ? ' (--quick)' : ''}`, '',
    `Engine: ${engine.backend} (${engine.blasLibrary}, ${engine.threads} threads)` +
    (workers > 1 ?
      `; the teacher trained alone on them, the other runs ${workers} at a time in worker processes sharing the ` +
        `cores out, so their wall times overlap` :
      '') +
    `. Total wall time ${(wallSeconds / 60).toFixed(1)} min` +
    (invocations.length > 1 ?
      ` over ${invocations.length} invocations (${
        invocations.map((v) => (v / 60).toFixed(1)).join(' + ')
      } min; an interrupted table resumes from its finished runs)` :
      '') +
    ' ' +
    `(training times below include only runs trained in this invocation; reloaded runs keep their original time).`,
    `Recipes from configs/mnist-paper.json: teacher ${plan.teacher.train.epochs} epochs; ` +
    `students (the baseline included) ${studentRecipe(plan.student.train)}, seeds ${plan.seeds.join(', ')}; ` +
    (plan.teacher.allTraining ?
      "the teacher trained on all 60,000 training images as the paper's did, its last epoch kept; the students' " :
      '') +
    'checkpoints selected on the 5,000-image validation split; biases tuned on validation only.', '', table, '',
    '## Targets', '',
    markdownTable(['target', 'measured', 'met'], targetRows(result.headline, wallSeconds, plan.quick)), '',
    "What was tried on the way to these numbers, with each run's figures: [tried.md](tried.md).", '', '## Runs', '',
    runs, '',
    '![training curves](training-curves.svg) ![errors per class](errors-per-class.svg)' +
    (result.temperatureSweep.length ? ' ![temperature sweep](temperature-sweep.svg)' : '') +
    (result.optimizerCurves.length ? ' ![optimizers](optimizers.svg)' : ''), ''].join('\n');
  await writeAtomic(join(outDir, 'summary.md'), markdown);
  await writeJson(join(outDir, 'summary.json'), { plan, engine, workers, wallSeconds, invocations, ...result });
  return markdown;
}

const lossTerms = (terms: Record<string, number> | undefined) =>
  Object.entries(terms ?? {}).map(([name, value]) => `${name} ${value.toPrecision(4)}`).join(', ');

/** The targets for the full table, each with what this run measured. */
function targetRows(headline: Headline, wallSeconds: number, quick: boolean): string[][] {
  const yes = (met: boolean) => (met ? 'yes' : '**no**');
  if (quick) {
    const ordered = headline.teacher < headline.distilled && headline.distilled < headline.baseline;
    return [['teacher < distilled < baseline', `${headline.teacher} < ${headline.distilled} < ${headline.baseline}`,
      yes(ordered)], ['wall time ≤ 5 min', `${(wallSeconds / 60).toFixed(1)} min`, yes(wallSeconds <= 300)]];
  }
  const rows = [['teacher ≤ 75 test errors', `${headline.teacher}`, yes(headline.teacher <= 75)], [
    'distilled student closes ≥ 80% of the baseline→teacher gap',
    `${(headline.gapClosed * 100).toFixed(0)}% ` +
    `(needs ≤ ${(headline.baseline - 0.8 * (headline.baseline - headline.teacher)).toFixed(1)} errors, has ${
      headline.distilled.toFixed(1)
    })`,
    yes(headline.gapClosed >= 0.8),
  ]];
  if (headline.threesRight !== undefined) {
    rows.push(['no-3s student: ≥ 98% of test 3s right after bias correction',
      `${(headline.threesRight * 100).toFixed(1)}%`, yes(headline.threesRight >= 0.98)]);
  }
  if (headline.bestTemperature !== undefined) {
    rows.push(['30-unit sweep: best T in [2, 5]', `T = ${headline.bestTemperature}`,
      yes(headline.bestTemperature >= 2 && headline.bestTemperature <= 5)]);
  }
  rows.push(['whole table ≤ 150 min', `${(wallSeconds / 60).toFixed(1)} min`, yes(wallSeconds <= 150 * 60)]);
  return rows;
}

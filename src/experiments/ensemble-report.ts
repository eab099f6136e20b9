import { join } from 'node:path';
import type { EngineInfo } from '../engine/index.js';
import { writeAtomic, writeJson } from '../files/index.js';
import { lineSpec, markdownTable, renderSvg, type Series } from '../report/index.js';
import type { EnsemblePlan, EnsembleResult } from './ensemble.js';

const WALL_BUDGET_MINUTES = 60;
const RECOVERY_TARGET = 0.8;
const yes = (met: boolean) => (met ? 'yes' : '**no**');
const percent = (value: number | undefined) => (value === undefined ? '—' : `${(100 * value).toFixed(0)}%`);

/** The issue's targets, each with what this run measured. */
function targetRows(results: EnsembleResult[], wallSeconds: number): string[][] {
  const largest = (r: EnsembleResult) => r.sizes[r.sizes.length - 1];
  const rows = results.map((r) => {
    const top = largest(r);
    return [`${r.dataset}: the ensemble of ${top.members} beats one net`,
      `${top.ensemble} vs ${r.single.mean.toFixed(1)} test errors`, yes(top.ensemble < r.single.mean)];
  });
  const fashion = results.find((r) => r.dataset === 'fashion-mnist');
  if (fashion) {
    const recovered = largest(fashion).recovered;
    rows.push([`fashion-mnist: the distilled net recovers ≥ ${RECOVERY_TARGET * 100}% of the ensemble's gain`,
      percent(recovered), yes((recovered ?? 0) >= RECOVERY_TARGET)]);
  }
  rows.push([`the experiment runs in ≤ ${WALL_BUDGET_MINUTES} min`, `${(wallSeconds / 60).toFixed(1)} min`,
    yes(wallSeconds <= WALL_BUDGET_MINUTES * 60)]);
  return rows;
}

const errors = (value: number) => (Number.isInteger(value) ? String(value) : value.toFixed(1));
const byT = (values: Record<string, number>) =>
  Object.entries(values).map(([t, e]) => `T=${t}: ${errors(e)}`).join(', ');

function datasetTable(r: EnsembleResult): string {
  return markdownTable(['members K', 'ensemble (mean of probabilities)', 'ensemble (mean of log-probabilities)',
    'distilled net (mean; each seed)', 'T (chosen on validation)', 'validation errors by T (mean)',
    'test errors by T (mean, not used to choose)', 'gain recovered'],
    r.sizes.map((
      s,
    ) => [s.members, s.ensemble, s.ensembleGeometric, `${errors(s.distilled)} (${s.distilledBySeed.join(', ')})`,
      s.temperature, byT(s.validationErrors), byT(s.testErrorsByTemperature),
      s.members > 1 ? percent(s.recovered) : '—']
    ));
}

/**
 * summary.json, summary.md and errors-vs-members.svg. `invocations`: the wall seconds of each invocation (more than one
 * when resumed).
 */
export async function writeEnsembleReport(outDir: string, results: EnsembleResult[], plan: EnsemblePlan,
  engine: EngineInfo, invocations: number[], workers: number): Promise<string> {
  const wallSeconds = invocations.reduce((a, b) => a + b, 0);
  const points: Series[] = results.flatMap((r) =>
    r.sizes.flatMap((
      s,
    ) => [{ series: `${r.dataset}: ensemble`, x: s.members, y: s.ensemble }, { series: `${r.dataset}: distilled net`,
      x: s.members, y: s.distilled }, { series: `${r.dataset}: one net (mean of members)`, x: s.members,
      y: r.single.mean }]
    )
  );
  await writeAtomic(join(outDir, 'errors-vs-members.svg'),
    await renderSvg(
      lineSpec(points, 'members K', 'test errors / 10,000',
        'Ensembles of K independently trained nets, and one net distilled from each', true),
    ));
  const net = plan.member.net;
  const markdown = ['# An ensemble of independently trained nets as the teacher', '',
    `Engine: ${engine.backend} (${engine.blasLibrary}, ${engine.threads} threads), ${workers} run(s) at a time in ` +
      `worker processes. ` +
    `Total wall time ${(wallSeconds / 60).toFixed(1)} min${
      invocations.length > 1 ?
        ` over ${invocations.length} invocations (${
          invocations.map((v) => (v / 60).toFixed(1)).join(' + ')
        } min; resumed from finished runs)` :
        ''
    }.`,
    `Members: ${net.hidden.join('-')} ReLU MLPs, hidden dropout ${net.hiddenDropout}, ` +
    `${plan.member.train.epochs} epochs of ${plan.member.train.optimizer.kind} on hard labels, ` +
    `seeds ${plan.seeds.join(', ')}; ` +
    `the ensemble of K is the first K. Pooled by averaging their probabilities (the teacher), with the mean of ` +
      `log-probabilities shown beside it. ` +
    `Each distilled net has the members' architecture, trained ${plan.distilledEpochs} epochs ` +
    `on the training split's soft targets (hard-label weight ${plan.hardWeight}) ` +
    `at T ∈ {${plan.temperatures.join(', ')}} ` +
    `from ${plan.studentSeeds.length} seed(s) (${plan.studentSeeds.join(', ')}), the same for every K and T; ` +
    'the T kept is the one whose nets make the fewest validation errors on average, ' +
    'and their mean test errors are reported. ' +
    '"Gain recovered" is (one net − distilled) / (one net − ensemble), one net being the mean of the members alone.',
    '', '## Targets', '', markdownTable(['target', 'measured', 'met'], targetRows(results, wallSeconds)), '',
    ...results.flatMap((
      r,
    ) => [`## ${r.dataset} (test errors of ${r.testExamples.toLocaleString('en')})`, '',
      `One net: ${r.single.mean.toFixed(1)} (members alone: ${r.memberErrors.join(', ')}).`, '', datasetTable(r), '']
    ), '![errors vs members](errors-vs-members.svg)', '', 'What was tried before this table: [tried.md](tried.md).', '']
    .join('\n');
  await writeAtomic(join(outDir, 'summary.md'), markdown);
  await writeJson(join(outDir, 'summary.json'), { plan, engine, workers, wallSeconds, invocations, results });
  return markdown;
}

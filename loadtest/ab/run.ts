import { loadavg } from 'node:os';
import type { Manifest } from '../../src/bundle/index.js';
import { measure, type Measurement, medianOf } from '../cannon.js';
import { type AbInput, type AbOptions, AbOptionsSchema, type LoadSettings } from '../options.js';
import { loadTestData, predictBodies } from '../payloads.js';
import { type ChildServer, startChild } from '../servers.js';
import { modelTargets, type TargetVerdict } from '../targets.js';
import { checkLedger, type LedgerCheck } from './check.js';
import { driveAb, type LedgerCounts } from './drive.js';
import { agreement, type ModelScore, scoreModel } from './score.js';
import { machineRecord, type MachineRecord } from '../machine.js';

// npm run ab: student vs ensemble on the same server, the same examples and the same load.

const MODELS = ['student', 'ensemble'] as const;
type Side = (typeof MODELS)[number];

export interface SideReport {
  accuracy: number;
  correct: number;
  /** The pipeline's own in-process evaluation, from the manifest, when it covered the same examples. */
  offlineAccuracy: number | null;
  /** Median over the repeats at `connections`; errors summed. */
  load: Measurement;
  runs: Measurement[];
  meanActiveSpecialists: number | null;
  /** Weights a forward pass multiplies per example (≈ multiply-adds for these MLPs). */
  parametersPerExample: number;
}

export interface AbResult {
  date: string;
  quick: boolean;
  machine: MachineRecord;
  bundle: { dir: string; name: string; dataset: string; classes: number };
  server: { url: string | null; shadow: boolean };
  examples: number;
  connections: number;
  load: LoadSettings;
  models: Record<Side, SideReport>;
  /** Fraction of test examples on which the two answer the same class. */
  agreement: number;
  /** Ensemble over student: how much more each request costs. */
  cost: { rps: number | null; p50: number | null; p99: number | null; parameters: number };
  targets: TargetVerdict[];
  ab: { examples: number; seconds: number; served: Record<string, number>; counts: Record<string, LedgerCounts>;
    checks: LedgerCheck[] };
  /** Accuracy through the API against the pipeline's offline evaluation. */
  offlineChecks: LedgerCheck[];
  /** Every check agreed and no request failed: the CLI exits non-zero otherwise. */
  passed: boolean;
}

function offlineAccuracy(manifest: Manifest, model: Side, examples: number): number | null {
  const metrics = model === 'student' ? manifest.student?.metrics : manifest.metrics;
  const errors = model === 'student' ? metrics?.testErrors : metrics?.ensembleTestErrors;
  const total = metrics?.testExamples;
  return errors === undefined || total !== examples ? null : 1 - errors / total;
}

function parametersPerExample(manifest: Manifest, model: Side, score: ModelScore): number {
  if (model === 'student') return manifest.student?.architecture.parameters ?? 0;
  const specialists = manifest.specialists.reduce(
    (sum, s) => sum + ((score.activeCounts[s.id] ?? 0) / score.examples) * s.architecture.parameters,
    0,
  );
  return manifest.generalist.architecture.parameters + specialists;
}

const ratio = (a: number | null | undefined,
  b: number | null | undefined) => (a == null || b == null || b === 0 ? null : a / b);

/**
 * Scores both models on the test split through the API, loads each at `connections`, drives the
 * A/B routes with feedback, and checks the A/B report against the offline numbers.
 *
 * @example
 *   const result = await runAb({ bundleDir: 'models/default', ...QUICK_AB }, console.log);
 */
export async function runAb(input: AbInput, log: (line: string) => void = () => {}): Promise<AbResult> {
  const options: AbOptions = AbOptionsSchema.parse(input);
  const loadavgAtStart = loadavg();
  const { manifest, split } = await loadTestData(options.bundleDir);
  const examples = Math.min(options.examples ?? split.n, split.n);
  const deadlineMs = options.phaseTimeoutS * 1000;
  let server: ChildServer | undefined;
  try {
    if (!options.url) log('starting the server (student:50,ensemble:50, shadow runs on)…');
    server = options.url ?
      undefined :
      await startChild({ kind: 'model',
        config: { bundleDir: options.bundleDir, logLevel: options.logLevel, shadow: true } });
    const url = options.url ?? (server as ChildServer).url;

    const scores = {} as Record<Side, ModelScore>;
    for (const model of MODELS) {
      scores[model] = await scoreModel(url, model, split, examples, { chunk: options.chunk,
        concurrency: options.concurrency, deadlineMs });
      log(
        `${model}: ${scores[model].correct}/${examples} correct through the API (${
          (scores[model].accuracy * 100).toFixed(2)
        }%) in ${scores[model].seconds.toFixed(1)} s`,
      );
    }

    const bodies = predictBodies(split, options.payloads);
    const runs: Record<Side, Measurement[]> = { student: [], ensemble: [] };
    for (let r = 0; r < options.repeats; r++) {
      // Alternating which goes first, so neither always runs on the warmer (or busier) machine.
      for (const model of r % 2 ? [...MODELS].reverse() : MODELS) {
        const m = await measure({ url, path: `/v1/models/${model}/predict`, bodies }, options.connections,
          options.load);
        runs[model].push(m);
        log(
          `run ${r + 1}/${options.repeats} ${model} @${options.connections}: ${m.rps.toFixed(0)} rps, p50 ${
            m.latencyMs.p50?.toFixed(2)
          } ms, p99 ${m.latencyMs.p99?.toFixed(2)} ms, errors ${m.errors + m.non2xx}`,
        );
      }
    }

    log(`driving /v1/ab/predict with ${examples} examples, then feedback…`);
    const drive = await driveAb(url, split, examples, { concurrency: options.concurrency, deadlineMs });
    const labels = split.y.subarray(0, examples);
    const checks = checkLedger(drive, scores, labels, options.tolerance);

    const models = Object.fromEntries(MODELS.map((model): [Side, SideReport] => {
      const score = scores[model];
      return [model, {
        accuracy: score.accuracy,
        correct: score.correct,
        offlineAccuracy: offlineAccuracy(manifest, model, examples),
        load: medianOf(runs[model]),
        runs: runs[model],
        meanActiveSpecialists: score.meanActiveSpecialists,
        parametersPerExample: parametersPerExample(manifest, model, score),
      }];
    })) as Record<Side, SideReport>;
    const { student, ensemble } = models;
    const offlineChecks = MODELS.filter((m) => models[m].offlineAccuracy !== null).map((m): LedgerCheck => {
      const diff = Math.abs(models[m].accuracy - (models[m].offlineAccuracy as number));
      return { check: `${m}: accuracy through the API vs the pipeline's`, reported: models[m].accuracy,
        expected: models[m].offlineAccuracy, allowed: options.tolerance, ok: diff <= options.tolerance + 1e-12 };
    });
    const failures = MODELS.reduce((s, m) => s + models[m].load.errors + models[m].load.non2xx, 0);
    const served = Object.fromEntries(
      Object.keys(drive.counts).map((v) => [v, drive.servedBy.filter((s) => s === v).length]),
    );
    return {
      date: new Date().toISOString(),
      quick: options.quick,
      machine: machineRecord(loadavgAtStart),
      bundle: { dir: options.bundleDir, name: manifest.name, dataset: manifest.dataset.name,
        classes: manifest.dataset.classNames.length },
      server: { url: options.url ?? null, shadow: drive.shadow },
      examples,
      connections: options.connections,
      load: options.load,
      models,
      agreement: agreement(scores.student.classes, scores.ensemble.classes),
      cost: {
        rps: ratio(student.load.rps, ensemble.load.rps),
        p50: ratio(ensemble.load.latencyMs.p50, student.load.latencyMs.p50),
        p99: ratio(ensemble.load.latencyMs.p99, student.load.latencyMs.p99),
        parameters: ensemble.parametersPerExample / student.parametersPerExample,
      },
      targets: modelTargets({ student: student.load, ensemble: ensemble.load }, options.connections),
      ab: { examples: drive.examples, seconds: drive.seconds, served, counts: drive.counts, checks },
      offlineChecks,
      passed: failures === 0 && checks.every((c) => c.ok) && offlineChecks.every((c) => c.ok),
    };
  } finally {
    await server?.close();
  }
}

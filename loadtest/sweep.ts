import { loadavg } from 'node:os';
import { parseServeConfig } from '../src/serve/index.js';
import { type BudgetVerdict, checkBudgets } from './budget.js';
import { type Endpoint, measure, type Measurement, medianOf } from './cannon.js';
import { type LoadtestInput, type LoadtestOptions, LoadtestOptionsSchema, type LoadSettings } from './options.js';
import { loadTestData, predictBodies, v2Bodies } from './payloads.js';
import { BASELINE_PATH, type ChildServer, closeAll, startChild } from './servers.js';
import { batchingTarget, binaryTarget, modelTargets, TARGETS, type TargetVerdict } from './targets.js';
import type { Split } from '../src/data/index.js';
import { machineRecord, type MachineRecord } from './machine.js';

// npm run loadtest: the trivial route, each model endpoint, and the same with batching off,
// swept over connection counts in one run, so every ratio compares numbers taken within minutes
// of each other on the same (shared, noisy) machine.

export type ModelId = 'student' | 'generalist' | 'ensemble';

export interface Cell {
  /** 'baseline', 'student', …, or 'student (batching off)'. */
  endpoint: string;
  model: ModelId | 'baseline';
  batching: 'on' | 'off' | null;
  connections: number;
  /** The median over the rounds (failures summed). */
  measurement: Measurement;
  runs: Measurement[];
  /** rps / the baseline route's rps at the same connections. */
  rpsRatio: number | null;
}

export interface BatchingComparison {
  model: ModelId;
  connections: number;
  rpsOn: number;
  rpsOff: number;
  speedup: number | null;
}

export interface LoadtestResult {
  date: string;
  quick: boolean;
  machine: MachineRecord;
  bundle: { dir: string; name: string; dataset: string; classes: number; inputSize: number };
  server: { url: string | null; batchingOn: { maxBatchSize: number; maxQueueDelayMs: number };
    batchingOff: { maxBatchSize: number; maxQueueDelayMs: number } | null; logLevel: string };
  payloads: number;
  load: LoadSettings;
  rounds: number;
  connections: number[];
  cells: Cell[];
  batching: BatchingComparison[];
  targets: TargetVerdict[];
  budgets: BudgetVerdict[];
  /** False when any budget was missed: the CLI exits non-zero. */
  passed: boolean;
}

const OFF = { maxBatchSize: 1, maxQueueDelayMs: 0 };
const predictPath = (model: ModelId) => `/v1/models/${model}/predict`;
const label = (model: ModelId | 'baseline',
  batching: 'on' | 'off' | null) => (batching === 'off' ? `${model} (batching off)` : model);

/** Which models a bundle can answer with, by its manifest (as the server decides it). */
function servable(manifest: { student?: unknown; combiner?: unknown }): Set<ModelId> {
  return new Set<ModelId>(['generalist', ...(manifest.student ? ['student' as const] : []),
    ...(manifest.combiner ? ['ensemble' as const] : [])]);
}

interface Planned {
  model: ModelId | 'baseline';
  batching: 'on' | 'off' | null;
  endpoint: Endpoint; /** The cell's name when not the model's. */
  name?: string;
}

/**
 * The student over the v2 protocol, its input as JSON numbers and as binary tensor data: the same rows, the same model.
 */
export const V2_JSON = 'student (v2, JSON)';
export const V2_BINARY = 'student (v2, binary)';

/**
 * Level by level, every endpoint in turn, the whole sweep `rounds` times: drift in the machine's
 * load hits every endpoint alike, and a burst from another job spoils one run of a cell, not its median.
 */
async function sweep(plan: readonly Planned[], options: LoadtestOptions, log: (line: string) => void): Promise<Cell[]> {
  const runs = new Map<string, Measurement[]>();
  for (let round = 1; round <= options.rounds; round++) {
    for (const connections of options.connections) {
      for (const { model, batching, endpoint, name } of plan) {
        const m = await measure(endpoint, connections, options.load);
        const key = `${name ?? label(model, batching)}@${connections}`;
        runs.set(key, [...(runs.get(key) ?? []), m]);
        log(
          `round ${round}/${options.rounds} ${String(connections).padStart(4)} conn  ${
            (name ?? label(model, batching)).padEnd(24)
          } ${m.rps.toFixed(0).padStart(6)} rps  ` +
            `p50 ${m.latencyMs.p50?.toFixed(2)} ms  p99 ${
              m.latencyMs.p99?.toFixed(2)
            } ms  errors ${m.errors} non-2xx ${m.non2xx}`,
        );
      }
    }
  }
  return options.connections.flatMap((connections) =>
    plan.map(({ model, batching, name }): Cell => {
      const endpoint = name ?? label(model, batching);
      const measured = runs.get(`${endpoint}@${connections}`) as Measurement[];
      return { endpoint, model, batching, connections, measurement: medianOf(measured), runs: measured,
        rpsRatio: null };
    })
  );
}

function encodingPlan(url: string, split: Split, payloads: number): Planned[] {
  const path = '/v2/models/student/infer';
  const json = v2Bodies(split, payloads, 'json');
  const binary = v2Bodies(split, payloads, 'binary');
  return [{ model: 'student', batching: 'on', name: V2_JSON, endpoint: { url, path, bodies: json.bodies } }, {
    model: 'student',
    batching: 'on',
    name: V2_BINARY,
    endpoint: { url, path, bodies: binary.bodies,
      headers: { 'content-type': 'application/octet-stream',
        'inference-header-content-length': String(binary.headerBytes) } },
  }];
}

/**
 * Runs the whole sweep and judges targets and budgets. Starts (and always stops) its servers.
 *
 * @example
 *   const result = await runLoadtest({ bundleDir: 'models/default', ...QUICK_LOADTEST }, console.log);
 *   if (!result.passed) process.exitCode = 1;
 */
export async function runLoadtest(input: LoadtestInput,
  log: (line: string) => void = () => {}): Promise<LoadtestResult> {
  const options: LoadtestOptions = LoadtestOptionsSchema.parse(input);
  const loadavgAtStart = loadavg();
  const { manifest, split, inputSize } = await loadTestData(options.bundleDir);
  const bodies = predictBodies(split, options.payloads);
  const available = servable(manifest);
  const unknown = [...options.endpoints, ...options.batchingOff].filter((m) => !available.has(m));
  if (unknown.length > 0) {
    throw new Error(
      `${options.bundleDir} cannot serve ${
        [...new Set(unknown)].join(', ')
      }: drop it from --endpoints / --batching-off`,
    );
  }
  const on = parseServeConfig({ bundleDir: options.bundleDir, batching: options.batching }).batching;
  const offModels = options.url ? [] : options.batchingOff;
  if (options.url && options.batchingOff.length > 0) {
    log(`--url given: batching off is not measured (it needs a second server this run starts)`);
  }

  // The loadtest servers answer /v1/models/* only; one always-present arm keeps them from
  // refusing a bundle that lacks the default A/B arms.
  const modelConfig = (batching: object) => ({ bundleDir: options.bundleDir, logLevel: options.logLevel,
    ab: [{ variant: 'generalist' as const, weight: 1 }], batching });
  const servers: (ChildServer | undefined)[] = [];
  const cells: Cell[] = [];
  try {
    log(
      `starting servers (baseline${options.url ? '' : ', models with batching on'}${
        offModels.length ? ', models with batching off' : ''
      })…`,
    );
    const [baseline, main, off] = await Promise.all([startChild({ kind: 'baseline' }),
      options.url ? undefined : startChild({ kind: 'model', config: modelConfig(on) }),
      offModels.length ? startChild({ kind: 'model', config: modelConfig(OFF) }) : undefined]);
    servers.push(baseline, main, off);
    const mainUrl = options.url ?? (main as ChildServer).url;
    const plan: Planned[] = [{ model: 'baseline', batching: null,
      endpoint: { url: baseline.url, path: BASELINE_PATH, bodies } },
      ...options.endpoints.map((model) => ({ model, batching: 'on' as const,
        endpoint: { url: mainUrl, path: predictPath(model), bodies } })
      ),
      ...offModels.map((model) => ({ model, batching: 'off' as const,
        endpoint: { url: (off as ChildServer).url, path: predictPath(model), bodies } })
      ), ...(options.encodings && available.has('student') ? encodingPlan(mainUrl, split, options.payloads) : [])];
    cells.push(...(await sweep(plan, options, log)));
  } finally {
    await closeAll(servers);
  }

  const find = (endpoint: string, connections: number) =>
    cells.find((c) => c.endpoint === endpoint && c.connections === connections)?.measurement;
  for (const cell of cells) {
    const base = find('baseline', cell.connections);
    cell.rpsRatio = base && base.rps > 0 ? cell.measurement.rps / base.rps : null;
  }
  const batching = offModels.flatMap((model) =>
    options.connections.map((connections): BatchingComparison => {
      const rpsOn = find(model, connections)?.rps ?? 0;
      const rpsOff = find(label(model, 'off'), connections)?.rps ?? 0;
      return { model, connections, rpsOn, rpsOff,
        speedup: rpsOff > 0 && find(model, connections) ? rpsOn / rpsOff : null };
    })
  );
  const at = TARGETS.connections;
  const targets = [
    ...modelTargets({ student: find('student', at), ensemble: find('ensemble', at), baseline: find('baseline', at) }),
    ...offModels.map((model) =>
      batchingTarget(model, find(model, TARGETS.batchingConnections),
        find(label(model, 'off'), TARGETS.batchingConnections))
    ),
    ...(options.encodings ? [binaryTarget(find(V2_JSON, at), find(V2_BINARY, at))] : []),
  ];
  const budgetCells = cells.filter((c) => c.batching === 'on');
  const budgets = checkBudgets(options.budgets, budgetCells);
  return {
    date: new Date().toISOString(),
    quick: options.quick,
    machine: machineRecord(loadavgAtStart),
    bundle: { dir: options.bundleDir, name: manifest.name, dataset: manifest.dataset.name,
      classes: manifest.dataset.classNames.length, inputSize },
    server: { url: options.url ?? null,
      batchingOn: { maxBatchSize: on.maxBatchSize, maxQueueDelayMs: on.maxQueueDelayMs },
      batchingOff: offModels.length ? OFF : null, logLevel: options.logLevel },
    payloads: bodies.length,
    load: options.load,
    rounds: options.rounds,
    connections: options.connections,
    cells,
    batching,
    targets,
    budgets,
    passed: budgets.every((b) => b.ok),
  };
}

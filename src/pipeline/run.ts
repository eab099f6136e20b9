import { existsSync } from 'node:fs';
import { mkdir, readFile, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { type Dataset, loadDataset, splitChecksum } from '../data/index.js';
import { writeAtomic, writeJson } from '../files/index.js';
import { type ClustersResult, runClustersStage } from './clusters.js';
import { membersTeacher, type PipelineConfig, teacherName } from './config.js';
import { type MemberMetrics, membersMetrics, runMembersStage } from './members.js';
import type { StageContext } from './context.js';
import { type ModelMetrics, runGeneralistStage } from './generalist.js';
import { runBundleStage } from './bundle.js';
import { runSpecialistsStage, type SpecialistMetrics } from './specialists.js';
import { type RunState, type StageName, readRunState, recordStage, stageHash, STAGES } from './state.js';
import { runStudentStage, type TeacherLogits } from './student.js';

export interface PipelineOptions {
  runDir: string;
  /** Bundle folder, e.g. models/default. */
  out: string;
  /** Train only these specialists and stop: one job of a distributed specialists stage. */
  onlySpecialists?: string[];
  /**
   * One index of an indexed job (Kubernetes' JOB_COMPLETION_INDEX): train the specialists at
   * positions ≡ index (mod count) and stop. Needs the generalist and clusters done (`until`).
   */
  shard?: { index: number; count: number };
  /** Stop once this stage is done: `clusters` prepares the shared run folder for the shards. */
  until?: 'clusters';
  /** Use the specialists the shards trained, training none: fails naming any that are missing. */
  assemble?: boolean;
  log?: (line: string) => void;
  shouldStop?: () => boolean;
  /**
   * The combined generalist + specialists distribution as logits; needed for an ensemble teacher and ensemble metrics.
   */
  ensemble?: (ctx: StageContext,
    specialists: SpecialistMetrics[]
  ) => Promise<{ logits: TeacherLogits; metrics: () => Promise<Record<string, number>> }>;
}

export interface PipelineResult {
  ran: StageName[];
  skipped: StageName[];
  seconds: Partial<Record<StageName, number>>;
  generalist?: ModelMetrics;
  /** The generalist's fellow members, when the student's teacher is an ensemble of them. */
  members?: MemberMetrics[];
  clusters?: ClustersResult;
  specialists?: SpecialistMetrics[];
  failedSpecialists?: string[];
  student?: ModelMetrics & { teacher: string };
  bundle?: string;
}

async function readJson<T>(path: string): Promise<T> {
  return JSON.parse(await readFile(path, 'utf8')) as T;
}

/**
 * Each stage's hash: its own config and every stage it reads from, so a change anywhere upstream
 * reruns it. A `files` dataset's contents count too: new arrays at the same paths are new data.
 * Parts a config does not use are left out, so adding a kind of stage leaves other runs' hashes as they were.
 */
function stageHashes(config: PipelineConfig, dataset: Dataset, out: string): Record<StageName, string> {
  const hashes = {} as Record<StageName, string>;
  const contents = config.dataset.name === 'files' ? [splitChecksum(dataset)] : [];
  const members = membersTeacher(config);
  hashes.generalist = stageHash(config.dataset, config.generalist, ...contents);
  hashes.members = stageHash(hashes.generalist, members ?? null);
  // Overlap follows confusion shares since 2026-12-06 (before: the nearest centroids), which a config cannot show:
  // the rule's name in the hash reruns clusters made by the old one, and only configs with overlap change hash.
  const overlapRule = config.clusters.clustering.overlap > 1 ? ['overlap by confusion share'] : [];
  hashes.clusters = stageHash(hashes.generalist, config.clusters, ...overlapRule);
  hashes.specialists = stageHash(hashes.clusters, config.specialists.train, config.specialists.softTargets);
  const teacherHash =
    { generalist: null, ensemble: [hashes.specialists, config.combiner],
      members: hashes.members }[teacherName(config.student.teacher)];
  hashes.student = stageHash(hashes.generalist, config.student, teacherHash);
  hashes.bundle = stageHash(hashes.student, hashes.specialists, ...(members ? [hashes.members] : []), config.combiner,
    config.name, out);
  return hashes;
}

/** Stages whose outputs each stage reads: if one of them ran now, this one is stale too. */
const READS: Record<StageName, StageName[]> = {
  generalist: [],
  members: ['generalist'],
  clusters: ['generalist'],
  specialists: ['clusters'],
  student: ['generalist', 'specialists', 'members'],
  bundle: ['generalist', 'members', 'clusters', 'specialists', 'student'],
};

type Stage = <T>(name: StageName, run: () => Promise<T>, reuse: () => Promise<T>) => Promise<T>;

/**
 * Runs a stage unless it is up to date, recording it in `result`; clears what an older config left
 * in its folder first. `shared` stages must be found done (a shard or an assembly on shared storage never redoes them).
 */
function stageRunner(ctx: StageContext, hashes: Record<StageName, string>, state: RunState, result: PipelineResult,
  shared: StageName[]): Stage {
  const { runDir, log } = ctx;
  const teacher = teacherName(ctx.config.student.teacher);
  // The student reads the specialists or the members only when they are its teacher.
  const reads = (name: StageName, s: StageName) =>
    name !== 'student' ||
    (s === 'specialists' ? teacher === 'ensemble' : s === 'members' ? teacher === 'members' : true);
  return async (name, run, reuse) => {
    const dir = join(runDir, name);
    const upstreamRan = READS[name].some((s) => result.ran.includes(s) && reads(name, s));
    if (!upstreamRan && state.stages[name]?.hash === hashes[name] && existsSync(join(dir, 'done'))) {
      result.skipped.push(name);
      log(`${name}: up to date, skipped`);
      return reuse();
    }
    if (shared.includes(name)) {
      throw new Error(`${name} is not done in ${runDir} for this config: run the pipeline with --until clusters first`);
    }
    const marker = join(dir, 'hash');
    if (existsSync(marker) && (await readFile(marker, 'utf8')) !== hashes[name]) {
      log(`${name}: config changed, rerunning from scratch`);
      await rm(dir, { recursive: true, force: true });
    }
    await mkdir(dir, { recursive: true });
    await writeAtomic(marker, hashes[name]);
    const started = performance.now();
    log(`${name}: running`);
    const value = await run();
    const seconds = (performance.now() - started) / 1000;
    await writeAtomic(join(dir, 'done'), new Date().toISOString());
    await recordStage(runDir, name, { hash: hashes[name], finishedAt: new Date().toISOString(), seconds });
    state.stages[name] = { hash: hashes[name], finishedAt: new Date().toISOString(), seconds };
    result.ran.push(name);
    result.seconds[name] = seconds;
    log(`${name}: done in ${seconds.toFixed(1)}s`);
    return value;
  };
}

/**
 * The specialists stage; a failed specialist is reported, and the stage left unfinished so the next run retries just
 * it.
 */
async function specialistsStage(ctx: StageContext, stage: Stage, result: PipelineResult,
  configPath: string): Promise<SpecialistMetrics[]> {
  const summary = join(ctx.runDir, 'specialists', 'summary.json');
  const specialists = await stage('specialists', async () => {
    const { trained, failed } = await runSpecialistsStage(ctx, { configPath });
    result.failedSpecialists = failed;
    if (failed.length > 0) {
      ctx.log(`specialists: ${failed.join(', ')} failed after retries; continuing with ${trained.length}`);
    }
    await writeJson(summary, { trained, failed });
    return trained;
  }, async () => (await readJson<{ trained: SpecialistMetrics[] }>(summary)).trained);
  if (result.failedSpecialists?.length) await rm(join(ctx.runDir, 'specialists', 'done'), { force: true });
  return specialists;
}

/**
 * Runs generalist → clusters → specialists → (members) → student → bundle, each recorded in the run folder.
 * A stage whose config (or any upstream config) is unchanged and that finished is skipped; one
 * that changed is cleared and rerun, with everything that reads from it, and nothing else.
 *
 * @example
 *   await runPipeline(config, { runDir: 'runs/quick', out: 'models/default' });
 */
export async function runPipeline(config: PipelineConfig, options: PipelineOptions): Promise<PipelineResult> {
  const log = options.log ?? ((line: string) => console.error(line));
  const { runDir } = options;
  // A stage writes its records (hash, done) in <run>/<stage>; a bundle published over one would carry them.
  const clash = STAGES.find((name) => resolve(options.out) === resolve(runDir, name));
  if (clash) {
    throw new Error(
      `--out ${options.out} is the ${clash} stage's folder of the run ${runDir}: write the bundle elsewhere (e.g. ` +
        `models/${config.name})`,
    );
  }
  // The data first: a bad file is reported before the run folder is touched.
  const dataset = loadDataset(config.dataset, log);
  await mkdir(runDir, { recursive: true });
  const configPath = join(runDir, 'config.json');
  await writeJson(configPath, config);
  const ctx: StageContext = { config, runDir, dataset, log, shouldStop: options.shouldStop ?? (() => false) };
  const hashes = stageHashes(config, dataset, options.out);
  const result: PipelineResult = { ran: [], skipped: [], seconds: {} };
  const stage = stageRunner(ctx, hashes, await readRunState(runDir), result,
    options.shard || options.assemble ? ['generalist', 'clusters'] : []);
  const read = <T>(...path: string[]) => () => readJson<T>(join(runDir, ...path));

  result.generalist = await stage('generalist', () => runGeneralistStage(ctx),
    async () => (await read<{ metrics: ModelMetrics }>('generalist', 'metrics.json')()).metrics);
  result.clusters = await stage('clusters', () => runClustersStage(ctx),
    read<ClustersResult>('clusters', 'clusters.json'));
  if (options.until === 'clusters') return result;

  const ids = result.clusters.clusters.map((c) => c.id);
  const only = options.shard ?
    ids.filter((_, i) => i % options.shard!.count === options.shard!.index) :
    options.onlySpecialists;
  if (only) {
    const { trained, failed } = await runSpecialistsStage(ctx, { only, configPath });
    return { ...result, specialists: trained, failedSpecialists: failed };
  }
  const missing = options.assemble ?
    ids.filter((id) => !existsSync(join(runDir, 'specialists', id, 'metrics.json'))) :
    [];
  if (missing.length > 0) {
    throw new Error(
      `cannot assemble: specialists ${missing.join(', ')} are not trained in ${runDir} (run their indexed jobs)`,
    );
  }
  const specialists = await specialistsStage(ctx, stage, result, configPath);
  result.specialists = specialists;

  // Only a members teacher has a members stage, and only the student reads it: a specialists shard never trains it.
  const members = membersTeacher(config) ?
    await stage('members', () => runMembersStage(ctx, hashes.generalist), async () =>
      (await read<{ members: MemberMetrics[] }>('members', 'summary.json')()).members) :
    [];
  result.members = members;
  const ensemble = options.ensemble ? await options.ensemble(ctx, specialists) : undefined;
  result.student = await stage('student', () => runStudentStage(ctx, ensemble?.logits, members),
    async () => (await read<{ metrics: ModelMetrics & { teacher: string } }>('student', 'metrics.json')()).metrics);
  await stage('bundle', async () => {
    const metrics = { ...(ensemble ? await ensemble.metrics() : {}),
      ...(membersTeacher(config) ? await membersMetrics(ctx, members) : {}) };
    await runBundleStage(ctx, options.out, { generalist: result.generalist!, members, clusters: result.clusters!,
      specialists, student: result.student!, metrics });
  }, async () => undefined);
  result.bundle = options.out;
  return result;
}

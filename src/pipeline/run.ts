import { existsSync } from 'node:fs';
import { mkdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { loadDataset } from '../data/index.js';
import { writeAtomic, writeJson } from '../files/index.js';
import { type ClustersResult, runClustersStage } from './clusters.js';
import { membersTeacher, type PipelineConfig, teacherName } from './config.js';
import { type MemberMetrics, membersLogits, runMembersStage } from './members.js';
import { argmaxRows } from '../distill/index.js';
import type { StageContext } from './context.js';
import { type ModelMetrics, runGeneralistStage } from './generalist.js';
import { runBundleStage } from './bundle.js';
import { runSpecialistsStage, type SpecialistMetrics } from './specialists.js';
import { type StageName, readRunState, recordStage, stageHash } from './state.js';
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
  /** The combined generalist + specialists distribution as logits; needed for an ensemble teacher and ensemble metrics. */
  ensemble?: (ctx: StageContext, specialists: SpecialistMetrics[]) => Promise<{ logits: TeacherLogits; metrics: () => Promise<Record<string, number>> }>;
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
 * Runs generalist → members → clusters → specialists → student → bundle, each recorded in the run folder.
 * A stage whose config (or any upstream config) is unchanged and that finished is skipped; one
 * that changed is cleared and rerun, with everything that reads from it, and nothing else.
 *
 * @example
 *   await runPipeline(config, { runDir: 'runs/quick', out: 'models/default' });
 */
export async function runPipeline(config: PipelineConfig, options: PipelineOptions): Promise<PipelineResult> {
  const log = options.log ?? ((line: string) => console.error(line));
  const shouldStop = options.shouldStop ?? (() => false);
  const { runDir } = options;
  // The data first: a bad file is reported before the run folder is touched.
  const dataset = loadDataset(config.dataset, log);
  await mkdir(runDir, { recursive: true });
  const configPath = join(runDir, 'config.json');
  await writeJson(configPath, config);
  const ctx: StageContext = { config, runDir, dataset, log, shouldStop };

  const hashes: Record<StageName, string> = {} as Record<StageName, string>;
  hashes.generalist = stageHash(config.dataset, config.generalist);
  hashes.members = stageHash(hashes.generalist, membersTeacher(config) ?? null);
  hashes.clusters = stageHash(hashes.generalist, config.clusters);
  hashes.specialists = stageHash(hashes.clusters, config.specialists.train, config.specialists.softTargets);
  const teacher = teacherName(config.student.teacher);
  const teacherHash = { generalist: null, ensemble: [hashes.specialists, config.combiner], members: hashes.members }[teacher];
  hashes.student = stageHash(hashes.generalist, config.student, teacherHash);
  hashes.bundle = stageHash(hashes.student, hashes.specialists, hashes.members, config.combiner, config.name, options.out);

  const state = await readRunState(runDir);
  const result: PipelineResult = { ran: [], skipped: [], seconds: {} };

  /** Stages whose outputs each stage reads: if one of them ran now, this one is stale too. */
  const reads: Record<StageName, StageName[]> = {
    generalist: [], members: ['generalist'], clusters: ['generalist'], specialists: ['clusters'], student: ['generalist', 'specialists', 'members'],
    bundle: ['generalist', 'members', 'clusters', 'specialists', 'student'],
  };
  /** The student reads the specialists or the members only when they are its teacher. */
  const studentReads = (s: StageName) => (s === 'specialists' ? teacher === 'ensemble' : s === 'members' ? teacher === 'members' : true);

  /** Runs a stage unless it is up to date; clears what an older config left in its folder first. */
  // A shard or an assembly runs beside others on shared storage: it must find these done, never redo them.
  const shared: StageName[] = options.shard || options.assemble ? ['generalist', 'clusters'] : [];
  const stage = async <T>(name: StageName, run: () => Promise<T>, reuse: () => Promise<T>): Promise<T> => {
    const dir = join(runDir, name);
    const upstreamRan = reads[name].some((s) => result.ran.includes(s) && (name !== 'student' || studentReads(s)));
    if (!upstreamRan && state.stages[name]?.hash === hashes[name] && existsSync(join(dir, 'done'))) {
      result.skipped.push(name);
      log(`${name}: up to date, skipped`);
      return reuse();
    }
    if (shared.includes(name)) throw new Error(`${name} is not done in ${runDir} for this config: run the pipeline with --until clusters first`);
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

  result.generalist = await stage('generalist', () => runGeneralistStage(ctx),
    async () => (await readJson<{ metrics: ModelMetrics }>(join(runDir, 'generalist', 'metrics.json'))).metrics);
  // Only a members teacher has a members stage; every other run's stages stay as they were.
  result.members = teacher !== 'members' ? [] : await stage('members', () => runMembersStage(ctx, hashes.generalist),
    async () => (await readJson<{ members: MemberMetrics[] }>(join(runDir, 'members', 'summary.json'))).members);
  result.clusters = await stage('clusters', () => runClustersStage(ctx), () => readJson<ClustersResult>(join(runDir, 'clusters', 'clusters.json')));

  if (options.until === 'clusters') return result;
  const ids = result.clusters.clusters.map((c) => c.id);
  const only = options.shard ? ids.filter((_, i) => i % options.shard!.count === options.shard!.index) : options.onlySpecialists;
  if (only) {
    const { trained, failed } = await runSpecialistsStage(ctx, { only, configPath });
    return { ...result, specialists: trained, failedSpecialists: failed };
  }
  if (options.assemble) {
    const missing = ids.filter((id) => !existsSync(join(runDir, 'specialists', id, 'metrics.json')));
    if (missing.length > 0) throw new Error(`cannot assemble: specialists ${missing.join(', ')} are not trained in ${runDir} (run their indexed jobs)`);
  }
  const specialists = await stage('specialists', async () => {
    const { trained, failed } = await runSpecialistsStage(ctx, { configPath });
    result.failedSpecialists = failed;
    if (failed.length > 0) {
      // Not recorded as finished, so the next run retries just these; this run goes on without them.
      log(`specialists: ${failed.join(', ')} failed after retries; continuing with ${trained.length}`);
    }
    await writeJson(join(runDir, 'specialists', 'summary.json'), { trained, failed });
    return trained;
  }, async () => (await readJson<{ trained: SpecialistMetrics[] }>(join(runDir, 'specialists', 'summary.json'))).trained);
  result.specialists = specialists;
  if (result.failedSpecialists?.length) await rm(join(runDir, 'specialists', 'done'), { force: true });

  const ensemble = options.ensemble ? await options.ensemble(ctx, specialists) : undefined;
  result.student = await stage('student', () => runStudentStage(ctx, ensemble?.logits, result.members),
    async () => (await readJson<{ metrics: ModelMetrics & { teacher: string } }>(join(runDir, 'student', 'metrics.json'))).metrics);
  await stage('bundle', async () => {
    const metrics = ensemble ? await ensemble.metrics() : {};
    if (teacher === 'members') {
      const { test, numClasses } = dataset;
      const predicted = argmaxRows(await membersLogits(ctx, result.members!, test.x, test.n), numClasses);
      metrics.membersTestErrors = predicted.reduce((errors, p, i) => errors + (p === test.y[i] ? 0 : 1), 0);
    }
    await runBundleStage(ctx, options.out, { generalist: result.generalist!, members: result.members!, clusters: result.clusters!, specialists, student: result.student!, metrics });
  }, async () => undefined);
  result.bundle = options.out;
  return result;
}

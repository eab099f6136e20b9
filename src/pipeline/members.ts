import { existsSync } from 'node:fs';
import { mkdir, readFile, rm } from 'node:fs/promises';
import { argmaxRows, predictLogits, scorePredictions } from '../distill/index.js';
import { averageMemberArrays } from '../ensemble/index.js';
import { membersTeacher } from './config.js';
import { type StageContext, stageDir } from './context.js';
import { writeAtomic, writeJson } from '../files/index.js';
import { type ModelMetrics, trainGeneralistLike } from './generalist.js';
import { loadModel } from '../bundle/index.js';

export interface MemberMetrics extends ModelMetrics {
  id: string;
  /** How far its net and training seeds are from the generalist's. */
  seedOffset: number;
}

/** The ids of the members besides the generalist: m2 … mK. */
export const memberIds = (count: number) => Array.from({ length: count - 1 }, (_, i) => `m${i + 2}`);
// Outside the stage's own folder, which a change of K clears: member m3 of 8 is member m3 of 4.
const memberFolder = (id: string) => `member-nets/${id}`;

/** A member trained for this generalist config (its hash in the folder), or undefined. */
async function finishedMember(ctx: StageContext, id: string,
  generalistHash: string): Promise<ModelMetrics | undefined> {
  const marker = stageDir(ctx, memberFolder(id), 'generalist-hash');
  const metrics = stageDir(ctx, memberFolder(id), 'metrics.json');
  if (!existsSync(marker) || (await readFile(marker, 'utf8')) !== generalistHash) {
    await rm(stageDir(ctx, memberFolder(id)), { recursive: true, force: true });
    await mkdir(stageDir(ctx, memberFolder(id)), { recursive: true });
    await writeAtomic(marker, generalistHash);
    return undefined;
  }
  return existsSync(metrics) ?
    (JSON.parse(await readFile(metrics, 'utf8')) as { metrics: ModelMetrics }).metrics :
    undefined;
}

/**
 * Stage 1b, for a student taught by an ensemble of full models: K − 1 more generalists, each from
 * its own seeds. A finished member is kept, so an interrupted stage resumes at the next one and a
 * larger K trains only the members it adds.
 */
export async function runMembersStage(ctx: StageContext, generalistHash: string): Promise<MemberMetrics[]> {
  const teacher = membersTeacher(ctx.config);
  if (!teacher) throw new Error("members: the student's teacher is not an ensemble of members");
  const members: MemberMetrics[] = [];
  for (const [i, id] of memberIds(teacher.count).entries()) {
    const metrics = (await finishedMember(ctx, id, generalistHash)) ??
      (await trainGeneralistLike(ctx, memberFolder(id), i + 1));
    members.push({ id, seedOffset: i + 1, ...metrics });
  }
  await writeJson(stageDir(ctx, 'members', 'summary.json'), { members });
  return members;
}

/** The members' models (not the generalist), loaded from the run folder; the caller disposes them. */
export function loadMemberModels(ctx: StageContext, members: { id: string }[]) {
  return Promise.all(members.map((m) => loadModel(stageDir(ctx, memberFolder(m.id), 'model'))));
}

/** The generalist and every member, loaded from the run folder; the caller disposes them. */
async function loadMembers(ctx: StageContext, members: { id: string }[]) {
  return [await loadModel(stageDir(ctx, 'generalist', 'model')), ...(await loadMemberModels(ctx, members))];
}

/** The log of the pooled distribution of the generalist and its members on `x`: the members teacher's logits. */
export async function membersLogits(ctx: StageContext, members: { id: string }[], x: Float32Array,
  n: number): Promise<Float32Array> {
  const teacher = membersTeacher(ctx.config);
  if (!teacher) throw new Error('student: the config names no members teacher');
  const models = await loadMembers(ctx, members);
  try {
    return averageMemberArrays(models.map((model) => predictLogits(model, x, n)), ctx.dataset.numClasses,
      teacher.averaging);
  } finally {
    models.forEach((model) => model.dispose());
  }
}

/** The pooled members' test errors, for the bundle's whole-system metrics. */
export async function membersMetrics(ctx: StageContext,
  members: { id: string }[]): Promise<{ membersTestErrors: number }> {
  const { test, numClasses } = ctx.dataset;
  const predicted = argmaxRows(await membersLogits(ctx, members, test.x, test.n), numClasses);
  return { membersTestErrors: scorePredictions(predicted, test.y, numClasses).errors };
}

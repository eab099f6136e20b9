import { labelledSet, predictLogits, trainModel } from '../distill/index.js';
import { buildMlp } from '../nets/index.js';
import { type StageContext, stageDir, StageInterrupted } from './context.js';
import { finishModelStage, type ModelMetrics } from './generalist.js';
import { membersLogits } from './members.js';
import { loadModel } from '../bundle/index.js';
import { teacherName } from './config.js';

/**
 * The teacher's logits for every training row. 'ensemble' asks `ensembleLogits` (log of the
 * combined generalist + specialists distribution): the loop the paper left open.
 */
export type TeacherLogits = (x: Float32Array, n: number) => Promise<Float32Array>;

/**
 * Stage 4: the small net, trained on the teacher's soft targets at temperature T (loss × T²) plus a
 * low-weight hard term. The teacher is the generalist, the generalist + specialists ensemble
 * (`ensembleLogits`), or the generalist pooled with its `members`.
 */
export async function runStudentStage(ctx: StageContext, ensembleLogits?: TeacherLogits,
  members: { id: string }[] = []): Promise<ModelMetrics & { teacher: string }> {
  const { config, dataset } = ctx;
  const stage = config.student;
  const teacher = teacherName(stage.teacher);
  let teacherLogits: Float32Array;
  if (teacher === 'ensemble') {
    if (!ensembleLogits) throw new Error('student: teacher "ensemble" needs the specialists stage');
    teacherLogits = await ensembleLogits(dataset.train.x, dataset.train.n);
  } else if (teacher === 'members') {
    teacherLogits = await membersLogits(ctx, members, dataset.train.x, dataset.train.n);
  } else {
    const generalist = await loadModel(stageDir(ctx, 'generalist', 'model'));
    teacherLogits = predictLogits(generalist, dataset.train.x, dataset.train.n);
    generalist.dispose();
  }
  const model = buildMlp(stage.net, dataset.train.features, dataset.numClasses);
  const result = await trainModel(model, labelledSet(dataset.train, teacherLogits), labelledSet(dataset.validation),
    stage.train, {
    name: 'student',
    log: ctx.log,
    shouldStop: ctx.shouldStop,
    checkpointDir: stageDir(ctx, 'student', 'checkpoint'),
    resume: true,
  });
  if (result.interrupted) throw new StageInterrupted('student');
  return { teacher, ...(await finishModelStage(ctx, 'student', model, result)) };
}

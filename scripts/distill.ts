// Distil a student from a saved teacher: soft targets at temperature T (loss × T²) plus a low-weight hard term.
//   npm run distill -- --teacher runs/teacher/model --dataset mnist --hidden 800,800 --temperature 20 --hard-weight 0.1
// --out runs/student
//   npm run distill -- --teacher-bundle models/default --ensemble …   (teacher = generalist + specialists, combined)
import { join } from 'node:path';
import { z } from 'zod';
import { backendFlag, datasetOption, flagError, numberList, parseFlags, scriptArgs, stopOnInterrupt, trainConfigFrom,
  TRAINING_FLAG_DEFAULTS, TrainingFlags } from '../src/cli/index.js';
import { loadDataset } from '../src/data/index.js';
import { evaluateModel, predictLogits, trainModel } from '../src/distill/index.js';
import { initEngine } from '../src/engine/index.js';
import { buildMlp, MlpConfig } from '../src/nets/index.js';
import { loadModel, saveModel } from '../src/bundle/index.js';
import { bundleTeacherLogits } from '../src/pipeline/index.js';

const { values } = scriptArgs({
  options: {
    ...TRAINING_FLAG_DEFAULTS,
    teacher: { type: 'string' },
    'teacher-bundle': { type: 'string' },
    ensemble: { type: 'boolean', default: false },
    dataset: { type: 'string', default: 'mnist' },
    hidden: { type: 'string', default: '800,800' },
    temperature: { type: 'string', default: '20' },
    'hard-weight': { type: 'string', default: '0.1' },
    'logit-matching': { type: 'boolean', default: false },
    out: { type: 'string', default: 'runs/student' },
  },
});
// Flags first: a typo must not cost the teacher's pass over the transfer set.
const backend = backendFlag(values.backend);
if (!values.teacher === !values['teacher-bundle']) {
  flagError('--teacher, --teacher-bundle: give exactly one of --teacher <model dir> or --teacher-bundle <bundle dir>');
}
const trainConfig = trainConfigFrom(parseFlags(TrainingFlags, values));
const datasetConfig = datasetOption(values.dataset!);
const net = parseFlags(MlpConfig, { hidden: numberList(values.hidden, 'hidden'), seed: Number(values.seed) });
const loss = parseFlags(z.object({ temperature: z.coerce.number().positive().max(1000),
  'hard-weight': z.coerce.number().min(0).max(1000) }), values);
await initEngine({ backend });
const data = loadDataset(datasetConfig);
// Soft targets once per run: the teacher's logits on the whole transfer set.
let teacherLogits: Float32Array;
if (values.teacher) {
  const teacher = await loadModel(values.teacher);
  teacherLogits = predictLogits(teacher, data.train.x, data.train.n);
  teacher.dispose();
} else {
  teacherLogits = await bundleTeacherLogits(values['teacher-bundle']!, values.ensemble ? 'ensemble' : 'generalist',
    data.train.x, data.train.n);
}
const model = buildMlp(net, data.train.features, data.numClasses);
const set = (s: typeof data.train, logits?: Float32Array) => ({ x: s.x, n: s.n, features: s.features, labels: s.y,
  teacherLogits: logits });
const result = await trainModel(model, set(data.train, teacherLogits), set(data.validation), {
  ...trainConfig,
  loss: { temperature: loss.temperature, softWeight: 1, hardWeight: loss['hard-weight'],
    softKind: values['logit-matching'] ? 'logits' : 'soft' },
}, { name: 'student', checkpointDir: join(values.out!, 'checkpoint'), resume: values.resume,
  shouldStop: stopOnInterrupt() });
if (result.interrupted) process.exit(130);
await saveModel(model, join(values.out!, 'model'));
const test = evaluateModel(model, data.test.x, data.test.y);
console.log(
  `student: ${test.errors} / ${test.n} test errors (${(test.errorRate * 100).toFixed(2)}%); saved to ${
    join(values.out!, 'model')
  }`,
);

// Evaluate a model or a bundle on a dataset's test split: errors out of N, per-class errors, confusion matrix.
//   npm run evaluate -- --model runs/student/model --dataset mnist
//   npm run evaluate -- --bundle models/default --which ensemble
import { z } from 'zod';
import { backendFlag, datasetOption, flagError, parseFlags, scriptArgs } from '../src/cli/index.js';
import { loadDataset, recordedDataset } from '../src/data/index.js';
import { argmaxRows, predictLogits, scorePredictions } from '../src/distill/index.js';
import { initEngine } from '../src/engine/index.js';
import { loadModel } from '../src/bundle/index.js';
import { bundleTeacherLogits } from '../src/pipeline/index.js';
import { readManifest } from '../src/bundle/index.js';
import { markdownTable } from '../src/report/index.js';

const { values } = scriptArgs({
  options: {
    model: { type: 'string' },
    bundle: { type: 'string' },
    which: { type: 'string', default: 'student' }, // generalist | student | ensemble (with --bundle)
    dataset: { type: 'string' },
    split: { type: 'string', default: 'test' },
    backend: { type: 'string' },
  },
});
const backend = backendFlag(values.backend);
if (!values.model === !values.bundle) {
  flagError('--model, --bundle: give exactly one of --model <dir> or --bundle <dir>');
}
const { which, split: splitName } = parseFlags(z.object({ which: z.enum(['student', 'generalist', 'ensemble']),
  split: z.enum(['test', 'validation']) }), values);
const asked = values.dataset === undefined ? undefined : datasetOption(values.dataset);
await initEngine({ backend });
const manifest = values.bundle ? await readManifest(values.bundle) : undefined;
const datasetConfig = asked ?? recordedDataset(manifest?.dataset ?? { name: 'mnist' });
const data = loadDataset(datasetConfig);
const split = splitName === 'validation' ? data.validation : data.test;
let logits: Float32Array;
if (values.model) {
  const model = await loadModel(values.model);
  logits = predictLogits(model, split.x, split.n);
} else if (which === 'ensemble' || which === 'generalist') {
  logits = await bundleTeacherLogits(values.bundle!, which, split.x, split.n);
} else {
  logits = predictLogits(await loadModel(`${values.bundle}/student`), split.x, split.n);
}
const evaluation = scorePredictions(argmaxRows(logits, data.numClasses), split.y, data.numClasses);
console.log(
  `${
    values.model ?? `${values.bundle} (${which})`
  } on ${data.name} ${splitName}: ${evaluation.errors} / ${evaluation.n} errors (${
    (evaluation.errorRate * 100).toFixed(2)
  }%)\n`,
);
console.log(
  markdownTable(['class', 'examples', 'errors'],
    data.classNames.map((name, c) => [name, evaluation.perClassCounts[c], evaluation.perClassErrors[c]])),
);
if (data.numClasses <= 20) {
  console.log('\nconfusion (rows: true class, columns: predicted)\n');
  console.log(
    markdownTable(['', ...data.classNames], evaluation.confusion.map((row, c) => [data.classNames[c], ...row])),
  );
}

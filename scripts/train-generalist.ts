// Train a generalist (the paper's "cumbersome model") on hard labels:
//   npm run train:generalist -- --dataset mnist --hidden 1200,1200 --dropout 0.2,0.5 --jitter 2 --epochs 40 --out
// runs/teacher
// A checkpoint is written every epoch; --resume continues a killed run; Ctrl-C checkpoints and exits.
import { join } from 'node:path';
import { z } from 'zod';
import { backendFlag, datasetOption, numberList, parseFlags, scriptArgs, stopOnInterrupt, trainConfigFrom,
  TRAINING_FLAG_DEFAULTS, TrainingFlags } from '../src/cli/index.js';
import { jitter, loadDataset } from '../src/data/index.js';
import { evaluateModel, trainModel } from '../src/distill/index.js';
import { initEngine } from '../src/engine/index.js';
import { buildMlp, MlpConfig } from '../src/nets/index.js';
import { saveModel } from '../src/bundle/index.js';

const { values } = scriptArgs({
  options: {
    ...TRAINING_FLAG_DEFAULTS,
    dataset: { type: 'string', default: 'mnist' },
    hidden: { type: 'string', default: '1200,1200' },
    dropout: { type: 'string', default: '0.2,0.5' }, // input, hidden
    jitter: { type: 'string', default: '2' },
    out: { type: 'string', default: 'runs/generalist' },
  },
});
// Every flag before any work: a typo must not cost an engine start.
const backend = backendFlag(values.backend);
const trainConfig = trainConfigFrom(parseFlags(TrainingFlags, values));
const datasetConfig = datasetOption(values.dataset!);
const [inputDropout, hiddenDropout] = numberList(values.dropout, 'dropout') ?? [0, 0];
const net = parseFlags(MlpConfig, { hidden: numberList(values.hidden, 'hidden'), inputDropout, hiddenDropout,
  seed: Number(values.seed) });
const { jitter: maxShift } = parseFlags(z.object({ jitter: z.coerce.number().int().min(0).max(8) }), values);
await initEngine({ backend });
const data = loadDataset(datasetConfig);
const model = buildMlp(net, data.train.features, data.numClasses);
const set = (s: typeof data.train) => ({ x: s.x, n: s.n, features: s.features, labels: s.y });
const result = await trainModel(model, set(data.train), set(data.validation), trainConfig, {
  name: 'generalist',
  checkpointDir: join(values.out!, 'checkpoint'),
  resume: values.resume,
  shouldStop: stopOnInterrupt(),
  augment: maxShift > 0 && data.inputShape.length >= 2 ?
    (x, n, rng) =>
      jitter({ x, y: new Int32Array(n), ids: new Int32Array(n), n, features: data.train.features }, {
        inputShape: data.inputShape,
        maxShift,
        seed: Math.floor(rng() * 2 ** 31),
      }).x :
    undefined,
});
if (result.interrupted) process.exit(130);
await saveModel(model, join(values.out!, 'model'));
const test = evaluateModel(model, data.test.x, data.test.y);
console.log(
  `generalist: ${test.errors} / ${test.n} test errors (${
    (test.errorRate * 100).toFixed(2)
  }%), best epoch ${result.bestEpoch}; saved to ${join(values.out!, 'model')}`,
);

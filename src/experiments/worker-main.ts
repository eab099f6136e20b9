// A RunPool worker: trains the one run its job file describes (`trainOnce`, so the model and record
// land where the pool reloads them), then exits. Ctrl-C reaches it through the pool.
import { readFileSync } from 'node:fs';
import { stopOnInterrupt } from '../cli/index.js';
import type { TrainingSet } from '../distill/index.js';
import { initEngine } from '../engine/index.js';
import { buildMlp } from '../nets/index.js';
import { augmentOf, type StoredSet, type WorkerJob } from './pool.js';
import { trainOnce } from './runner.js';

function readArray<T extends Float32Array | Int32Array>(path: string, Kind: new (buffer: ArrayBuffer) => T): T {
  const bytes = readFileSync(path);
  // A copy, so the view is aligned whatever offset the file's Buffer has.
  return new Kind(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer);
}

function readSet(set: StoredSet): TrainingSet {
  return {
    n: set.n, features: set.features, x: readArray(set.x, Float32Array), labels: readArray(set.labels, Int32Array),
    ...(set.teacherLogits ? { teacherLogits: readArray(set.teacherLogits, Float32Array) } : {}),
  };
}

const job = JSON.parse(readFileSync(process.argv[2], 'utf8')) as WorkerJob;
const shouldStop = stopOnInterrupt();
try {
  await initEngine({ backend: job.backend, blasThreads: job.blasThreads, log: () => {} });
  const train = readSet(job.train);
  const { model } = await trainOnce(job.dir, job.name, () => buildMlp(job.net, train.features, job.classes), train, readSet(job.validation), job.config, {
    augment: augmentOf(job), log: (line) => console.error(line), setup: job.net, shouldStop,
  });
  model.dispose();
} catch (error) {
  console.error(error instanceof Error ? error.message : String(error));
  process.exitCode = 1;
}

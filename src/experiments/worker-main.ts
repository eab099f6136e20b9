// A RunPool worker: trains the one run its job file describes (`trainOnce`, so the model and record
// land where the pool reloads them), then exits. Ctrl-C reaches it through the pool.
import { readFileSync } from 'node:fs';
import { stopOnInterrupt } from '../cli/index.js';
import type { TrainingSet } from '../distill/index.js';
import { initEngine } from '../engine/index.js';
import { type StoredSet, trainSpec, type WorkerJob } from './pool.js';

function readArray<T extends Float32Array | Int32Array>(path: string, Kind: new(buffer: ArrayBuffer) => T): T {
  const bytes = readFileSync(path);
  // A copy, so the view is aligned whatever offset the file's Buffer has.
  return new Kind(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer);
}

function readSet(set: StoredSet): TrainingSet {
  return {
    n: set.n,
    features: set.features,
    x: readArray(set.x, Float32Array),
    labels: readArray(set.labels, Int32Array),
    ...(set.teacherLogits ? { teacherLogits: readArray(set.teacherLogits, Float32Array) } : {}),
  };
}

const job = JSON.parse(readFileSync(process.argv[2], 'utf8')) as WorkerJob;
const shouldStop = stopOnInterrupt();
try {
  await initEngine({ backend: job.backend, blasThreads: job.blasThreads, log: () => {} });
  const spec = { ...job, train: readSet(job.train), validation: readSet(job.validation),
    monitor: job.monitor ? readSet(job.monitor) : undefined };
  const { model } = await trainSpec(job.dir, spec, { log: (line) => console.error(line), shouldStop });
  model.dispose();
} catch (error) {
  console.error(error instanceof Error ? error.message : String(error));
  process.exitCode = 1;
}

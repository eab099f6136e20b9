import { existsSync } from 'node:fs';
import { mkdir, readFile, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { z } from 'zod';
import { writeAtomic, writeJson } from '../files/index.js';

/*
 * A checkpoint is a folder: meta.json plus generation-numbered weight files. meta.json is written
 * last and atomically, and names the files of its generation, so a crash at any point leaves the
 * previous checkpoint readable; older generations are deleted only after the new meta lands.
 */

// Both kinds are 4 bytes a value. Adam's step count is an int32 scalar: read back as float32 bits it
// became ~1e-44 steps, so a resumed run's bias correction restarted as if at step 1. Entries written
// before dtypes were recorded have none; their one int32 tensor is the optimizer's step count, `iter`.
const TensorEntry = z.object({ name: z.string(), shape: z.array(z.number().int().nonnegative()),
  offset: z.number().int().nonnegative(), dtype: z.enum(['float32', 'int32']).optional() })
  .transform((entry) => ({ ...entry, dtype: entry.dtype ?? (entry.name === 'iter' ? 'int32' : 'float32') }));

export const CheckpointMeta = z.object({
  format: z.literal(1),
  generation: z.number().int().nonnegative(),
  /** The epoch in progress and the next batch to run in it: a mid-epoch Ctrl-C resumes there. */
  epoch: z.number().int().nonnegative(),
  batch: z.number().int().nonnegative(),
  state: z.record(z.string(), z.unknown()),
  model: z.array(TensorEntry),
  optimizer: z.array(TensorEntry),
  best: z.array(TensorEntry).nullable(),
  /** The running weight average (TrainConfig.averageWeights); absent from checkpoints written before it existed. */
  average: z.array(TensorEntry).nullable().default(null),
});
export type CheckpointMeta = z.infer<typeof CheckpointMeta>;

/** A weight or optimizer slot by name: what checkpoints, selection and weight averaging hold. */
export interface Named {
  name: string;
  tensor: tf.Tensor;
}

function pack(tensors: Named[]): { entries: z.infer<typeof TensorEntry>[]; bytes: Buffer } {
  const entries: z.infer<typeof TensorEntry>[] = [];
  const chunks: Buffer[] = [];
  let offset = 0;
  for (const { name, tensor } of tensors) {
    if (tensor.dtype !== 'float32' && tensor.dtype !== 'int32') {
      throw new Error(`checkpoint: tensor ${name} is ${tensor.dtype}; only float32 and int32 are saved`);
    }
    const values = tensor.dataSync() as Float32Array | Int32Array;
    entries.push({ name, shape: tensor.shape, offset, dtype: tensor.dtype });
    chunks.push(Buffer.from(values.buffer, values.byteOffset, values.byteLength));
    offset += values.byteLength;
  }
  return { entries, bytes: Buffer.concat(chunks) };
}

function unpack(entries: z.infer<typeof TensorEntry>[], bytes: Buffer, file: string): Named[] {
  return entries.map(({ name, shape, offset, dtype }) => {
    const size = shape.reduce((a, b) => a * b, 1);
    if (offset + size * 4 > bytes.length) {
      throw new Error(`${file}: tensor ${name} runs past the end of the file (truncated?)`);
    }
    const values = dtype === 'int32' ? new Int32Array(size) : new Float32Array(size);
    Buffer.from(values.buffer).set(bytes.subarray(offset, offset + size * 4));
    return { name, tensor: tf.tensor(values, shape, dtype) };
  });
}

export interface CheckpointContent {
  epoch: number;
  batch: number;
  state: Record<string, unknown>;
  model: Named[];
  optimizer: Named[];
  best: Named[] | null;
  average?: Named[] | null;
}

/** Writes a checkpoint generation into `dir` (created if missing) and prunes older generations. */
export async function saveCheckpoint(dir: string, content: CheckpointContent, generation: number): Promise<void> {
  await mkdir(dir, { recursive: true });
  const model = pack(content.model);
  const optimizer = pack(content.optimizer);
  const best = content.best ? pack(content.best) : null;
  const average = content.average ? pack(content.average) : null;
  await writeAtomic(join(dir, `model-${generation}.bin`), model.bytes);
  await writeAtomic(join(dir, `optimizer-${generation}.bin`), optimizer.bytes);
  if (best) await writeAtomic(join(dir, `best-${generation}.bin`), best.bytes);
  if (average) await writeAtomic(join(dir, `average-${generation}.bin`), average.bytes);
  const meta: CheckpointMeta = {
    format: 1,
    generation,
    epoch: content.epoch,
    batch: content.batch,
    state: content.state,
    model: model.entries,
    optimizer: optimizer.entries,
    best: best?.entries ?? null,
    average: average?.entries ?? null,
  };
  await writeJson(join(dir, 'meta.json'), meta);
  for (const file of await readdir(dir)) {
    const match = /^(model|optimizer|best|average)-(\d+)\.bin$/.exec(file);
    if (match && Number(match[2]) !== generation) await rm(join(dir, file), { force: true });
  }
}

/** Reads the latest checkpoint in `dir`, or null when there is none. Tensors are the caller's to dispose. */
export async function loadCheckpoint(dir: string): Promise<(CheckpointContent & { generation: number }) | null> {
  const metaPath = join(dir, 'meta.json');
  if (!existsSync(metaPath)) return null;
  const parsed = CheckpointMeta.safeParse(JSON.parse(await readFile(metaPath, 'utf8')));
  if (!parsed.success) {
    throw new Error(`${metaPath}: not a checkpoint of this version: ${parsed.error.issues[0]?.message}`);
  }
  const meta = parsed.data;
  const read = async (kind: string) => {
    const file = join(dir, `${kind}-${meta.generation}.bin`);
    return { file, bytes: await readFile(file) };
  };
  const model = await read('model');
  const optimizer = await read('optimizer');
  const best = meta.best ? await read('best') : null;
  const average = meta.average ? await read('average') : null;
  return {
    generation: meta.generation,
    epoch: meta.epoch,
    batch: meta.batch,
    state: meta.state,
    model: unpack(meta.model, model.bytes, model.file),
    optimizer: unpack(meta.optimizer, optimizer.bytes, optimizer.file),
    best: best && meta.best ? unpack(meta.best, best.bytes, best.file) : null,
    average: average && meta.average ? unpack(meta.average, average.bytes, average.file) : null,
  };
}

import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterAll, describe, expect, it } from 'vitest';
import { loadCheckpoint, saveCheckpoint } from '../../src/distill/checkpoint.js';

const tmp = mkdtempSync(join(tmpdir(), 'checkpoint-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const content = (extra: { name: string; tensor: tf.Tensor }[] = []) => ({ epoch: 2, batch: 5, state: { note: 'x' },
  model: [{ name: 'w', tensor: tf.tensor2d([[0.5, -1.25], [3, 1e-30]]) }],
  optimizer: [{ name: 'iter', tensor: tf.scalar(1234567, 'int32') }, ...extra], best: null });

describe('checkpoints', () => {
  it('bring back float32 and int32 tensors with their values and dtypes', async () => {
    const dir = join(tmp, 'types');
    await saveCheckpoint(dir, content(), 0);
    const loaded = (await loadCheckpoint(dir))!;
    expect(loaded.model[0].tensor.dtype).toBe('float32');
    expect(Array.from(loaded.model[0].tensor.dataSync())).toEqual([0.5, -1.25, 3, Math.fround(1e-30)]);
    expect(loaded.optimizer[0].tensor.dtype).toBe('int32');
    expect(loaded.optimizer[0].tensor.dataSync()[0]).toBe(1234567);
    expect(loaded.average).toBeNull();
  });

  it('read a checkpoint written before dtypes were recorded: float32, but the int32 step count `iter`', async () => {
    const dir = join(tmp, 'old');
    // The old writer stored the same bytes, without dtypes; an optimizer slot beside `iter` stays float32.
    await saveCheckpoint(dir, content([{ name: 'w/m', tensor: tf.tensor1d([0.5]) }]), 0);
    const meta = JSON.parse(readFileSync(join(dir, 'meta.json'), 'utf8'));
    for (const entry of [...meta.model, ...meta.optimizer]) delete entry.dtype;
    delete meta.average;
    writeFileSync(join(dir, 'meta.json'), JSON.stringify(meta));
    const loaded = (await loadCheckpoint(dir))!;
    expect(loaded.model[0].tensor.dtype).toBe('float32');
    expect(loaded.model[0].tensor.dataSync()[1]).toBe(-1.25);
    expect(loaded.optimizer[0].tensor.dtype).toBe('int32');
    expect(loaded.optimizer[0].tensor.dataSync()[0]).toBe(1234567);
    expect(loaded.optimizer[1].tensor.dtype).toBe('float32');
    expect(loaded.optimizer[1].tensor.dataSync()[0]).toBe(0.5);
  });

  it('refuses a tensor kind it cannot store instead of writing its bits as something else', async () => {
    await expect(saveCheckpoint(join(tmp, 'bool'), content([{ name: 'flag', tensor: tf.tensor1d([true], 'bool') }]),
      0)).rejects.toThrow(/flag is bool/);
  });
});

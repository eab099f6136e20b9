import { createHash } from 'node:crypto';
import type { Split } from '../../src/data/index.js';

/** sha1 of each row's pixels: equal images, equal keys. */
export function rowKeys(split: Split): Set<string> {
  const keys = new Set<string>();
  const bytes = new Uint8Array(split.x.buffer, split.x.byteOffset, split.x.byteLength);
  const rowBytes = split.features * 4;
  for (let i = 0; i < split.n; i++) {
    keys.add(createHash('sha1').update(bytes.subarray(i * rowBytes, (i + 1) * rowBytes)).digest('base64'));
  }
  return keys;
}

export function overlap(a: Set<string>, b: Set<string>): number {
  let count = 0;
  for (const key of a) if (b.has(key)) count++;
  return count;
}

export function pixelRange(split: Split): [number, number] {
  let min = Infinity;
  let max = -Infinity;
  for (const v of split.x) {
    if (v < min) min = v;
    if (v > max) max = v;
  }
  return [min, max];
}

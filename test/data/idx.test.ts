import { describe, expect, it } from 'vitest';
import { parseIdx } from '../../src/data/idx.js';

/** An IDX file of unsigned bytes with the given dimensions and data. */
function idx(dims: number[], data: number[], typeByte = 0x08): Uint8Array {
  const header = new Uint8Array(4 + 4 * dims.length);
  const view = new DataView(header.buffer);
  header.set([0, 0, typeByte, dims.length]);
  dims.forEach((d, i) => view.setUint32(4 + 4 * i, d, false));
  return Uint8Array.from([...header, ...data]);
}

describe('parseIdx', () => {
  it('reads dimensions big-endian and returns the data', () => {
    const parsed = parseIdx(idx([2, 3], [1, 2, 3, 4, 5, 6]), 'x.idx', [2, 3]);
    expect(parsed.dims).toEqual([2, 3]);
    expect([...parsed.data]).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it.each([['a bad magic number', Uint8Array.from([1, 0, 8, 1, 0, 0, 0, 1, 7]), [1], /bad magic number/], [
    'another element type',
    idx([1], [7], 0x0d),
    [1],
    /element type 0xd/,
  ], ['another rank', idx([1, 1], [7]), [1], /rank 2, expected 1/], ['other dimensions', idx([2], [7, 8]), [3],
    /dimensions \[2\], expected \[3\]/], ['a truncated body', idx([3], [7, 8]), [3], /truncated or padded/], [
    'a truncated header',
    Uint8Array.from([0, 0, 8, 3, 0]),
    [1, 1, 1],
    /too short/,
  ]])('refuses %s, naming the file', (_what, bytes, dims, message) => {
    expect(() => parseIdx(bytes, 'data/train-labels', dims)).toThrow(/^IDX file data\/train-labels: /);
    expect(() => parseIdx(bytes, 'data/train-labels', dims)).toThrow(message);
  });
});

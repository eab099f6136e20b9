import { readFileSync } from 'node:fs';

/** An IDX array of unsigned bytes (the only element type MNIST uses). */
export interface IdxArray {
  dims: number[];
  data: Uint8Array;
}

// The third magic byte names the element type; MNIST's files are all 0x08 (unsigned byte).
const UNSIGNED_BYTE = 0x08;

/**
 * Parses an IDX file (LeCun's format: two zero bytes, a type byte, a rank byte, big-endian uint32
 * dimensions, then the data) and checks it against the dimensions the caller expects. Every
 * mismatch names the file, since a wrong or truncated download is the usual cause.
 *
 * @example
 *   const labels = readIdx('train-labels-idx1-ubyte', [60000]);
 *   labels.data[0]; // 5
 */
export function readIdx(path: string, expectedDims: readonly number[]): IdxArray {
  return parseIdx(readFileSync(path), path, expectedDims);
}

/** Without `expectedDims`, any rank and dimensions are accepted (a user's own files). */
export function parseIdx(bytes: Uint8Array, file: string, expectedDims?: readonly number[]): IdxArray {
  const fail = (why: string): never => {
    throw new Error(`IDX file ${file}: ${why}`);
  };
  if (bytes.length < 4) fail(`only ${bytes.length} bytes, too short for a header`);
  if (bytes[0] !== 0 || bytes[1] !== 0) fail(`bad magic number (first bytes ${bytes[0]}, ${bytes[1]}; expected 0, 0)`);
  if (bytes[2] !== UNSIGNED_BYTE) fail(`element type 0x${bytes[2].toString(16)}, expected 0x08 (unsigned byte)`);
  const rank = bytes[3];
  if (expectedDims && rank !== expectedDims.length) fail(`rank ${rank}, expected ${expectedDims.length}`);
  const headerBytes = 4 + 4 * rank;
  if (bytes.length < headerBytes) fail(`${bytes.length} bytes, too short for a rank-${rank} header`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const dims: number[] = [];
  for (let i = 0; i < rank; i++) dims.push(view.getUint32(4 + 4 * i, false));
  if (expectedDims && dims.some((d, i) => d !== expectedDims[i])) {
    fail(`dimensions [${dims.join(', ')}], expected [${expectedDims.join(', ')}]`);
  }
  const size = dims.reduce((a, b) => a * b, 1);
  if (bytes.length !== headerBytes + size) {
    fail(
      `${bytes.length} bytes, expected ${headerBytes + size} for dimensions [${
        dims.join(', ')
      }] (truncated or padded?)`,
    );
  }
  return { dims, data: bytes.subarray(headerBytes) };
}

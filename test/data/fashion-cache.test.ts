import { mkdir, mkdtemp, readFile, rm, stat, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { convertFashionJson } from '../../src/data/fashion-cache.js';
import { fashionCachePath, readFashionBytes } from '../../src/data/index.js';

let source: string;
let temp: string;

/** Ten tiny class files in the package's format: images whose pixels are all `c * 10 + i`. */
async function writeSource(dir: string, perClass: number, pad = false): Promise<void> {
  for (let c = 0; c < 10; c++) {
    const data: number[][] = Array.from({ length: perClass }, (_, i) => Array(784).fill(c * 10 + i));
    if (pad && c === 0) data.push([], []);
    await writeFile(join(dir, `${c}.json`), JSON.stringify({ data }));
  }
}

beforeAll(async () => {
  temp = await mkdtemp(join(tmpdir(), 'fashion-'));
  source = join(temp, 'source');
  await mkdir(source);
  await writeSource(source, 3, true);
});
afterAll(async () => rm(temp, { recursive: true, force: true }));

describe('convertFashionJson', () => {
  it('reads the ten files in class order, skipping empty entries', () => {
    const data = convertFashionJson(source);
    expect(data.n).toBe(30);
    expect([...data.labels]).toEqual(Array.from({ length: 30 }, (_, i) => Math.floor(i / 3)));
    expect(data.images[4 * 784]).toBe(11); // class 1, image 1
  });

  it('names the file and entry of a bad image', async () => {
    const bad = join(temp, 'bad');
    await mkdir(bad);
    await writeSource(bad, 2);
    await writeFile(join(bad, '4.json'), JSON.stringify({ data: [Array(784).fill(0), Array(784).fill(300)] }));
    expect(() => convertFashionJson(bad)).toThrow(`${join(bad, '4.json')} entry 1 pixel 0 is 300, not 0–255`);
    await writeFile(join(bad, '4.json'), JSON.stringify({ data: [[1, 2, 3]] }));
    expect(() => convertFashionJson(bad)).toThrow(`${join(bad, '4.json')} entry 0 is not an array of 784 pixels`);
  });
});

describe('readFashionBytes', () => {
  it('converts once, then reads the compact cache', async () => {
    const cacheDir = join(temp, 'cache-a');
    const first = readFashionBytes({ sourceDir: source, cacheDir });
    const cache = fashionCachePath(cacheDir);
    expect((await stat(cache)).size).toBeLessThan(30 * 785 + 200);
    // Same sizes, other pixels: a read that still returns the old pixels came from the cache.
    const original = await readFile(join(source, '0.json'), 'utf8');
    await writeFile(join(source, '0.json'), original.replace(/\b0\b/g, '9'));
    try {
      const second = readFashionBytes({ sourceDir: source, cacheDir });
      expect(second.images).toEqual(first.images);
      expect(second.labels).toEqual(first.labels);
    } finally {
      await writeFile(join(source, '0.json'), original);
    }
  });

  it('rebuilds a truncated cache, or one built from other files', async () => {
    const cacheDir = join(temp, 'cache-b');
    const first = readFashionBytes({ sourceDir: source, cacheDir });
    await truncate(fashionCachePath(cacheDir), 100);
    expect(readFashionBytes({ sourceDir: source, cacheDir }).images).toEqual(first.images);
    expect((await stat(fashionCachePath(cacheDir))).size).toBeGreaterThan(100);
    const other = join(temp, 'other');
    await mkdir(other);
    await writeSource(other, 4);
    expect(readFashionBytes({ sourceDir: other, cacheDir }).n).toBe(40);
  });
});

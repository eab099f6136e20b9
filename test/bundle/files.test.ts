import { spawnSync } from 'node:child_process';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { recoverInterrupted } from '../../src/bundle/files.js';
import { listFiles } from '../../src/files/index.js';
import { tempDir } from './helpers.js';

let base: string;
let deadPid: number;

beforeAll(async () => {
  base = await tempDir();
  // A pid that certainly belonged to a process that has exited.
  deadPid = Number(spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']).stdout.toString());
});
afterAll(async () => rm(base, { recursive: true, force: true }));

async function folder(path: string, marker: string): Promise<void> {
  await mkdir(path, { recursive: true });
  await writeFile(join(path, 'marker'), marker);
}

describe('recoverInterrupted', () => {
  it('puts back an old bundle a dead writer had moved aside, and drops its temp folder', async () => {
    const dir = join(base, 'b1');
    await folder(join(base, `.b1.old-${deadPid}-0a0b`), 'old');
    await folder(join(base, `.b1.tmp-${deadPid}-0c0d`), 'new, complete or not');
    expect(await recoverInterrupted(dir)).toBe(true);
    expect(await readFile(join(dir, 'marker'), 'utf8')).toBe('old');
    expect((await readdir(base)).filter((n) => n.startsWith('.b1.'))).toEqual([]);
  });

  it("deletes a dead writer's leftovers when the bundle is in place", async () => {
    const dir = join(base, 'b2');
    await folder(dir, 'current');
    await folder(join(base, `.b2.old-${deadPid}-0a0b`), 'previous');
    expect(await recoverInterrupted(dir)).toBe(true);
    expect(await readFile(join(dir, 'marker'), 'utf8')).toBe('current');
    expect((await readdir(base)).filter((n) => n.startsWith('.b2.'))).toEqual([]);
  });

  it("leaves a live writer's folders alone, and other bundles' too", async () => {
    const dir = join(base, 'b3');
    await folder(join(base, `.b3.tmp-${process.pid}-0a0b`), 'being written');
    await folder(join(base, `.b3x.tmp-${deadPid}-0a0b`), 'another bundle');
    expect(await recoverInterrupted(dir)).toBe(false);
    expect((await readdir(base)).filter((n) => n.startsWith('.b3'))).toHaveLength(2);
  });
});

describe('listFiles', () => {
  it('lists nested files with forward slashes, sorted', async () => {
    const dir = join(base, 'tree');
    await folder(join(dir, 'b/c'), 'x');
    await folder(join(dir, 'a'), 'y');
    expect(await listFiles(dir)).toEqual(['a/marker', 'b/c/marker']);
  });
});

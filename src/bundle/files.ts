import { randomBytes } from 'node:crypto';
import { mkdir, readdir, rename, rm } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { exists, syncDir, writeDurable } from '../files/index.js';

// A save in progress: `.<bundle>.tmp-<pid>-<hex>` is the new bundle being written; `.<bundle>.old-<pid>-<hex>`
// is the old bundle moved aside for the instant between the two renames of the swap.
type SiblingKind = 'tmp' | 'old';

/** A hidden sibling of `dir` in the same folder (same file system, so rename is atomic). */
export function siblingPath(dir: string, kind: SiblingKind): string {
  return join(dirname(dir), `.${basename(dir)}.${kind}-${process.pid}-${randomBytes(4).toString('hex')}`);
}

function isAlive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: the process exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

interface Sibling {
  path: string;
  kind: SiblingKind;
  pid: number;
}

async function siblings(dir: string): Promise<Sibling[]> {
  const prefix = `.${basename(dir)}.`;
  let names: string[];
  try {
    names = await readdir(dirname(dir));
  } catch {
    return [];
  }
  const found: Sibling[] = [];
  for (const name of names) {
    if (!name.startsWith(prefix)) continue;
    const match = /^(tmp|old)-(\d+)-[0-9a-f]+$/.exec(name.slice(prefix.length));
    if (match) found.push({ path: join(dirname(dir), name), kind: match[1] as SiblingKind, pid: Number(match[2]) });
  }
  return found;
}

/**
 * Finishes what a killed writer left: if it died between moving the old bundle aside and renaming
 * the new one in, the old bundle goes back (the save never completed, so the old one stands);
 * otherwise its leftovers are deleted. Leftovers of live writers are not touched. SQLite rolls back
 * a hot journal on open the same way.
 *
 * @returns whether a bundle now exists at `dir`.
 * @example
 *   await recoverInterrupted('models/mnist'); // saveBundle and loadBundle call it themselves
 */
export async function recoverInterrupted(folder: string): Promise<boolean> {
  const dir = resolve(folder);
  const dead = (await siblings(dir)).filter((s) => !isAlive(s.pid));
  for (const old of dead.filter((s) => s.kind === 'old')) {
    if (!(await exists(dir))) {
      await rename(old.path, dir);
      await syncDir(dirname(dir));
    } else {
      await rm(old.path, { recursive: true, force: true });
    }
  }
  for (const temp of dead.filter((s) => s.kind === 'tmp')) await rm(temp.path, { recursive: true, force: true });
  return exists(dir);
}

/** Whether a live writer is mid-swap on `dir` (its old bundle is moved aside right now). */
export async function swapInProgress(dir: string): Promise<boolean> {
  return (await siblings(dir)).some((s) => s.kind === 'old' && isAlive(s.pid));
}

/** Where a folder publish has got to; a test pauses a writer at one of them to kill it there. */
export type PublishStep = 'moved-old' | 'renamed-new';

/**
 * Publishes a folder atomically: `write` fills a hidden temporary sibling (fsyncing what it writes),
 * which is then renamed into place; an existing folder is moved aside for the instant between the
 * two renames and then deleted. A crash at any point leaves the old folder or the new one, never a
 * mix (one killed between the renames is rolled back by recoverInterrupted). One writer at a time.
 */
export async function publishFolder(folder: string, write: (temp: string) => Promise<void>,
  step: (step: PublishStep, detail: string) => void | Promise<void> = () => {}): Promise<void> {
  const dir = resolve(folder);
  await mkdir(dirname(dir), { recursive: true });
  await recoverInterrupted(dir);
  const temp = siblingPath(dir, 'tmp');
  try {
    await mkdir(temp);
    await write(temp);
  } catch (error) {
    await rm(temp, { recursive: true, force: true });
    throw error;
  }
  await swap(temp, dir, step);
}

async function swap(temp: string, dir: string,
  step: (step: PublishStep, detail: string) => void | Promise<void>): Promise<void> {
  if (!(await exists(dir))) {
    await rename(temp, dir);
    await syncDir(dirname(dir));
    await step('renamed-new', dir);
    return;
  }
  const old = siblingPath(dir, 'old');
  await rename(dir, old);
  await step('moved-old', old);
  try {
    await rename(temp, dir);
  } catch (error) {
    await rename(old, dir);
    await rm(temp, { recursive: true, force: true });
    throw error;
  }
  await syncDir(dirname(dir));
  await step('renamed-new', dir);
  await rm(old, { recursive: true, force: true });
}

/**
 * Writes each (relative path, bytes) under `root`, fsynced with the folders that hold them, calling `onFile` after
 * each.
 */
export async function writeFiles(root: string, files: Iterable<[string, Uint8Array]>,
  onFile: (path: string) => void | Promise<void> = () => {}): Promise<void> {
  const folders = new Set<string>([root]);
  for (const [path, bytes] of files) {
    const target = join(root, path);
    folders.add(dirname(target));
    await mkdir(dirname(target), { recursive: true });
    await writeDurable(target, bytes);
    await onFile(path);
  }
  for (const folder of folders) await syncDir(folder);
}

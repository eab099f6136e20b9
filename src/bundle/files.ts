import { randomBytes } from 'node:crypto';
import { readdir, rename, rm } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { exists, syncDir } from '../files/index.js';

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

import { createRequire } from 'node:module';

/** glibc's mallopt parameters (malloc.h). */
const M_TRIM_THRESHOLD = -1;
const M_MMAP_THRESHOLD = -3;
/** Free memory the heap may hold before glibc hands it back to the kernel. */
const TRIM_THRESHOLD_BYTES = 1 << 30;
/** The largest mmap threshold glibc accepts on 64-bit; larger blocks (whole datasets) are still mapped on their own. */
const MMAP_THRESHOLD_BYTES = 32 << 20;

/**
 * V8's young generation for training processes (`.npmrc` passes it to every npm script; RunPool
 * to its workers). tfjs makes tens of MB of short-lived tensors per step; with the default young
 * generation they outlive it, and V8 ran a full mark-compact every few steps: the MNIST teacher
 * trained at ~3,200 examples/s, ~5,000 with this flag. It only takes effect at process start.
 */
export const YOUNG_GENERATION_FLAG = '--max-semi-space-size=64';

/** Whether this process started with a young generation sized for training. */
export function youngGenerationSized(execArgv = process.execArgv,
  nodeOptions = process.env.NODE_OPTIONS ?? ''): boolean {
  return [...execArgv, ...nodeOptions.split(/\s+/)].some((arg) => arg.startsWith('--max-semi-space-size'));
}

export type HeapChoice = { kept: true; reason: string } | { kept: false; reason: string };

let cached: HeapChoice | undefined;

interface Koffi {
  load(path: string): { func(signature: string): (...args: number[]) => number };
}

/**
 * Keeps freed memory in the process instead of returning it to the kernel.
 *
 * tfjs gives every kernel output a fresh array, so a training step frees and reallocates tens of
 * megabytes. By default glibc serves blocks this size with mmap, or trims them off the heap when
 * they are freed, and every page of the next allocation faults back in: ~1,900 page faults per
 * step of the MNIST teacher, half the step on this VM (an exploratory A/B at one thread: 25 ms with
 * this call, 50–60 ms without; `npm run bench:engine` reports the faults per step). With the heap
 * kept, the next array reuses pages already mapped.
 * The cost is that the process's resident size stays at its peak, up to 1 GiB of it free.
 *
 * Called by initEngine, once per process. mallopt is reached through koffi (an FFI with prebuilt
 * binaries), an optional dependency: where it or glibc is missing, nothing changes but speed.
 */
export function keepFreedMemory(): HeapChoice {
  if (cached) return cached;
  cached = applyMallopt();
  return cached;
}

function applyMallopt(): HeapChoice {
  if (process.platform !== 'linux') return { kept: false, reason: `${process.platform} has no glibc malloc to tune` };
  let koffi: Koffi;
  try {
    koffi = createRequire(import.meta.url)('koffi') as Koffi;
  } catch {
    return { kept: false, reason: 'koffi (optional dependency) is not installed' };
  }
  let mallopt: (parameter: number, value: number) => number;
  try {
    mallopt = koffi.load('libc.so.6').func('int mallopt(int, int)');
  } catch (error) {
    return { kept: false, reason: `no glibc mallopt (${error instanceof Error ? error.message : String(error)})` };
  }
  // mallopt returns 1 on success, 0 when glibc refuses the value.
  if (mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES) !== 1 || mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD_BYTES) !== 1) {
    return { kept: false, reason: 'glibc refused the mallopt settings' };
  }
  return { kept: true,
    reason: `glibc keeps up to ${TRIM_THRESHOLD_BYTES >> 20} MiB freed; blocks under ${
      MMAP_THRESHOLD_BYTES >> 20
    } MiB come from the heap` };
}

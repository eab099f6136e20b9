import { availableParallelism } from 'node:os';
import * as tf from '@tensorflow/tfjs';
import type { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu';
import { BLAS_BACKEND, quietCpuBackend, registerBlasBackend } from './blas-backend.js';
import { chooseOpenBlasThreads } from './cpu-kernels.js';
import { type HeapChoice, keepFreedMemory, YOUNG_GENERATION_FLAG, youngGenerationSized } from './heap.js';
import { blasLoadAttempted, loadBlas } from './nblas.js';

export const BACKENDS = ['tensorflow', 'blas', 'wasm', 'cpu'] as const;
export type BackendName = (typeof BACKENDS)[number];
export type BackendChoice = BackendName | 'auto';

export interface EngineInfo {
  backend: BackendName;
  /** Which native library does the matrix products: libtensorflow, OpenBLAS, XNNPACK, or plain JS. */
  blasLibrary: string;
  threads: number;
  /** For each better backend that was skipped, why. */
  skipped: { backend: BackendName; reason: string }[];
  /** The tfjs-node package that provided `tensorflow`, when it did. */
  tensorflowPackage?: string;
  /** Whether freed kernel outputs stay mapped in the process (see keepFreedMemory), and why not. */
  heap: HeapChoice;
}

export interface EngineOptions {
  backend?: BackendChoice;
  /** Where the choice is announced; tests pass a no-op. */
  log?: (line: string) => void;
  /**
   * OpenBLAS threads, when this call is the first to load it and the user has not set
   * OPENBLAS_NUM_THREADS. Left out, OpenBLAS uses every core (what training wants).
   */
  blasThreads?: number;
}

let current: EngineInfo | undefined;

/** The environment variable that forces a backend, as `--backend` does on the command line. */
export const BACKEND_ENV = 'DISTILL_BACKEND';

type Attempt = { ok: true; info: Omit<EngineInfo, 'skipped' | 'backend' | 'heap'> } | { ok: false; reason: string };

const TENSORFLOW_PACKAGES = ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node'];

async function tryTensorflow(): Promise<Attempt> {
  const reasons: string[] = [];
  for (const name of TENSORFLOW_PACKAGES) {
    try {
      // A variable specifier: neither package is installed here, and neither must be needed to compile.
      await import(name);
      if (await tf.setBackend('tensorflow')) {
        return { ok: true,
          info: { blasLibrary: 'libtensorflow', threads: availableParallelism(), tensorflowPackage: name } };
      }
      reasons.push(`${name} loaded but its backend did not initialise`);
    } catch (error) {
      reasons.push(`${name} not installed (its install downloads libtensorflow, which needs Google's storage)`);
      void error;
    }
  }
  return { ok: false, reason: reasons.join('; ') };
}

async function tryBlas(): Promise<Attempt> {
  const load = loadBlas();
  if (!load.ok) return { ok: false, reason: load.reason };
  registerBlasBackend(load.blas);
  if (!(await tf.setBackend(BLAS_BACKEND))) return { ok: false, reason: 'blas backend failed to initialise' };
  const threads = Number(process.env.OPENBLAS_NUM_THREADS) || availableParallelism();
  return { ok: true,
    info: { blasLibrary: load.kernels ? `OpenBLAS (nblas), ${load.kernels.coreType} kernels` : 'OpenBLAS (nblas)',
      threads } };
}

async function tryWasm(): Promise<Attempt> {
  try {
    await import('@tensorflow/tfjs-backend-wasm');
    if (await tf.setBackend('wasm')) return { ok: true, info: { blasLibrary: 'XNNPACK (wasm)', threads: 1 } };
    return { ok: false, reason: 'wasm backend did not initialise' };
  } catch (error) {
    return { ok: false, reason: `wasm backend failed: ${error instanceof Error ? error.message : String(error)}` };
  }
}

async function tryCpu(): Promise<Attempt> {
  await tf.setBackend('cpu');
  return { ok: true, info: { blasLibrary: 'none (JavaScript loops)', threads: 1 } };
}

const ATTEMPTS: Record<BackendName, () => Promise<Attempt>> = {
  tensorflow: tryTensorflow,
  blas: tryBlas,
  wasm: tryWasm,
  cpu: tryCpu,
};

export function parseBackendChoice(value: string | undefined): BackendChoice {
  if (value === undefined || value === '' || value === 'auto') return 'auto';
  if ((BACKENDS as readonly string[]).includes(value)) return value as BackendName;
  throw new Error(`Unknown backend "${value}": use one of auto, ${BACKENDS.join(', ')}`);
}

/**
 * Picks and activates the tfjs backend. `auto` takes the first that works of tensorflow (GPU, then
 * CPU build), blas, wasm, cpu, and says why it skipped the better ones. A forced backend that
 * cannot load throws: a silent fallback would change every timing and could change results.
 *
 * @example
 *   const info = await initEngine({ backend: 'auto' });
 *   console.log(info.backend); // 'blas' on a machine with libopenblas-dev
 */
export async function initEngine(options: EngineOptions = {}): Promise<EngineInfo> {
  const choice = options.backend ?? parseBackendChoice(process.env[BACKEND_ENV]);
  const log = options.log ?? ((line: string) => console.error(line));
  const order: BackendName[] = choice === 'auto' ? [...BACKENDS] : [choice];
  if (options.blasThreads !== undefined) {
    if (blasLoadAttempted()) {
      log(
        `engine: OpenBLAS already loaded with ${
          process.env.OPENBLAS_NUM_THREADS ?? 'its default'
        } threads; ${options.blasThreads} asked for too late`,
      );
    } else chooseOpenBlasThreads(options.blasThreads);
  }
  const skipped: EngineInfo['skipped'] = [];
  const heap = keepFreedMemory();
  if (!heap.kept) log(`engine: freed memory goes back to the kernel (${heap.reason}); kernels will page-fault more`);
  if (!youngGenerationSized()) {
    log(
      `engine: node started without ${YOUNG_GENERATION_FLAG} (npm scripts pass it through .npmrc); training runs ` +
        `slower in GC`,
    );
  }
  // The stock cpu backend stays registered beside whichever is chosen (tests compare against it).
  quietCpuBackend(tf.findBackend('cpu') as MathBackendCPU);
  for (const backend of order) {
    const attempt = await ATTEMPTS[backend]();
    if (attempt.ok) {
      current = { backend, skipped, heap, ...attempt.info };
      for (const skip of skipped) log(`engine: skipped ${skip.backend}: ${skip.reason}`);
      log(
        `engine: using ${backend} (${current.blasLibrary}, ${current.threads} thread${
          current.threads === 1 ? '' : 's'
        })`,
      );
      return current;
    }
    if (choice !== 'auto') {
      throw new Error(`engine: backend "${backend}" was forced but cannot load: ${attempt.reason}`);
    }
    skipped.push({ backend, reason: attempt.reason });
  }
  throw new Error('engine: no backend could load, not even cpu');
}

/** What initEngine chose; throws if it has not run, since every caller depends on the choice. */
export function engineInfo(): EngineInfo {
  if (!current) throw new Error('engine not initialised: call initEngine() first');
  return current;
}

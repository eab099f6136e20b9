import { createRequire } from 'node:module';
import { chooseOpenBlasKernels, type KernelChoice } from './cpu-kernels.js';

/** The slice of the nblas API the engine uses (row-major CBLAS, float32). */
export interface Blas {
  sgemm(transA: number, transB: number, m: number, n: number, k: number, alpha: number, a: Float32Array, lda: number,
    b: Float32Array, ldb: number, beta: number, c: Float32Array, ldc: number): void;
  sgemv(trans: number, m: number, n: number, alpha: number, a: Float32Array, lda: number, x: Float32Array, incx: number,
    beta: number, y: Float32Array, incy: number): void;
  sscal(n: number, alpha: number, x: Float32Array, incx: number): void;
  saxpy(n: number, alpha: number, x: Float32Array, incx: number, y: Float32Array, incy: number): void;
  NoTrans: number;
  Trans: number;
}

/** `kernels`: the OpenBLAS kernels asked for before loading, when the engine or the user chose them. */
export type BlasLoad = { ok: true; blas: Blas; kernels: KernelChoice | undefined } | { ok: false; reason: string };

let cached: BlasLoad | undefined;

/** Whether OpenBLAS has been loaded (or failed to) in this process: its settings are fixed from then on. */
export function blasLoadAttempted(): boolean {
  return cached !== undefined;
}

/**
 * Loads the nblas native addon once. nblas is an optional dependency: its build needs Debian's
 * libopenblas-dev, so a machine without it still installs, and the engine falls back with this reason.
 */
export function loadBlas(): BlasLoad {
  if (cached) return cached;
  if (process.env.DISTILL_NO_BLAS === '1') {
    // Lets CI and users exercise the fallback path on a machine where nblas is built.
    cached = { ok: false, reason: 'nblas disabled by DISTILL_NO_BLAS=1: unset it to use OpenBLAS' };
    return cached;
  }
  try {
    // createRequire: nblas is CommonJS with a native addon, and a static import would make the
    // whole engine fail to load where the addon is not built.
    const require = createRequire(import.meta.url);
    const kernels = chooseOpenBlasKernels();
    const blas = require('nblas') as Blas;
    probe(blas);
    cached = { ok: true, blas, kernels };
  } catch (error) {
    const detail = error instanceof Error ? error.message.split('\n')[0] : String(error);
    cached = {
      ok: false,
      reason: `nblas not built (${detail}): install libopenblas-dev and run npm rebuild nblas`,
    };
  }
  return cached;
}

/** A 2×2 product with a known answer, so a wrongly linked BLAS fails here and not mid-training. */
function probe(blas: Blas): void {
  const a = new Float32Array([1, 2, 3, 4]);
  const b = new Float32Array([5, 6, 7, 8]);
  const c = new Float32Array(4);
  blas.sgemm(blas.NoTrans, blas.NoTrans, 2, 2, 2, 1, a, 2, b, 2, 0, c, 2);
  if (c[0] !== 19 || c[1] !== 22 || c[2] !== 43 || c[3] !== 50) {
    throw new Error(`sgemm self-test gave [${Array.from(c)}], expected [19,22,43,50]`);
  }
}

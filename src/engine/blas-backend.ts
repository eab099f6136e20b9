import * as tf from '@tensorflow/tfjs';
import { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu';
import { BINARY_FORMULAS, type BinaryOp, binaryKernel } from './kernels/binary.js';
import { gatherKernel } from './kernels/gather.js';
import { batchMatMulKernel, fusedMatMulKernel } from './kernels/matmul.js';
import { reduceKernel, softmaxKernel } from './kernels/reduce.js';
import { UNARY_FORMULAS, type UnaryOp, unaryKernel } from './kernels/unary.js';
import { type FastKernel, withFallback } from './kernels/kernel-args.js';
import type { Blas } from './nblas.js';

export const BLAS_BACKEND = 'blas';

/** Every kernel the blas backend replaces, by tfjs kernel name. */
export function fastKernels(blas: Blas): Record<string, FastKernel> {
  const kernels: Record<string, FastKernel> = {
    BatchMatMul: batchMatMulKernel(blas),
    _FusedMatMul: fusedMatMulKernel(blas),
    Sum: reduceKernel('sum'),
    Max: reduceKernel('max'),
    Min: reduceKernel('min'),
    Mean: reduceKernel('mean'),
    Softmax: softmaxKernel(),
    GatherV2: gatherKernel(),
  };
  for (const op of Object.keys(BINARY_FORMULAS) as BinaryOp[]) kernels[op] = binaryKernel(op);
  for (const op of Object.keys(UNARY_FORMULAS) as UnaryOp[]) kernels[op] = unaryKernel(op);
  return kernels;
}

/**
 * Registers `blas`: tfjs's own cpu backend class with every stock cpu kernel, then our kernels on
 * top. A separate name (rather than overwriting `cpu`) keeps the stock kernels callable in the same
 * process, which is what the kernel tests compare against.
 */
export function registerBlasBackend(blas: Blas): void {
  if (tf.findBackendFactory(BLAS_BACKEND)) return;
  tf.registerBackend(BLAS_BACKEND, () => quietCpuBackend(new MathBackendCPU()), 0);
  for (const config of tf.getKernelsForBackend('cpu')) {
    tf.registerKernel({ ...config, backendName: BLAS_BACKEND });
  }
  for (const [kernelName, fast] of Object.entries(fastKernels(blas))) {
    const stock = tf.getKernel(kernelName, 'cpu');
    if (!stock) throw new Error(`tfjs has no stock cpu kernel ${kernelName}: the engine targets tfjs 4.x`);
    tf.unregisterKernel(kernelName, BLAS_BACKEND);
    tf.registerKernel({ kernelName, backendName: BLAS_BACKEND, kernelFunc: withFallback(fast, stock.kernelFunc) });
  }
}

/**
 * tfjs's cpu backend prints a banner telling Node users to install tfjs-node on first use; the
 * engine already logs what it chose and why tfjs-node is unavailable, so the banner only misleads.
 */
export function quietCpuBackend(backend: MathBackendCPU): MathBackendCPU {
  (backend as unknown as { firstUse: boolean }).firstUse = false;
  return backend;
}

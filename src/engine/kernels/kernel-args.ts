import type { KernelFunc, TensorInfo } from '@tensorflow/tfjs';
import type { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu';

/** The arguments tfjs passes to every kernel, typed for the cpu backend our kernels run on. */
export interface CpuKernelArgs {
  inputs: Record<string, TensorInfo | undefined>;
  backend: MathBackendCPU;
  attrs?: Record<string, unknown>;
}

/** A fast kernel: returns its result, or null to hand the call to the stock kernel. */
export type FastKernel = (args: CpuKernelArgs) => TensorInfo | null;

export function valuesOf(backend: MathBackendCPU, t: TensorInfo): Float32Array {
  return backend.data.get(t.dataId).values as Float32Array;
}

export function isFloat32(...tensors: (TensorInfo | undefined)[]): boolean {
  return tensors.every((t) => t !== undefined && t.dtype === 'float32');
}

export function sizeOf(shape: readonly number[]): number {
  let size = 1;
  for (const d of shape) size *= d;
  return size;
}

export function output(backend: MathBackendCPU, shape: number[], values: Float32Array): TensorInfo {
  return backend.makeTensorInfo(shape, 'float32', values);
}

/**
 * Wraps a fast kernel so that any call it declines goes to the stock kernel with the same
 * arguments: correctness never depends on the fast path covering a case.
 */
export function withFallback(fast: FastKernel, stock: KernelFunc): KernelFunc {
  return (args) => fast(args as unknown as CpuKernelArgs) ?? (stock(args) as TensorInfo);
}

let poisonFreshOutputs = false;

/** For tests: fill every fresh output with NaN, so a kernel that leaves an element unwritten fails its comparison. */
export function poisonOutputs(on: boolean): void {
  poisonFreshOutputs = on;
}

/**
 * The values of a kernel output that the kernel then writes in full. Node's unsafe allocation
 * skips calloc's zeroing: on these VMs zeroing a 600 KB activation (page faults included) cost
 * ~150 µs, as long as the elementwise op that fills it.
 */
export function outputValues(length: number): Float32Array {
  const bytes = Buffer.allocUnsafeSlow(length * 4);
  const values = new Float32Array(bytes.buffer, bytes.byteOffset, length);
  if (poisonFreshOutputs) values.fill(NaN);
  return values;
}

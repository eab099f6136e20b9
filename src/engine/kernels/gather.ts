import type { TensorInfo } from '@tensorflow/tfjs';
import { gatherRows } from '../../data/dataset.js';
import {
  type CpuKernelArgs, type FastKernel, isFloat32, output, outputValues, sizeOf, valuesOf,
} from './kernel-args.js';

/**
 * GatherV2 along the first axis: whole rows copied with `TypedArray.set`. The stock kernel
 * computes a multi-index for every output element; serving the ensemble gathers each active
 * specialist's rows once per batch, and that loop took as long as all its matmuls together
 * (`--cpu-prof` of the overload test: 1.9 s of gather against 2.1 s of dense layers).
 * Any other axis, batch dims, or an index out of range goes to the stock kernel, which also
 * raises its error.
 */
export function gatherKernel(): FastKernel {
  return ({ inputs, backend, attrs }: CpuKernelArgs) => {
    const { x, indices } = inputs as { x: TensorInfo; indices: TensorInfo };
    const axis = Number(attrs?.axis ?? 0);
    if (!isFloat32(x) || indices.dtype !== 'int32' || Number(attrs?.batchDims ?? 0) !== 0) return null;
    if (x.shape.length === 0 || (axis !== 0 && axis !== -x.shape.length)) return null;
    const rows = backend.data.get(indices.dataId).values as Int32Array;
    const count = x.shape[0];
    for (const row of rows) if (!(row >= 0 && row < count)) return null;
    const width = sizeOf(x.shape.slice(1));
    const out = gatherRows(valuesOf(backend, x), width, rows, outputValues(rows.length * width));
    return output(backend, [...indices.shape, ...x.shape.slice(1)], out);
  };
}

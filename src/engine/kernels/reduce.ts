import { util, type TensorInfo } from '@tensorflow/tfjs';
import { type CpuKernelArgs, type FastKernel, isFloat32, output, outputValues, sizeOf,
  valuesOf } from './kernel-args.js';

/**
 * A reduction over a contiguous run of axes [first, last] views the input as
 * [outer, reduced, inner] without moving data. The stock kernels transpose the reduced axes to the
 * end first, which for a bias gradient (sum over the batch axis) copies the whole input.
 */
interface Span {
  outer: number;
  reduced: number;
  inner: number;
  outShape: number[];
}

function spanOf(shape: number[], axisAttr: unknown, keepDims: boolean): Span | null {
  const axes = util.parseAxisParam(axisAttr as number | number[], shape).sort((x, y) => x - y);
  for (let i = 1; i < axes.length; i++) if (axes[i] !== axes[i - 1] + 1) return null;
  const first = axes.length > 0 ? axes[0] : shape.length;
  const last = axes.length > 0 ? axes[axes.length - 1] : shape.length - 1;
  const outShape = keepDims ?
    shape.map((d, i) => (i >= first && i <= last ? 1 : d)) :
    shape.filter((_, i) => i < first || i > last);
  return {
    outer: sizeOf(shape.slice(0, first)),
    reduced: sizeOf(shape.slice(first, last + 1)),
    inner: sizeOf(shape.slice(last + 1)),
    outShape,
  };
}

type Combine = 'sum' | 'max' | 'min';

function reduceSpan(x: Float32Array, { outer, reduced, inner }: Span, combine: Combine): Float32Array {
  const out = outputValues(outer * inner);
  if (inner === 1) {
    // Reducing the innermost axis: one running value per row, as the stock kernels do.
    for (let o = 0; o < outer; o++) {
      const base = o * reduced;
      let acc = combine === 'sum' ? 0 : x[base];
      if (combine === 'sum') { for (let r = 0; r < reduced; r++) acc += x[base + r]; }
      else if (combine === 'max') {
        for (let r = 0; r < reduced; r++) {
          const v = x[base + r];
          if (v !== v || v > acc) acc = v;
        }
      } else {for (let r = 0; r < reduced; r++) {
          const v = x[base + r];
          if (v !== v || v < acc) acc = v;
        }}
      out[o] = acc;
    }
    return out;
  }
  // Reducing an outer axis: sweep rows in memory order and accumulate columns in float64,
  // so the sum has the stock kernel's precision without its transpose.
  const acc = new Float64Array(inner);
  for (let o = 0; o < outer; o++) {
    const start = o * reduced * inner;
    if (combine === 'sum') acc.fill(0);
    else acc.set(x.subarray(start, start + inner));
    for (let r = 0; r < reduced; r++) {
      const row = start + r * inner;
      if (combine === 'sum') { for (let j = 0; j < inner; j++) acc[j] += x[row + j]; }
      else if (combine === 'max') {
        for (let j = 0; j < inner; j++) {
          const v = x[row + j];
          if (v !== v || v > acc[j]) acc[j] = v;
        }
      } else {for (let j = 0; j < inner; j++) {
          const v = x[row + j];
          if (v !== v || v < acc[j]) acc[j] = v;
        }}
    }
    out.set(acc, o * inner);
  }
  return out;
}

/** Sum, Max, Min and Mean over contiguous axes of float32 tensors. */
export function reduceKernel(kind: Combine | 'mean'): FastKernel {
  return ({ inputs, backend, attrs }: CpuKernelArgs) => {
    const { x } = inputs as { x: TensorInfo };
    if (!isFloat32(x)) return null;
    // Max names its axes `reductionIndices`; Sum, Min and Mean call them `axis`.
    const axisAttr = attrs?.axis ?? attrs?.reductionIndices;
    const span = spanOf([...x.shape], axisAttr, Boolean(attrs?.keepDims));
    if (!span || (span.reduced === 0 && kind !== 'sum')) return null;
    const out = reduceSpan(valuesOf(backend, x), span, kind === 'mean' ? 'sum' : kind);
    if (kind === 'mean') { for (let i = 0; i < out.length; i++) out[i] /= span.reduced; }
    return output(backend, span.outShape, out);
  };
}

/** Softmax over the last axis in one pass per row (the stock kernel chains six kernels). */
export function softmaxKernel(): FastKernel {
  return ({ inputs, backend, attrs }: CpuKernelArgs) => {
    const { logits } = inputs as { logits: TensorInfo };
    const rank = logits.shape.length;
    const dim = Number(attrs?.dim ?? -1);
    if (!isFloat32(logits) || (dim !== -1 && dim !== rank - 1)) return null;
    const x = valuesOf(backend, logits);
    const n = logits.shape[rank - 1];
    const out = outputValues(x.length);
    for (let row = 0; row < x.length; row += n) {
      let max = -Infinity;
      for (let j = 0; j < n; j++) if (x[row + j] > max || x[row + j] !== x[row + j]) max = x[row + j];
      let sum = 0;
      for (let j = 0; j < n; j++) {
        const e = Math.exp(x[row + j] - max);
        out[row + j] = e;
        sum += e;
      }
      for (let j = 0; j < n; j++) out[row + j] /= sum;
    }
    return output(backend, [...logits.shape], out);
  };
}

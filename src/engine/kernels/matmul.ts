import { broadcast_util, type TensorInfo } from '@tensorflow/tfjs';
import type { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu';
import type { Blas } from '../nblas.js';
import { reluInPlace } from './unary.js';
import { type CpuKernelArgs, type FastKernel, isFloat32, output, outputValues, sizeOf,
  valuesOf } from './kernel-args.js';

interface Product {
  shape: number[];
  values: Float32Array;
  m: number;
  n: number;
}

/**
 * C = op(A)·op(B) over broadcast batch dimensions, one sgemm per batch entry.
 * Row-major: op(A) is [m, k]; when transposed, A is stored [k, m], so its leading dimension is m.
 */
function batchProduct(blas: Blas, backend: MathBackendCPU, a: TensorInfo, b: TensorInfo, transposeA: boolean,
  transposeB: boolean, prefill?: (c: Float32Array, n: number) => void): Product {
  const ra = a.shape.length;
  const rb = b.shape.length;
  const m = transposeA ? a.shape[ra - 1] : a.shape[ra - 2];
  const k = transposeA ? a.shape[ra - 2] : a.shape[ra - 1];
  const kB = transposeB ? b.shape[rb - 1] : b.shape[rb - 2];
  const n = transposeB ? b.shape[rb - 2] : b.shape[rb - 1];
  if (k !== kB) {
    throw new Error(
      `Error in matMul: inner shapes (${k}) and (${kB}) of Tensors with shapes ${a.shape} and ` +
        `${b.shape} and transposeA=${transposeA} and transposeB=${transposeB} must match.`,
    );
  }
  const outerA = a.shape.slice(0, -2);
  const outerB = b.shape.slice(0, -2);
  const outer = broadcast_util.assertAndGetBroadcastShape(outerA, outerB);
  const shape = [...outer, m, n];
  const values = outputValues(sizeOf(shape));
  // With a prefill (the bias), BLAS accumulates onto it (beta = 1): the addition rides along
  // inside sgemm instead of costing a separate pass over the output. Without one, sgemm's
  // beta = 0 overwrites C; gemv's scales it by 0, which keeps NaN in garbage, so it is zeroed.
  if (prefill) prefill(values, n);
  else if (k === 0 || m === 1) values.fill(0);
  const beta = prefill ? 1 : 0;
  if (values.length === 0 || k === 0) return { shape, values, m, n };

  const av = valuesOf(backend, a);
  const bv = valuesOf(backend, b);
  const lda = transposeA ? m : k;
  const ldb = transposeB ? k : n;
  const tA = transposeA ? blas.Trans : blas.NoTrans;
  const tB = transposeB ? blas.Trans : blas.NoTrans;
  const batches = sizeOf(outer);
  const indexA = batchIndexer(outerA, outer);
  const indexB = batchIndexer(outerB, outer);
  const sizeA = m * k;
  const sizeB = k * n;
  const sizeC = m * n;
  for (let batch = 0; batch < batches; batch++) {
    const offA = indexA(batch) * sizeA;
    const offB = indexB(batch) * sizeB;
    const A = batches === 1 ? av : av.subarray(offA, offA + sizeA);
    const B = batches === 1 ? bv : bv.subarray(offB, offB + sizeB);
    const C = batches === 1 ? values : values.subarray(batch * sizeC, (batch + 1) * sizeC);
    if (m === 1 && !transposeB) {
      // A row vector times B is B'·x: gemv skips gemm's packing, which dominates at batch 1.
      blas.sgemv(blas.Trans, k, n, 1, B, n, A, 1, beta, C, 1);
    } else {
      blas.sgemm(tA, tB, m, n, k, 1, A, lda, B, ldb, beta, C, n);
    }
  }
  return { shape, values, m, n };
}

/** Maps a flat index over the broadcast outer shape to the flat index into one operand's outer dims. */
function batchIndexer(own: number[], outer: number[]): (flat: number) => number {
  const ownSize = sizeOf(own);
  if (ownSize === 1) return () => 0;
  if (ownSize === sizeOf(outer)) return (flat) => flat;
  const padded = [...new Array(outer.length - own.length).fill(1), ...own];
  const strides = new Array<number>(outer.length);
  let stride = 1;
  for (let d = outer.length - 1; d >= 0; d--) {
    strides[d] = padded[d] === 1 ? 0 : stride;
    stride *= padded[d];
  }
  return (flat) => {
    let index = 0;
    for (let d = outer.length - 1; d >= 0; d--) {
      const coord = flat % outer[d];
      flat = (flat - coord) / outer[d];
      index += coord * strides[d];
    }
    return index;
  };
}

export function batchMatMulKernel(blas: Blas): FastKernel {
  return ({ inputs, backend, attrs }: CpuKernelArgs) => {
    const { a, b } = inputs;
    if (!a || !b || !isFloat32(a, b)) return null;
    const product = batchProduct(blas, backend, a, b, Boolean(attrs?.transposeA), Boolean(attrs?.transposeB));
    return output(backend, product.shape, product.values);
  };
}

type Activation = 'linear' | 'relu' | 'relu6' | 'elu' | 'leakyrelu' | 'sigmoid' | 'prelu';
type Layout = 'scalar' | 'row' | 'full';

/** The [...batch, m, n] shape of op(A)·op(B), without computing it. */
function productShape(a: TensorInfo, b: TensorInfo, transposeA: boolean, transposeB: boolean): number[] {
  const outer = broadcast_util.assertAndGetBroadcastShape(a.shape.slice(0, -2), b.shape.slice(0, -2));
  const m = transposeA ? a.shape[a.shape.length - 1] : a.shape[a.shape.length - 2];
  const n = transposeB ? b.shape[b.shape.length - 2] : b.shape[b.shape.length - 1];
  return [...outer, m, n];
}

/**
 * How an addend lines up with the product of shape [..., m, n]: 'row' repeats every n values
 * (a bias over output units), 'full' matches element for element, 'scalar' is one value.
 * Anything else (a per-row bias, say) returns null and is left to the stock kernel.
 */
function addendLayout(t: TensorInfo, shape: number[]): Layout | null {
  if (t.dtype !== 'float32') return null;
  const size = sizeOf(t.shape);
  if (size === 1) return 'scalar';
  const n = shape[shape.length - 1];
  if (size === n && t.shape[t.shape.length - 1] === n) return 'row';
  const tail = shape.slice(shape.length - t.shape.length);
  if (t.shape.length <= shape.length && size === sizeOf(shape) && t.shape.every((d, i) => d === tail[i])) return 'full';
  return null;
}

function addendAt(values: Float32Array, layout: Layout, i: number, n: number): number {
  return layout === 'scalar' ? values[0] : layout === 'row' ? values[i % n] : values[i];
}

export function fusedMatMulKernel(blas: Blas): FastKernel {
  return ({ inputs, backend, attrs }: CpuKernelArgs) => {
    const { a, b, bias, preluActivationWeights: preluWeights } = inputs;
    if (!a || !b || !isFloat32(a, b)) return null;
    const transposeA = Boolean(attrs?.transposeA);
    const transposeB = Boolean(attrs?.transposeB);
    const activation = (attrs?.activation ?? 'linear') as Activation;
    const alpha = Number(attrs?.leakyreluAlpha ?? 0.2);
    // Decide the layouts before any arithmetic, so a declined call costs no sgemm.
    const shape = productShape(a, b, transposeA, transposeB);
    const biasLayout = bias ? addendLayout(bias, shape) : undefined;
    const preluLayout = activation === 'prelu' && preluWeights ? addendLayout(preluWeights, shape) : undefined;
    if (biasLayout === null || preluLayout === null) return null;
    if (activation === 'prelu' && !preluLayout) return null;

    const prefill = bias && biasLayout ? biasFill(valuesOf(backend, bias), biasLayout) : undefined;
    const product = batchProduct(blas, backend, a, b, transposeA, transposeB, prefill);
    const out = product.values;
    const n = product.n;
    applyActivationInPlace(out, activation, alpha,
      preluWeights && preluLayout ? { values: valuesOf(backend, preluWeights), layout: preluLayout, n } : undefined);
    return output(backend, product.shape, out);
  };
}

/** Writes the bias into the output buffer in its layout, for sgemm to accumulate onto. */
function biasFill(bias: Float32Array, layout: Layout): (out: Float32Array, n: number) => void {
  return (out, n) => {
    if (layout === 'scalar') out.fill(bias[0]);
    else if (layout === 'full') out.set(bias);
    else for (let row = 0; row < out.length; row += n) out.set(bias, row);
  };
}

/** The activations tfjs's fused matMul accepts, with the stock cpu kernels' NaN behaviour. */
function applyActivationInPlace(out: Float32Array, activation: Activation, alpha: number,
  prelu?: { values: Float32Array; layout: Layout; n: number }): void {
  switch (activation) {
    case 'linear':
      return;
    case 'relu':
      reluInPlace(out);
      return;
    case 'relu6':
      for (let i = 0; i < out.length; i++) out[i] = Math.min(Math.max(0, out[i]), 6);
      return;
    case 'elu':
      for (let i = 0; i < out.length; i++) if (out[i] < 0) out[i] = Math.exp(out[i]) - 1;
      return;
    case 'leakyrelu':
      for (let i = 0; i < out.length; i++) if (out[i] < 0) out[i] *= alpha;
      return;
    case 'sigmoid':
      for (let i = 0; i < out.length; i++) out[i] = 1 / (1 + Math.exp(-out[i]));
      return;
    case 'prelu': {
      const { values, layout, n } = prelu!;
      for (let i = 0; i < out.length; i++) if (out[i] < 0) out[i] *= addendAt(values, layout, i, n);
      return;
    }
    default:
      throw new Error(`Activation ${String(activation)} has not been implemented for the blas backend.`);
  }
}

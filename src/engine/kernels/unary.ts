import type { TensorInfo } from '@tensorflow/tfjs';
import { type CpuKernelArgs, type FastKernel, isFloat32, output, outputValues, valuesOf } from './kernel-args.js';

/**
 * Element formulas with the stock cpu kernels' results (x is the input, `alpha` an attribute).
 * Relu and Step are written without a data-dependent branch: on activations, whose sign is a coin
 * flip, `x < 0 ? 0 : x` mispredicts half the time and ran 5× slower than `(x + |x|) / 2` here.
 * The remaining tests (NaN, −∞) are never taken in practice, so they predict perfectly.
 */
export const UNARY_FORMULAS = {
  Relu: 'x === -Infinity ? 0 : (x + Math.abs(x)) * 0.5',
  Relu6: 'Math.min(Math.max(0, x), 6)',
  Step: 'x !== x ? x : alpha + (1 - alpha) * +(x > 0)',
  Exp: 'Math.exp(x)',
  Log: 'Math.log(x)',
  Neg: '-x',
  Sqrt: 'Math.sqrt(x)',
  Rsqrt: '1 / Math.sqrt(x)',
  Square: 'x * x',
  Reciprocal: '1 / x',
  Abs: 'Math.abs(x)',
  Sigmoid: '1 / (1 + Math.exp(-x))',
  Tanh: 'Math.tanh(x)',
  Elu: 'x >= 0 ? x : Math.exp(x) - 1',
  // The stock thresholds: ±(2 − ln 2⁻²³), past which the float32 result is x or exp(x).
  Softplus: 'x > 13.942385152878742 ? x : x < -13.942385152878742 ? Math.exp(x) : Math.log(1 + Math.exp(x))',
} as const;

export type UnaryOp = keyof typeof UNARY_FORMULAS;

/**
 * The Relu formula over the first `length` values, in place: for dense layers that write their
 * own output buffer (fused matMul, the compiled forward). A branching `if (x < 0) x = 0` made the
 * compiled forward's two hidden layers at batch 64 cost ~1 ms more than their sgemm calls.
 */
export function reluInPlace(values: Float32Array, length = values.length): void {
  for (let i = 0; i < length; i++) {
    const x = values[i];
    values[i] = x === -Infinity ? 0 : (x + Math.abs(x)) * 0.5;
  }
}

type Loop = (input: Float32Array, out: Float32Array, alpha: number) => void;

export function unaryKernel(op: UnaryOp): FastKernel {
  // Generated per op for the same reason as the binary loops: one monomorphic function each.
  const loop = new Function('input', 'out', 'alpha',
    `for (let i = 0; i < out.length; i++) { const x = input[i]; out[i] = ${UNARY_FORMULAS[op]}; }`) as Loop;
  return ({ inputs, backend, attrs }: CpuKernelArgs) => {
    const { x } = inputs as { x: TensorInfo };
    if (!isFloat32(x)) return null;
    const source = valuesOf(backend, x);
    const out = outputValues(source.length);
    loop(source, out, Number(attrs?.alpha ?? 0));
    return output(backend, [...x.shape], out);
  };
}

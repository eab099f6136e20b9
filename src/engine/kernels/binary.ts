import type { TensorInfo } from '@tensorflow/tfjs';
import { type CpuKernelArgs, type FastKernel, isFloat32, output, outputValues, sizeOf,
  valuesOf } from './kernel-args.js';

/** Element formulas as source, as the stock cpu kernels define them, given the operands' source. */
export const BINARY_FORMULAS = {
  Add: (a: string, b: string) => `${a} + ${b}`,
  Sub: (a: string, b: string) => `${a} - ${b}`,
  Multiply: (a: string, b: string) => `${a} * ${b}`,
  RealDiv: (a: string, b: string) => `${a} / ${b}`,
  Maximum: (a: string, b: string) => `Math.max(${a}, ${b})`,
  Minimum: (a: string, b: string) => `Math.min(${a}, ${b})`,
  SquaredDifference: (a: string, b: string) => `(${a} - ${b}) * (${a} - ${b})`,
} as const;

export type BinaryOp = keyof typeof BINARY_FORMULAS;

/**
 * The broadcast patterns with a straight loop. `period` = the repeating operand's size
 * (row: the small operand covers the trailing dims); `block` = how many consecutive outputs share
 * one value of the small operand (column: it covers the leading dims).
 */
type Pattern = { kind: 'same' } | { kind: 'scalarA' | 'scalarB' } | { kind: 'rowA' | 'rowB'; period: number } | {
  kind: 'colA' | 'colB';
  block: number;
};

type Loop = (x: Float32Array, y: Float32Array, o: Float32Array, p: number) => void;

/**
 * One loop per (formula, pattern), generated as source so each is its own function. A shared loop
 * taking the formula as a callback goes megamorphic across ops and V8 stops inlining it, which
 * made the generic version several times slower.
 */
function compileLoops(f: (a: string, b: string) => string): Record<Pattern['kind'], Loop> {
  const body = (assign: string) => new Function('x', 'y', 'o', 'p', assign) as Loop;
  return {
    same: body(`for (let i = 0; i < o.length; i++) { o[i] = ${f('x[i]', 'y[i]')}; }`),
    scalarA: body(`const s = x[0]; for (let i = 0; i < o.length; i++) { o[i] = ${f('s', 'y[i]')}; }`),
    scalarB: body(`const s = y[0]; for (let i = 0; i < o.length; i++) { o[i] = ${f('x[i]', 's')}; }`),
    rowA: body(
      `for (let r = 0; r < o.length; r += p) { for (let j = 0; j < p; j++) { o[r + j] = ${f('x[j]', 'y[r + j]')}; } }`,
    ),
    rowB: body(
      `for (let r = 0; r < o.length; r += p) { for (let j = 0; j < p; j++) { o[r + j] = ${f('x[r + j]', 'y[j]')}; } }`,
    ),
    colA: body(
      `for (let r = 0, q = 0; r < o.length; r += p, q++) { const s = x[q]; for (let j = 0; j < p; j++) { o[r + j] = ${
        f('s', 'y[r + j]')
      }; } }`,
    ),
    colB: body(
      `for (let r = 0, q = 0; r < o.length; r += p, q++) { const s = y[q]; for (let j = 0; j < p; j++) { o[r + j] = ${
        f('x[r + j]', 's')
      }; } }`,
    ),
  };
}

/** Shapes right-aligned as numpy broadcasting does; null when the pair needs a general index map. */
function patternOf(a: readonly number[], b: readonly number[]): { pattern: Pattern; shape: number[] } | null {
  const sa = sizeOf(a);
  const sb = sizeOf(b);
  const same = a.length === b.length && a.every((d, i) => d === b[i]);
  if (same) return { pattern: { kind: 'same' }, shape: [...a] };
  if (sb === 1 && a.length >= b.length) return { pattern: { kind: 'scalarB' }, shape: [...a] };
  if (sa === 1 && b.length >= a.length) return { pattern: { kind: 'scalarA' }, shape: [...b] };
  const big = sa >= sb ? a : b;
  const small = sa >= sb ? b : a;
  if (small.length > big.length) return null;
  const padded = [...new Array<number>(big.length - small.length).fill(1), ...small];
  // Row: the small operand equals the big one's trailing dims, ones before.
  const firstReal = padded.findIndex((d) => d !== 1);
  if (firstReal >= 0 && padded.slice(firstReal).every((d, i) => d === big[firstReal + i]) &&
    padded.slice(0, firstReal).every((d) => d === 1)) {
    const period = sizeOf(padded);
    return { pattern: { kind: sa >= sb ? 'rowB' : 'rowA', period }, shape: [...big] };
  }
  // Column: the small operand equals the big one's leading dims, ones after.
  const lastReal = padded.length - 1 - [...padded].reverse().findIndex((d) => d !== 1);
  if (padded.slice(0, lastReal + 1).every((d, i) => d === big[i]) && padded.slice(lastReal + 1).every((d) => d === 1)) {
    const block = sizeOf(big.slice(lastReal + 1));
    return { pattern: { kind: sa >= sb ? 'colB' : 'colA', block }, shape: [...big] };
  }
  return null;
}

export function binaryKernel(op: BinaryOp): FastKernel {
  const loops = compileLoops(BINARY_FORMULAS[op]);
  return ({ inputs, backend }: CpuKernelArgs) => {
    const { a, b } = inputs as { a: TensorInfo; b: TensorInfo };
    if (!isFloat32(a, b)) return null;
    const match = patternOf(a.shape, b.shape);
    if (!match) return null;
    const out = outputValues(sizeOf(match.shape));
    const { pattern } = match;
    const p = 'period' in pattern ? pattern.period : 'block' in pattern ? pattern.block : 0;
    loops[pattern.kind](valuesOf(backend, a), valuesOf(backend, b), out, p);
    return output(backend, match.shape, out);
  };
}

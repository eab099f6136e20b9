import type * as tf from '@tensorflow/tfjs';
import { reluInPlace } from './kernels/unary.js';
import { type Blas, loadBlas } from './nblas.js';

/**
 * One dense layer as the forward pass (and the ONNX export) needs it: W is [inputs, units] row-major, as tfjs stores
 * it.
 */
export interface DenseStep {
  name: string;
  inputs: number;
  units: number;
  kernel: Float32Array;
  bias: Float32Array | undefined;
  relu: boolean;
}

/** Logits for `rows` rows of x ([rows, inputSize] row-major), as a fresh [rows, outputSize] array. */
export interface DenseForward {
  (x: Float32Array, rows: number): Float32Array;
  inputSize: number;
  outputSize: number;
  layers: string[];
}

/** Layers that are the identity at inference: dropout (stock and ours share the class name). */
const IDENTITY_AT_INFERENCE = new Set(['Dropout', 'GaussianDropout', 'AlphaDropout', 'GaussianNoise']);
const ACTIVATIONS = { relu: true, linear: false } as const satisfies Record<string, boolean>;

/** The model as a stack of ReLU/linear dense layers (dropout skipped), or why it is not one. */
export function denseSteps(model: tf.LayersModel): DenseStep[] | string {
  if (model.getClassName() !== 'Sequential') {
    return `${model.name} is a ${model.getClassName()}, not a Sequential stack`;
  }
  const steps: DenseStep[] = [];
  for (const layer of model.layers) {
    const kind = layer.getClassName();
    if (IDENTITY_AT_INFERENCE.has(kind) || kind === 'InputLayer') continue;
    if (kind !== 'Dense') return `layer ${layer.name} is a ${kind}; only Dense and dropout layers compile`;
    const config = layer.getConfig() as { activation?: string; useBias?: boolean };
    const activation = String(config.activation ?? 'linear');
    if (!(activation in ACTIVATIONS)) {
      return `layer ${layer.name} uses activation ${activation}; only relu and linear compile`;
    }
    const [kernel, bias] = layer.getWeights();
    if (kernel.rank !== 2 || kernel.dtype !== 'float32') {
      return `layer ${layer.name} has a ${kernel.dtype} kernel of rank ${kernel.rank}`;
    }
    const [inputs, units] = kernel.shape as [number, number];
    steps.push({
      name: layer.name,
      inputs,
      units,
      kernel: kernel.dataSync() as Float32Array,
      bias: config.useBias === false || !bias ? undefined : (bias.dataSync() as Float32Array),
      relu: ACTIVATIONS[activation as keyof typeof ACTIVATIONS],
    });
  }
  if (steps.length === 0) return `${model.name} has no Dense layers`;
  for (let i = 1; i < steps.length; i++) {
    if (steps[i].inputs !== steps[i - 1].units) {
      return `layer ${steps[i].name} takes ${steps[i].inputs} inputs after ${steps[i - 1].units} units`;
    }
  }
  return steps;
}

/** out = act(x·W + b): the bias is written first and sgemm accumulates onto it (beta = 1). */
function runDense(blas: Blas, step: DenseStep, x: Float32Array, rows: number, out: Float32Array): void {
  const size = rows * step.units;
  if (step.bias) { for (let r = 0; r < rows; r++) out.set(step.bias, r * step.units); }
  else out.fill(0, 0, size);
  if (rows === 1) {
    // x·W for one row is Wᵀ·x: gemv reads W once and skips gemm's packing of it.
    blas.sgemv(blas.Trans, step.inputs, step.units, 1, step.kernel, step.units, x, 1, 1, out, 1);
  } else {
    blas.sgemm(blas.NoTrans, blas.NoTrans, rows, step.units, step.inputs, 1, x, step.inputs, step.kernel, step.units, 1,
      out, step.units);
  }
  // Keeps a NaN as NaN, as tfjs's relu does, rather than passing it on as a confident 0.
  if (step.relu) reluInPlace(out, size);
}

/**
 * The inference pass of a Sequential stack of Dense (relu or linear) and dropout layers as
 * direct BLAS calls on reused buffers: no tensors, no graph walk, no allocation but the answer.
 * At serving batch sizes tfjs's per-call bookkeeping costs as much as the matrix products.
 * Returns why not (a string) for any other model, or when OpenBLAS is not loaded; callers then
 * use model.predict. The weights are copied now: compile again after training changes them.
 *
 * @example
 *   const forward = compileDenseForward(student);
 *   const logits = typeof forward === 'string' ? predictLogits(student, x, n) : forward(x, n);
 */
export function compileDenseForward(model: tf.LayersModel): DenseForward | string {
  const load = loadBlas();
  if (!load.ok) return load.reason;
  const steps = denseSteps(model);
  if (typeof steps === 'string') return steps;
  const blas = load.blas;
  const widest = Math.max(...steps.slice(0, -1).map((s) => s.units), 0);
  // Two buffers the hidden layers ping-pong between, grown to the largest batch seen.
  let scratch = [new Float32Array(0), new Float32Array(0)];
  const last = steps[steps.length - 1];
  const forward = (x: Float32Array, rows: number): Float32Array => {
    if (x.length !== rows * steps[0].inputs) {
      throw new Error(`forward: x has ${x.length} values, expected ${rows} × ${steps[0].inputs}`);
    }
    if (rows === 0) return new Float32Array(0);
    if (scratch[0].length < rows * widest) scratch = [new Float32Array(rows * widest), new Float32Array(rows * widest)];
    let input = x;
    steps.slice(0, -1).forEach((step, i) => {
      const out = scratch[i % 2].subarray(0, rows * step.units);
      runDense(blas, step, input, rows, out);
      input = out;
    });
    const logits = new Float32Array(rows * last.units);
    runDense(blas, last, input, rows, logits);
    return logits;
  };
  return Object.assign(forward, { inputSize: steps[0].inputs, outputSize: last.units,
    layers: steps.map((s) => s.name) });
}

import * as tf from '@tensorflow/tfjs';
import type { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu';
import type { NamedTensor, NamedVariableMap } from '@tensorflow/tfjs-core/dist/tensor_types.js';
import { BLAS_BACKEND } from './blas-backend.js';
import { type Blas, loadBlas } from './nblas.js';
import { WASM_SIMD, WasmAdamArena } from './wasm/adam.js';

type NamedGradients = NamedVariableMap | NamedTensor[];

/**
 * The Float32Array behind a variable, made exclusive first: tfjs shares one buffer between a
 * variable and the tensor it was assigned from (and reshapes of it), and writing in place into a
 * shared buffer would change those tensors too.
 */
function exclusiveValues(backend: MathBackendCPU, variable: tf.Variable): Float32Array {
  const entry = backend.data.get(variable.dataId);
  if (entry.refCount > 1) {
    // The other holders keep a plain copy: the current array may be a view the optimizer writes
    // into (the wasm arena), which must not change under a snapshot of last epoch's weights.
    entry.values = (entry.values as Float32Array).slice();
    const own = tf.tensor((entry.values as Float32Array).slice(), variable.shape, 'float32');
    variable.assign(own);
    own.dispose();
  }
  return backend.data.get(variable.dataId).values as Float32Array;
}

function gradientList(grads: NamedGradients): { name: string; tensor: tf.Tensor | undefined }[] {
  return Array.isArray(grads) ? grads : Object.entries(grads).map(([name, tensor]) => ({ name, tensor }));
}

/** In-place updates only where buffers are plain typed arrays we own: our blas backend. */
function inPlaceBackend(): { backend: MathBackendCPU; blas: Blas } | null {
  if (tf.getBackend() !== BLAS_BACKEND) return null;
  const load = loadBlas();
  return load.ok ? { backend: tf.backend() as MathBackendCPU, blas: load.blas } : null;
}

/**
 * Runs `update` on the variable's own Float32Array on the blas backend (a weight projection after
 * an optimizer step, without the full-size temporaries tensor ops would allocate). Returns false,
 * doing nothing, on any other backend: the caller then takes the tensor-op path.
 */
export function updateInPlace(variable: tf.Variable, update: (values: Float32Array) => void): boolean {
  const inPlace = inPlaceBackend();
  if (!inPlace) return false;
  update(exclusiveValues(inPlace.backend, variable));
  return true;
}

function zerosVariable(like: tf.Variable): tf.Variable {
  return tf.tidy(() => tf.zerosLike(like).variable(false));
}

/**
 * tfjs's momentum optimizer with the update fused into one in-place pass per variable on the
 * blas backend. Stock tfjs allocates four full-size tensors per variable per step for this
 * (2.4M floats each for the MNIST teacher), which cost more than all the matrix products.
 * Same state layout as the stock class, so getWeights/setWeights and checkpoints are unchanged.
 */
export class FusedMomentumOptimizer extends tf.MomentumOptimizer {
  override applyGradients(variableGradients: NamedGradients): void {
    const inPlace = inPlaceBackend();
    if (!inPlace) return super.applyGradients(variableGradients);
    const { backend, blas } = inPlace;
    const self = this as unknown as { accumulations: { originalName: string; variable: tf.Variable }[];
      learningRate: number; momentum: number; useNesterov: boolean };
    gradientList(variableGradients).forEach(({ name, tensor }, i) => {
      const variable = tf.engine().registeredVariables[name];
      self.accumulations[i] ??= { originalName: `${name}/momentum`, variable: zerosVariable(variable) };
      if (!tensor) return;
      const w = exclusiveValues(backend, variable);
      const acc = exclusiveValues(backend, self.accumulations[i].variable);
      const g = backend.data.get(tensor.dataId).values as Float32Array;
      const lr = self.learningRate;
      const m = self.momentum;
      const n = w.length;
      // acc ← m·acc + g; then w ← w − lr·acc, or for Nesterov w ← w − lr·(g + m·acc).
      // BLAS level 1 is vectorised and threaded; the same update as a JS loop took 4× longer.
      blas.sscal(n, m, acc, 1);
      blas.saxpy(n, 1, g, 1, acc, 1);
      if (self.useNesterov) {
        blas.saxpy(n, -lr, g, 1, w, 1);
        blas.saxpy(n, -lr * m, acc, 1, w, 1);
      } else {
        blas.saxpy(n, -lr, acc, 1, w, 1);
      }
    });
    this.incrementIterations();
  }
}

/**
 * tfjs's Adam, fused and in place on the blas backend, for the same reason as momentum. Adam's
 * update needs a square root and a division per weight, which a scalar JS loop runs at ~4 ns per
 * weight (half the training step); the wasm SIMD kernel does four lanes at once on weights that
 * live in its memory. Where wasm SIMD is missing, the same update runs as a JS loop.
 */
export class FusedAdamOptimizer extends tf.AdamOptimizer {
  private arena: WasmAdamArena | undefined;

  override applyGradients(variableGradients: NamedGradients): void {
    const inPlace = inPlaceBackend();
    if (!inPlace) return super.applyGradients(variableGradients);
    const { backend } = inPlace;
    const self = this as unknown as { accumulatedFirstMoment: { originalName: string; variable: tf.Variable }[];
      accumulatedSecondMoment: { originalName: string; variable: tf.Variable }[]; accBeta1: tf.Variable;
      accBeta2: tf.Variable };
    const accBeta1 = self.accBeta1.dataSync()[0];
    const accBeta2 = self.accBeta2.dataSync()[0];
    const { beta1, beta2, epsilon, learningRate: lr } = this;
    const correction1 = 1 / (1 - accBeta1);
    const correction2 = 1 / (1 - accBeta2);
    const gradients = gradientList(variableGradients);
    if (WASM_SIMD && !gradients.every(({ name, tensor }) => !tensor || this.arena?.has(name, tensor.size))) {
      this.arena = WasmAdamArena.create(
        new Map(gradients.filter((g) => g.tensor).map(({ name, tensor }) => [name, tensor!.size])),
      );
    }
    gradients.forEach(({ name, tensor }, i) => {
      const variable = tf.engine().registeredVariables[name];
      self.accumulatedFirstMoment[i] ??= { originalName: `${name}/m`, variable: zerosVariable(variable) };
      self.accumulatedSecondMoment[i] ??= { originalName: `${name}/v`, variable: zerosVariable(variable) };
      if (!tensor) return;
      const g = backend.data.get(tensor.dataId).values as Float32Array;
      const first = self.accumulatedFirstMoment[i].variable;
      const second = self.accumulatedSecondMoment[i].variable;
      if (this.arena) {
        exclusiveValues(backend, variable);
        exclusiveValues(backend, first);
        exclusiveValues(backend, second);
        this.arena.adopt(backend, variable.dataId, name, 'w');
        this.arena.adopt(backend, first.dataId, name, 'm');
        this.arena.adopt(backend, second.dataId, name, 'v');
        this.arena.step(name, g, lr * correction1, correction2, beta1, beta2, epsilon);
        return;
      }
      const w = exclusiveValues(backend, variable);
      const m = exclusiveValues(backend, first);
      const v = exclusiveValues(backend, second);
      for (let j = 0; j < w.length; j++) {
        const gj = g[j];
        const mj = beta1 * m[j] + (1 - beta1) * gj;
        const vj = beta2 * v[j] + (1 - beta2) * gj * gj;
        m[j] = mj;
        v[j] = vj;
        w[j] -= (lr * mj * correction1) / (Math.sqrt(vj * correction2) + epsilon);
      }
    });
    tf.tidy(() => {
      self.accBeta1.assign(tf.scalar(accBeta1 * beta1));
      self.accBeta2.assign(tf.scalar(accBeta2 * beta2));
    });
    this.incrementIterations();
  }

  override dispose(): void {
    this.arena = undefined;
    super.dispose();
  }
}

export type OptimizerConfig = { kind: 'momentum'; learningRate: number; momentum: number; nesterov?: boolean } | {
  kind: 'adam';
  learningRate: number;
  beta1?: number;
  beta2?: number;
  epsilon?: number;
};

/**
 * An optimizer that updates in place on the blas backend and behaves as stock tfjs elsewhere.
 *
 * @example
 *   const optimizer = createOptimizer({ kind: 'momentum', learningRate: 0.1, momentum: 0.9 });
 */
export function createOptimizer(config: OptimizerConfig): tf.Optimizer {
  if (config.kind === 'momentum') {
    return new FusedMomentumOptimizer(config.learningRate, config.momentum, config.nesterov ?? false);
  }
  return new FusedAdamOptimizer(config.learningRate, config.beta1 ?? 0.9, config.beta2 ?? 0.999, config.epsilon);
}

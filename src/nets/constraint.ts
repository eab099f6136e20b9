import * as tf from '@tensorflow/tfjs';
import type { MaxNorm } from '@tensorflow/tfjs-layers/dist/constraints.js';
import { updateInPlace } from '../engine/index.js';

/**
 * How far over the cap a unit's norm may read before it is scaled back. A unit scaled to exactly
 * the cap reads back a float32 rounding over it (~1e-7 relative); treating that as "over" would
 * shrink it again on every step and every load, so saving and loading would change its bits.
 */
const CAP_TOLERANCE = 1e-5;

/** The stock max-norm constraint's class, whose `className` and config saved models keep. */
const StockMaxNorm = tf.constraints.maxNorm({ maxValue: 1 }).constructor as typeof MaxNorm;

/**
 * Max-norm on each unit's incoming weights (Srivastava et al. 2014): a column of a dense kernel
 * [fanIn, units] whose L2 norm exceeds `maxValue` is scaled back onto the ball; every other column
 * is left bit for bit. Stock tfjs multiplies every column by norm / (norm + ε), so each load or
 * `setWeights` nudged weights that were already within the cap.
 *
 * tfjs applies a layer's constraint only in `LayerVariable.write`, which `optimizer.minimize` never
 * calls: `enforceConstraints` after each step is what makes it hold during training. Saved models
 * keep the stock `MaxNorm` class name and config, so they load in any tfjs.
 */
export class UnitNormCap extends StockMaxNorm {
  static override readonly className = 'MaxNorm';
  /** The largest L2 norm a unit's incoming weights may have. */
  readonly cap: number;

  constructor(args: { maxValue: number; axis?: number }) {
    if (!(args.maxValue > 0)) throw new Error(`UnitNormCap: maxValue must be > 0, got ${args.maxValue}`);
    if ((args.axis ?? 0) !== 0) {
      throw new Error("UnitNormCap: only axis 0 (a dense kernel's incoming weights) is supported");
    }
    super({ maxValue: args.maxValue, axis: 0 });
    this.cap = args.maxValue;
  }

  override apply(w: tf.Tensor): tf.Tensor {
    return tf.tidy(() => {
      if (w.rank !== 2) return tf.clone(w); // biases: nothing incoming to cap
      const norms = tf.sqrt(tf.sum(tf.square(w), 0, true)); // [1, units]
      const over = tf.greater(norms, this.cap * (1 + CAP_TOLERANCE));
      return tf.mul(w, tf.where(over, tf.div(this.cap, norms), tf.onesLike(norms)));
    });
  }
}

/**
 * Lets models loaded from model.json (className 'MaxNorm') get `UnitNormCap` instead of the stock
 * class, so loading a trained net leaves its weights as they were saved. Called by the loaders.
 */
export function useExactMaxNorm(): void {
  tf.serialization.registerClass(UnitNormCap);
}

/**
 * Scales back, in place, every column of a row-major [fanIn, units] kernel whose norm exceeds `cap`
 * (norms in float64). Returns how many units were scaled.
 */
export function capUnitNorms(kernel: Float32Array, fanIn: number, units: number, cap: number): number {
  const squares = new Float64Array(units);
  for (let r = 0; r < fanIn; r++) {
    const row = r * units;
    for (let u = 0; u < units; u++) squares[u] += kernel[row + u] * kernel[row + u];
  }
  const scale = new Float32Array(units);
  let scaled = 0;
  const limit = (cap * (1 + CAP_TOLERANCE)) ** 2;
  for (let u = 0; u < units; u++) {
    const over = squares[u] > limit;
    scale[u] = over ? cap / Math.sqrt(squares[u]) : 1;
    if (over) scaled++;
  }
  if (scaled === 0) return 0;
  for (let r = 0; r < fanIn; r++) {
    const row = r * units;
    for (let u = 0; u < units; u++) kernel[row + u] *= scale[u];
  }
  return scaled;
}

/**
 * Projects every constrained weight of `model` back onto its constraint: in place on the engine's
 * fast path, through the constraint's tensor ops elsewhere. Call after each optimizer step.
 */
export function enforceConstraints(model: tf.LayersModel): void {
  for (const weight of model.trainableWeights) {
    const constraint = weight.constraint;
    if (!constraint) continue;
    const variable = weight.read() as tf.Variable;
    if (constraint instanceof UnitNormCap && variable.rank === 2) {
      const [fanIn, units] = variable.shape;
      if (updateInPlace(variable, (values) => capUnitNorms(values, fanIn, units, constraint.cap))) continue;
    }
    tf.tidy(() => variable.assign(constraint.apply(variable)));
  }
}

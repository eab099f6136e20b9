import * as tf from '@tensorflow/tfjs';

/**
 * The dustbin logit's correction for training on a sample whose class prior differs from the
 * natural one.
 *
 * Derivation. A softmax classifier trained to convergence estimates the posterior under the
 * training prior: q_s(c|x) ∝ p(x|c)·π_s(c). The natural posterior is q(c|x) ∝ p(x|c)·π(c), so
 * q(c|x) ∝ q_s(c|x)·π(c)/π_s(c): adding log(π(c)/π_s(c)) to each logit converts one into the other.
 * Classes within the special set keep their natural proportions under half-and-half sampling, so
 * they all share one ratio; only the dustbin's differs. With a special fraction s in the training
 * sample (½ by default) and f in nature, the dustbin logit moves, relative to the special ones, by
 *   log((1 − f)/(1 − s)) − log(f/s) = log((1 − f)/f) − log((1 − s)/s),
 * which is log((1 − f)/f) for s = ½: the dustbin is under-represented by a 50/50 sample whenever
 * f < ½, and its logit must rise.
 *
 * @example
 *   dustbinOffset(0.2); // log(4) ≈ 1.386 for a 50/50 training sample
 */
export function dustbinOffset(naturalSpecialFraction: number, sampledSpecialFraction = 0.5): number {
  const f = naturalSpecialFraction;
  const s = sampledSpecialFraction;
  if (!(f > 0 && f < 1) || !(s > 0 && s < 1)) {
    throw new Error(`dustbinOffset: fractions must lie strictly between 0 and 1 (natural ${f}, sampled ${s})`);
  }
  return Math.log((1 - f) / f) - Math.log((1 - s) / s);
}

/** Adds `offset` to the bias of the last output unit (the dustbin) of the model's logits layer. */
export function applyDustbinOffset(model: tf.LayersModel, offset: number): void {
  const head = model.getLayer('logits');
  const [kernel, bias] = head.getWeights();
  const values = (bias.dataSync() as Float32Array).slice();
  values[values.length - 1] += offset;
  const shifted = tf.tensor(values, bias.shape);
  head.setWeights([kernel, shifted]);
  shifted.dispose();
}

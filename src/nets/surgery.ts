import * as tf from '@tensorflow/tfjs';
import { buildMlp, type MlpConfig } from './mlp.js';

/**
 * A specialist initialised from the generalist (Hinton et al. 2015, §5): the same hidden layers
 * with the generalist's weights, and a head with one output per special class plus a dustbin.
 *
 * Head rows: each special class starts from the generalist's weights and bias for that class,
 * so the specialist begins by reproducing the generalist's scores among its own classes. The
 * dustbin must score log Σ_{j∉S} exp(z_j); when those logits are similar that is close to
 * mean_{j∉S} z_j + log(N − |S|), which is linear in the last hidden layer: so the dustbin starts
 * from the mean of the other classes' weight columns, and their mean bias plus log(N − |S|).
 *
 * @example
 *   const specialist = specialistFromGeneralist(generalist, config, 784, [3, 5, 8]); // 4 outputs
 */
export function specialistFromGeneralist(generalist: tf.LayersModel, config: MlpConfig, inputSize: number,
  classes: readonly number[]): tf.Sequential {
  const numClasses = generalist.outputs[0].shape[1] as number;
  if (classes.length === 0 || classes.some((c) => !Number.isInteger(c) || c < 0 || c >= numClasses)) {
    throw new Error(`specialistFromGeneralist: classes [${classes.join(', ')}] must be ids in [0, ${numClasses})`);
  }
  const specialist = buildMlp(config, inputSize, classes.length + 1);
  for (const layer of specialist.layers) {
    if (layer.name === 'logits' || layer.getWeights().length === 0) continue;
    layer.setWeights(generalist.getLayer(layer.name).getWeights());
  }
  const [kernel, bias] = generalist.getLayer('logits').getWeights(); // [hidden, N], [N]
  const others = Array.from({ length: numClasses }, (_, c) => c).filter((c) => !classes.includes(c));
  const head = tf.tidy(() => {
    const pick = (ids: number[]) => tf.tensor1d(ids, 'int32');
    const specialKernel = tf.gather(kernel, pick([...classes]), 1); // [hidden, |S|]
    const specialBias = tf.gather(bias, pick([...classes])); // [|S|]
    const dustKernel = others.length ?
      tf.mean(tf.gather(kernel, pick(others), 1), 1, true) :
      tf.zeros([kernel.shape[0], 1]); // [hidden, 1]
    const dustBias = others.length ?
      tf.add(tf.mean(tf.gather(bias, pick(others)), 0, true), Math.log(others.length)) :
      tf.fill([1], -80); // a cluster of every class leaves nothing for the dustbin
    return [tf.concat([specialKernel, dustKernel], 1), tf.concat([specialBias, dustBias], 0)];
  });
  specialist.getLayer('logits').setWeights(head);
  tf.dispose(head);
  return specialist;
}

import * as tf from '@tensorflow/tfjs';
import { z } from 'zod';
import { UnitNormCap, useExactMaxNorm } from './constraint.js';
import { FastDropout } from './dropout.js';

/** A multilayer perceptron with ReLU hidden layers and a linear (logit) output layer. */
export const MlpConfig = z.object({
  kind: z.literal('mlp').default('mlp'),
  /** Units per hidden layer: the paper's MNIST teacher is [1200, 1200], its small net [800, 800]. */
  hidden: z.array(z.number().int().positive()).min(1),
  /** Dropout on the input pixels; Hinton et al.'s dropout nets use 0.2 (0 = off). */
  inputDropout: z.number().min(0).max(0.9).default(0),
  /** Dropout after each hidden layer; 0.5 in the dropout paper's MNIST nets (0 = off). */
  hiddenDropout: z.number().min(0).max(0.9).default(0),
  /**
   * Max-norm constraint on each unit's incoming weights, which lets dropout nets use large learning rates (0 = off).
   */
  maxNorm: z.number().min(0).default(0),
  /** Seeds the weight initialisation, so two runs of one config start from the same net. */
  seed: z.number().int().default(1),
});
export type MlpConfig = z.infer<typeof MlpConfig>;

/**
 * Builds the network as a tfjs Sequential model whose output is logits (no softmax), so the
 * same model serves hard-label training, temperature-softened distillation and logit matching.
 * Layer names are stable (`hidden1`, `hidden2`, …, `logits`): weight surgery and checkpoints use them.
 *
 * @example
 *   const model = buildMlp(MlpConfig.parse({ hidden: [1200, 1200], inputDropout: 0.2, hiddenDropout: 0.5 }), 784, 10);
 */
export function buildMlp(config: MlpConfig, inputSize: number, numClasses: number): tf.Sequential {
  const parsed = MlpConfig.parse(config);
  const model = tf.sequential({ name: 'mlp' });
  if (parsed.maxNorm > 0) useExactMaxNorm();
  const constraint = parsed.maxNorm > 0 ? new UnitNormCap({ maxValue: parsed.maxNorm }) : undefined;
  const init = (layer: number) => tf.initializers.heNormal({ seed: parsed.seed * 1000 + layer });
  if (parsed.inputDropout > 0) {
    model.add(
      new FastDropout({ rate: parsed.inputDropout, inputShape: [inputSize], name: 'input_dropout',
        seed: parsed.seed * 1000 + 500 }),
    );
  }
  parsed.hidden.forEach((units, i) => {
    model.add(tf.layers.dense({
      units,
      activation: 'relu',
      kernelInitializer: init(i),
      kernelConstraint: constraint,
      name: `hidden${i + 1}`,
      ...(i === 0 && parsed.inputDropout === 0 ? { inputShape: [inputSize] } : {}),
    }));
    if (parsed.hiddenDropout > 0) {
      model.add(
        new FastDropout({ rate: parsed.hiddenDropout, name: `dropout${i + 1}`, seed: parsed.seed * 1000 + 501 + i }),
      );
    }
  });
  model.add(tf.layers.dense({
    units: numClasses,
    kernelInitializer: tf.initializers.glorotUniform({ seed: parsed.seed * 1000 + 999 }),
    kernelConstraint: constraint,
    name: 'logits',
  }));
  return model;
}

/** Trainable parameters, for reports. */
export function parameterCount(model: tf.LayersModel): number {
  return model.trainableWeights.reduce((sum, w) => sum + w.shape.reduce((a: number, b) => a * (b ?? 1), 1), 0);
}

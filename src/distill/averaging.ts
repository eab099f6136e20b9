import * as tf from '@tensorflow/tfjs';
import type { Named } from './checkpoint.js';

/** A running mean of end-of-epoch weights and how many epochs it holds. */
export interface WeightAverage {
  count: number;
  weights: Named[] | null;
}

/** Folds the model's current weights into the mean: mean += (w − mean) / (count + 1). */
export function addToAverage(average: WeightAverage, model: tf.LayersModel): void {
  const next = model.weights.map((variable, i) => {
    const current = variable.read();
    const mean = average.weights?.[i].tensor;
    return { name: variable.name, tensor: tf.tidy(() => mean ? mean.add(current.sub(mean).div(average.count + 1)) :
      current.clone()) };
  });
  tf.dispose(average.weights?.map((w) => w.tensor) ?? []);
  average.weights = next;
  average.count++;
}

/** Runs `score` with the model holding `weights`, then puts its own weights back. */
export function withWeights<T>(model: tf.LayersModel, weights: Named[], score: () => T): T {
  const own = model.weights.map((w) => w.read().clone());
  try {
    model.setWeights(weights.map((w) => w.tensor));
    return score();
  } finally {
    model.setWeights(own);
    tf.dispose(own);
  }
}

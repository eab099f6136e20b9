import { mkdir } from 'node:fs/promises';
import * as tf from '@tensorflow/tfjs';
import { fileSystem } from './artifacts.js';
import { useExactMaxNorm } from '../nets/index.js';

/** A trained model in a run folder, in the TF.js Layers format the bundle uses. */
export async function saveModel(model: tf.LayersModel, dir: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  await model.save(fileSystem(dir));
}

export async function loadModel(dir: string): Promise<tf.LayersModel> {
  useExactMaxNorm();
  return tf.loadLayersModel(fileSystem(dir));
}

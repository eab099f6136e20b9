import type { z } from '@hono/zod-openapi';
import { softmaxRowsAt } from '../../distill/index.js';
import type { ModelName } from '../config.js';
import { fail } from '../errors.js';
import { type BatchItem, type ModelSet, NonFiniteRow, type Prediction } from './model-set.js';
import type { Prediction as PredictionBody } from '../schemas.js';

/** Classes listed per instance when the request does not say. */
const DEFAULT_TOP_K = 5;
/** Past this a number becomes ±Infinity as float32, which the models would turn into NaN. */
const FLOAT32_MAX = 3.4028234663852886e38;

/**
 * Rows as the batcher takes them, after the checks that depend on the loaded bundle (the schema
 * has already made sure every value is a finite number). Fails with every bad row listed, up to 10.
 *
 * @example
 *   toBatchItem([[0.1, 0.2]], 2); // { x: Float32Array [0.1, 0.2], rows: 1 }
 */
export function toBatchItem(instances: readonly (readonly number[])[], inputSize: number): BatchItem {
  const problems: { path: string; message: string }[] = [];
  const x = new Float32Array(instances.length * inputSize);
  instances.forEach((row, i) => {
    if (row.length !== inputSize) {
      problems.push({ path: `instances.${i}`, message: `has ${row.length} values, the model takes ${inputSize}` });
      return;
    }
    for (let j = 0; j < inputSize; j++) {
      if (Math.abs(row[j]) > FLOAT32_MAX) {
        problems.push({ path: `instances.${i}.${j}`, message: 'is outside the float32 range' });
      }
      x[i * inputSize + j] = row[j];
    }
  });
  if (problems.length > 0) {
    fail(400, problems[0].path === 'instances.0' ? `instance 0 ${problems[0].message}` : 'invalid instances',
      problems.slice(0, 10));
  }
  return { x, rows: instances.length };
}

/** The request's topK, checked against this bundle's class count. */
export function resolveTopK(topK: number | undefined, numClasses: number): number {
  if (topK === undefined) return Math.min(DEFAULT_TOP_K, numClasses);
  if (topK > numClasses) {
    fail(400, `topK ${topK} exceeds the ${numClasses} classes`, [{ path: 'topK', message: `at most ${numClasses}` }]);
  }
  return topK;
}

/** Indices of the k largest probabilities, best first; ties keep the lower class first. */
export function topClasses(p: Float32Array, k: number): number[] {
  const order = Array.from(p.keys());
  order.sort((a, b) => p[b] - p[a] || a - b);
  return order.slice(0, k);
}

/** What a v1 predict request may ask for beyond the served distribution (POST /v1/models/{model}/predict only). */
export interface AnswerOptions {
  /** Answer softmax(z / T): student and generalist, whose outputs are logits. */
  temperature?: number;
  /** Ensemble: each active specialist's own distribution beside the combined one. */
  explain?: boolean;
}

/** Each option applies to some models only; asking another model is a bad request, not something to ignore. */
function checkOptions(model: ModelName, options: AnswerOptions): void {
  if (options.temperature !== undefined && model === 'ensemble') {
    fail(400,
      'temperature applies to the student and the generalist, whose outputs are logits; the ensemble answers a ' +
        'combined distribution',
      [{ path: 'temperature', message: 'leave it out for the ensemble' }]);
  }
  if (options.explain && model !== 'ensemble') {
    fail(400, 'explain applies to the ensemble: only it has specialists to explain', [{ path: 'explain',
      message: 'leave it out, or ask the ensemble' }]);
  }
}

/** The specialists behind one ensemble answer, in the order they were activated. */
function specialistViews(set: ModelSet, active: readonly string[],
  views: Map<string, Float32Array>): z.infer<typeof PredictionBody>['specialists'] {
  return active.map((id) => {
    const spec = set.manifest.specialists.find((s) => s.id === id);
    const p = views.get(id);
    if (!spec || !p) throw new Error(`specialist ${id} was active but has no distribution`);
    return { id, classes: spec.classes.map((c, j) => ({ class: c, label: set.classNames[c], probability: p[j] })),
      dustbin: p[spec.classes.length] };
  });
}

/** One instance's answer as the v1 API gives it; `views` are its specialists' own distributions, when explained. */
export function formatPrediction(set: ModelSet, prediction: Prediction, topK: number, temperature?: number,
  views?: Map<string, Float32Array>): z.infer<typeof PredictionBody> {
  const p = temperature !== undefined && prediction.logits ?
    softmaxRowsAt(prediction.logits, set.numClasses, temperature) :
    prediction.probabilities;
  const top = topClasses(p, topK);
  const body: z.infer<typeof PredictionBody> = {
    label: set.classNames[top[0]],
    class: top[0],
    topK: top.map((c) => ({ class: c, label: set.classNames[c], probability: p[c] })),
  };
  if (prediction.ensemble) {
    const { generalistTop, active, iterations } = prediction.ensemble;
    body.generalistTop = { class: generalistTop, label: set.classNames[generalistTop] };
    body.activeSpecialists = active;
    body.iterations = iterations;
    if (views) body.specialists = specialistViews(set, active, views);
  }
  return body;
}

export interface PredictOutcome {
  /** The rows as run, for a shadow run of the same input. */
  item: BatchItem;
  raw: Prediction[];
  predictions: z.infer<typeof PredictionBody>[];
}

/**
 * One request through one model of `set`: checks against the bundle, queues for the model's
 * batcher, formats the answer. 404 for a model the bundle lacks, 503/504 from the batcher.
 */
export async function predictWith(set: ModelSet, model: ModelName, instances: readonly (readonly number[])[],
  topK: number | undefined, deadlineAt: number, options: AnswerOptions = {}): Promise<PredictOutcome> {
  if (!set.has(model)) {
    fail(404, `model ${model} is not served from this bundle`, { reason: set.unavailable.get(model) ?? null });
  }
  checkOptions(model, options);
  const k = resolveTopK(topK, set.numClasses);
  const item = toBatchItem(instances, set.inputSize);
  const raw = await set.predict(model, item, deadlineAt).catch((error: unknown) => {
    if (!(error instanceof NonFiniteRow)) throw error;
    return fail(422, `instance ${error.row} makes the model's output non-finite`, [{
      path: `instances.${error.row}`,
      message: 'its values are so far outside the range the model was trained on that the forward pass overflows',
    }]);
  });
  const views = options.explain ? set.specialistViews(item, raw.map((p) => p.ensemble?.active ?? [])) : undefined;
  return { item, raw, predictions: raw.map((p, i) => formatPrediction(set, p, k, options.temperature, views?.[i])) };
}

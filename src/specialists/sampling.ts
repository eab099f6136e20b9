import { type Rng, sampleToFront, shuffleInPlace, type Split } from '../data/index.js';
import type { TrainingSet } from '../distill/index.js';

/**
 * A specialist's outputs: its classes in ascending order, then one dustbin for every other class.
 * Output i < |S| is classes[i]; output |S| is the dustbin.
 */
export function specialistLabels(labels: Int32Array, classes: readonly number[]): Int32Array {
  const dustbin = classes.length;
  const position = new Map(classes.map((c, i) => [c, i]));
  return Int32Array.from(labels, (label) => position.get(label) ?? dustbin);
}

/**
 * The generalist's distribution restricted to a specialist's outputs, as logits: log p_i for the
 * special classes and log Σ_{j∉S} p_j for the dustbin. Used as soft targets (the paper's suggestion
 * for specialists with little data); log-probabilities are valid logits at any temperature.
 *
 * @param generalistLogits [n, N] row-major.
 * @returns [n, |S| + 1] row-major.
 */
export function restrictedTeacherLogits(generalistLogits: Float32Array, numClasses: number,
  classes: readonly number[]): Float32Array {
  const n = generalistLogits.length / numClasses;
  const width = classes.length + 1;
  const out = new Float32Array(n * width);
  const special = new Set(classes);
  for (let r = 0; r < n; r++) {
    const row = generalistLogits.subarray(r * numClasses, (r + 1) * numClasses);
    let max = -Infinity;
    for (const v of row) max = Math.max(max, v);
    let total = 0;
    let dustbin = 0;
    for (let j = 0; j < numClasses; j++) {
      const e = Math.exp(row[j] - max);
      total += e;
      if (!special.has(j)) dustbin += e;
    }
    const logTotal = Math.log(total);
    classes.forEach((c, i) => {
      out[r * width + i] = row[c] - max - logTotal;
    });
    // A cluster covering every class leaves no dustbin mass: a very negative logit, not −∞.
    out[r * width + classes.length] = dustbin > 0 ? Math.log(dustbin) - logTotal : -80;
  }
  return out;
}

/** A specialist's view of a split: same inputs, labels mapped to its outputs, optional soft targets. */
export function specialistSet(split: Split, classes: readonly number[], generalistLogits?: Float32Array,
  numClasses?: number): TrainingSet {
  return {
    x: split.x,
    n: split.n,
    features: split.features,
    labels: specialistLabels(split.y, classes),
    teacherLogits: generalistLogits && numClasses ?
      restrictedTeacherLogits(generalistLogits, numClasses, classes) :
      undefined,
  };
}

/**
 * Each epoch: every example of the special classes, plus as many examples drawn at random from
 * all other classes (labelled dustbin), shuffled together: the paper's half-and-half sampling.
 * A fresh draw of others every epoch, so across epochs the specialist still sees most of them.
 */
export function halfAndHalfSampler(labels: Int32Array, dustbin: number): (epoch: number, rng: Rng) => Int32Array {
  const special: number[] = [];
  const others: number[] = [];
  labels.forEach((label, row) => (label === dustbin ? others : special).push(row));
  if (special.length === 0) throw new Error("halfAndHalfSampler: no example of the specialist's classes");
  return (_epoch, rng) => {
    const pool = Int32Array.from(others);
    const take = sampleToFront(pool, special.length, rng);
    return shuffleInPlace(Int32Array.from([...special, ...pool.subarray(0, take)]), rng);
  };
}

/**
 * The special fraction of the sample `halfAndHalfSampler` draws: ½, or the natural fraction when
 * the special classes hold more than half the rows (there are not enough others to match them).
 */
export function sampledSpecialFraction(labels: Int32Array, dustbin: number): number {
  let special = 0;
  for (const label of labels) if (label !== dustbin) special++;
  return special / (special + Math.min(special, labels.length - special));
}

/** The fraction of rows whose label is a special class (not the dustbin). */
export function specialFraction(labels: Int32Array, dustbin: number): number {
  let special = 0;
  for (const label of labels) if (label !== dustbin) special++;
  return special / Math.max(1, labels.length);
}

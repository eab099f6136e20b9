import { z } from 'zod';
import { type Dataset, once, type Split, withLazySplits } from './dataset.js';
import { createGaussian, createRng, deriveSeed, shuffleInPlace } from './random.js';

/** The paper's JFT experiment had ~15k classes; at 10k, a 784-d set's class centres take 31 MB per mode. */
export const MAX_SYNTHETIC_CLASSES = 10_000;

export const SyntheticConfigSchema = z.object({
  /** Groups of mutually confusable classes: what clustering should recover. */
  superclasses: z.int().min(1),
  /** Classes per superclass; classes = superclasses × finePerSuperclass. */
  finePerSuperclass: z.int().min(1),
  /** Features per example, so nets of any input width can be exercised. */
  inputSize: z.int().min(1),
  trainPerClass: z.int().min(1),
  validationPerClass: z.int().min(1),
  testPerClass: z.int().min(1),
  /** Mean distance between superclass centres, in units of the per-feature noise sd. */
  superSeparation: z.number().positive(),
  /** Mean distance between fine classes of one superclass, same units: small, so they are confused. */
  fineSeparation: z.number().positive(),
  /**
   * Gaussian blobs per class, spread as far apart as the classes are: above 1, fine classes of a
   * superclass interleave and need nonlinear boundaries, the capacity-limited regime in which the
   * paper's specialists help a generalist.
   */
  modesPerClass: z.int().min(1),
  /**
   * Classes confused across superclasses: fine class f of every superclass spreads its modes over
   * bridgeSpans[f] superclasses (its own and others), so it has confusers in several groups and more
   * than one specialist can usefully cover it, as classes are covered on JFT (the paper's Table 4).
   * Absent or empty keeps every class inside its superclass. Optional rather than defaulted, so
   * configs that leave it out keep the pipeline stage hashes they had before it existed.
   */
  bridgeSpans: z.array(z.int().min(2)).optional(),
  seed: z.int().min(0),
});
export type SyntheticConfig = z.infer<typeof SyntheticConfigSchema>;

export const DEFAULT_SYNTHETIC: SyntheticConfig = {
  superclasses: 10, // small enough for unit tests, enough clusters to score K-means
  finePerSuperclass: 10,
  inputSize: 64, // the geometry is set by the separations below, not by the width
  trainPerClass: 100,
  validationPerClass: 20,
  testPerClass: 20,
  superSeparation: 12, // a pair of superclasses is confused at Φ(-6) ≈ 1e-9: clusters are clean
  fineSeparation: 4, // a pair of fine classes is confused at Φ(-2) ≈ 2%: a generalist hedges
  modesPerClass: 1, // plain Gaussian classes; raise it to make fine boundaries need capacity
  seed: 1,
};

// Streams of the seed: centres, then one per split, so a split never depends on another being drawn.
const STREAMS = { centres: 0, train: 1, validation: 2, test: 3 } as const;

/**
 * Mode centres [classes × modes, inputSize]: superclass centre + class offset (+ mode offset). With
 * per-feature sd s, two independent draws are s·√(2d) apart on average, so s = separation / √(2d)
 * makes the separations hold at every input width.
 */
function makeCentres(config: SyntheticConfig): Float32Array {
  const { superclasses: S, finePerSuperclass: F, inputSize: d, modesPerClass: M } = config;
  const gauss = createGaussian(createRng(deriveSeed(config.seed, STREAMS.centres)));
  const superSd = config.superSeparation / Math.sqrt(2 * d);
  const fineSd = config.fineSeparation / Math.sqrt(2 * d);
  const centres = new Float32Array(S * F * M * d);
  const superCentres = new Float64Array(S * d);
  const classCentre = new Float64Array(d);
  for (let s = 0; s < S; s++) {
    const superCentre = superCentres.subarray(s * d, (s + 1) * d);
    for (let j = 0; j < d; j++) superCentre[j] = superSd * gauss();
    for (let f = 0; f < F; f++) {
      for (let j = 0; j < d; j++) classCentre[j] = superCentre[j] + fineSd * gauss();
      for (let m = 0; m < M; m++) {
        const row = ((s * F + f) * M + m) * d;
        // A single mode is the class centre itself, so modesPerClass 1 gives plain Gaussian classes.
        for (let j = 0; j < d; j++) centres[row + j] = classCentre[j] + (M > 1 ? fineSd * gauss() : 0);
      }
    }
  }
  moveBridgingModes(centres, superCentres, config);
  return centres;
}

/**
 * Moves mode m of each bridging class (fine class f < bridgeSpans.length, spanning n superclasses)
 * from its superclass s to superclass s + (m mod n)·(f + 1), keeping its offset from the superclass
 * centre: the class then sits among the fine classes of n groups. It takes no random draws, so the
 * other classes' centres and every split's noise are those of the same config without bridges.
 */
function moveBridgingModes(centres: Float32Array, superCentres: Float64Array, config: SyntheticConfig): void {
  const { superclasses: S, finePerSuperclass: F, inputSize: d, modesPerClass: M, bridgeSpans = [] } = config;
  for (let s = 0; s < S; s++) {
    bridgeSpans.forEach((span, f) => {
      for (let m = 0; m < M; m++) {
        const target = (s + (m % span) * (f + 1)) % S;
        const row = ((s * F + f) * M + m) * d;
        for (let j = 0; j < d; j++) centres[row + j] += superCentres[target * d + j] - superCentres[s * d + j];
      }
    });
  }
}

/** Every bridging class must reach distinct superclasses, one mode in each. */
function checkBridges({ superclasses: S, finePerSuperclass: F, modesPerClass: M, bridgeSpans = [] }: SyntheticConfig):
  void {
  if (bridgeSpans.length > F) {
    throw new Error(`synthetic: bridgeSpans names ${bridgeSpans.length} classes per superclass, which has ${F}`);
  }
  bridgeSpans.forEach((span, f) => {
    // One mode per superclass, so at most M are reached; a span of 1e9 must not build 1e9 entries.
    const reached = new Set(Array.from({ length: Math.min(span, M) }, (_, k) => (k * (f + 1)) % S));
    if (reached.size < span) {
      throw new Error(`synthetic: fine class ${f} spans ${span} superclasses, one mode in each, but reaches ` +
        `${reached.size} with ${S} superclasses and ${M} modes per class: raise superclasses or ` +
        `modesPerClass`);
    }
  });
}

/** perClass examples of every class in a seeded random order: a random mode's centre + N(0, I) noise. */
function drawSplit(centres: Float32Array, config: SyntheticConfig, perClass: number, seed: number): Split {
  const { inputSize: d, modesPerClass: M } = config;
  const classes = config.superclasses * config.finePerSuperclass;
  const rng = createRng(seed);
  const gauss = createGaussian(rng);
  const n = classes * perClass;
  const y = new Int32Array(n);
  for (let i = 0; i < n; i++) y[i] = Math.floor(i / perClass);
  shuffleInPlace(y, rng);
  const x = new Float32Array(n * d);
  for (let i = 0; i < n; i++) {
    const centre = (y[i] * M + Math.floor(rng() * M)) * d;
    for (let j = 0; j < d; j++) x[i * d + j] = centres[centre + j] + gauss();
  }
  const ids = new Int32Array(n);
  for (let i = 0; i < n; i++) ids[i] = i;
  return { x, y, ids, n, features: d };
}

/**
 * A seeded hierarchy of S superclasses × F fine classes: fine classes of one superclass sit close
 * together (a generalist confuses them), superclasses far apart. Class c belongs to superclass
 * ⌊c / F⌋, returned as `superclassOf` so clustering can be scored. Splits are drawn on first
 * access, each from its own stream, so the data never depends on which split was read first.
 *
 * @example
 *   const data = generateSynthetic({ superclasses: 20, finePerSuperclass: 5, inputSize: 32 });
 *   data.numClasses; // 100
 *   data.superclassOf![7]; // 1
 */
export function generateSynthetic(options: Partial<SyntheticConfig> = {}): Dataset {
  const config = SyntheticConfigSchema.parse({ ...DEFAULT_SYNTHETIC, ...options });
  const { superclasses: S, finePerSuperclass: F, inputSize: d } = config;
  const classes = S * F;
  checkBridges(config);
  if (classes > MAX_SYNTHETIC_CLASSES) {
    throw new Error(
      `synthetic: ${S} × ${F} = ${classes} classes, at most ${MAX_SYNTHETIC_CLASSES}: lower superclasses or ` +
        `finePerSuperclass`,
    );
  }
  const centres = once(() => makeCentres(config));
  const split = (name: 'train' | 'validation' | 'test', perClass: number) =>
    once(() => drawSplit(centres(), config, perClass, deriveSeed(config.seed, STREAMS[name])));
  const train = split('train', config.trainPerClass);
  const validation = split('validation', config.validationPerClass);
  const test = split('test', config.testPerClass);
  const superclassOf = new Int32Array(classes);
  const classNames: string[] = [];
  for (let c = 0; c < classes; c++) {
    superclassOf[c] = Math.floor(c / F);
    classNames.push(`s${Math.floor(c / F)}.f${c % F}`);
  }
  return withLazySplits({ name: 'synthetic', inputShape: [d], numClasses: classes, classNames, superclassOf }, { train,
    validation, test });
}

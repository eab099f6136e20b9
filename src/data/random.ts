/**
 * Seeded randomness for everything in data/. The split checksums pinned in the tests depend on the
 * exact sequence these functions produce, so changing any of them changes every split: treat their
 * output as part of the data format.
 */

/** A generator of uniform floats in [0, 1) with 32 bits of resolution. */
export interface Rng {
  (): number;
}

/**
 * sfc32 (Chris Doty-Humphrey's small fast chaotic generator), seeded through splitmix32 so that
 * nearby seeds give unrelated streams. Math.random cannot be seeded, and 32-bit-state generators
 * such as mulberry32 repeat pairs too soon for 70k-element shuffles.
 *
 * @example
 *   const rng = createRng(42);
 *   rng(); // same value on every machine and every run
 */
export function createRng(seed: number): Rng {
  let s = seed >>> 0;
  const next32 = (): number => {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    return (z ^ (z >>> 16)) >>> 0;
  };
  let a = next32();
  let b = next32();
  let c = next32();
  let d = next32();
  const rng = (): number => {
    const t = (((a + b) >>> 0) + d) >>> 0;
    d = (d + 1) >>> 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) >>> 0;
    c = ((c << 21) | (c >>> 11)) >>> 0;
    c = (c + t) >>> 0;
    return t / 4294967296;
  };
  // The first outputs of sfc32 still carry structure from the seed; the reference discards 12.
  for (let i = 0; i < 12; i++) rng();
  return rng;
}

/**
 * A seed for a numbered sub-stream, so that one stream's draws never depend on another's.
 *
 * @example
 *   const epochRng = createRng(deriveSeed(config.seed, epoch));
 */
export function deriveSeed(seed: number, stream: number): number {
  return (createRng((seed ^ Math.imul(stream + 1, 0x27d4eb2d)) >>> 0)() * 4294967296) >>> 0;
}

/** Uniform integer in [0, n). */
export function randomInt(rng: Rng, n: number): number {
  return Math.floor(rng() * n);
}

/** Fisher–Yates in place; returns its argument for chaining. */
export function shuffleInPlace<T extends { length: number; [i: number]: number }>(values: T, rng: Rng): T {
  for (let i = values.length - 1; i > 0; i--) {
    const j = randomInt(rng, i + 1);
    const t = values[i];
    values[i] = values[j];
    values[j] = t;
  }
  return values;
}

/**
 * Moves a uniform sample of `count` values, without replacement, to the front of `values` (a
 * partial Fisher–Yates shuffle: O(count) draws) and returns that prefix's length.
 */
export function sampleToFront<T extends { length: number; [i: number]: number }>(values: T, count: number,
  rng: Rng): number {
  const n = Math.min(count, values.length);
  for (let i = 0; i < n; i++) {
    const j = i + randomInt(rng, values.length - i);
    const t = values[i];
    values[i] = values[j];
    values[j] = t;
  }
  return n;
}

/**
 * A standard-normal sampler (Box–Muller, both outputs used).
 *
 * @example
 *   const gauss = createGaussian(createRng(1));
 *   const noise = Float32Array.from({ length: 784 }, gauss);
 */
export function createGaussian(rng: Rng): () => number {
  let spare: number | undefined;
  return () => {
    if (spare !== undefined) {
      const value = spare;
      spare = undefined;
      return value;
    }
    // 1 - u keeps the log away from 0, since rng() can return exactly 0.
    const radius = Math.sqrt(-2 * Math.log(1 - rng()));
    const angle = 2 * Math.PI * rng();
    spare = radius * Math.sin(angle);
    return radius * Math.cos(angle);
  };
}

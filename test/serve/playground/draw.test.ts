import { describe, expect, it } from 'vitest';

// The page's modules are plain browser JS (no build step), loaded here as they are served.
type Draw = { SIDE: number; toMnistInput: (gray: Float32Array, width: number, height: number) => Float32Array | null };
const { SIDE, toMnistInput } =
  (await import(new URL('../../../src/serve/playground/draw.js', import.meta.url).href)) as Draw;

const PAD = 280;

/** A blank pad with ink 1 over the rectangle [x0, x1) × [y0, y1). */
function pad(rects: [number, number, number, number][]): Float32Array {
  const gray = new Float32Array(PAD * PAD);
  for (const [x0, y0, x1, y1] of rects) for (let y = y0; y < y1; y++) gray.fill(1, y * PAD + x0, y * PAD + x1);
  return gray;
}

/** Ink's bounding box, centre of mass (pixel centres) and range in a 28 × 28 image. */
function measure(image: Float32Array) {
  let mass = 0, mx = 0, my = 0, x0 = SIDE, x1 = -1, y0 = SIDE, y1 = -1;
  image.forEach((v, k) => {
    if (v <= 0.05) return;
    const x = k % SIDE, y = Math.floor(k / SIDE);
    mass += v;
    mx += v * (x + 0.5);
    my += v * (y + 0.5);
    x0 = Math.min(x0, x);
    x1 = Math.max(x1, x);
    y0 = Math.min(y0, y);
    y1 = Math.max(y1, y);
  });
  return { cx: mx / mass, cy: my / mass, width: x1 - x0 + 1, height: y1 - y0 + 1, max: Math.max(...image),
    min: Math.min(...image) };
}

describe('toMnistInput: a drawing prepared the way MNIST prepared its digits', () => {
  it('gives null for a blank pad', () => {
    expect(toMnistInput(new Float32Array(PAD * PAD), PAD, PAD)).toBeNull();
  });

  it('centres the ink by its centre of mass, wherever it was drawn, with values in [0, 1]', () => {
    for (const rect of [[10, 10, 60, 90], [200, 150, 270, 260], [120, 0, 150, 280]] as [number, number, number,
      number][]) {
      const image = toMnistInput(pad([rect]), PAD, PAD)!;
      expect(image).toHaveLength(SIDE * SIDE);
      const m = measure(image);
      expect(Math.abs(m.cx - SIDE / 2)).toBeLessThan(0.6);
      expect(Math.abs(m.cy - SIDE / 2)).toBeLessThan(0.6);
      expect(m.min).toBeGreaterThanOrEqual(0);
      expect(m.max).toBeLessThanOrEqual(1);
      expect(m.max).toBeGreaterThan(0.9);
    }
  });

  it('scales the longer side to 20 px and keeps the aspect ratio', () => {
    const tall = measure(toMnistInput(pad([[100, 20, 120, 220]]), PAD, PAD)!); // 20 × 200
    expect(tall.height).toBeGreaterThanOrEqual(20);
    expect(tall.height).toBeLessThanOrEqual(21);
    expect(tall.width).toBeLessThanOrEqual(3);
    const small = measure(toMnistInput(pad([[5, 5, 15, 10]]), PAD, PAD)!); // 10 × 5: scaled up
    expect(small.width).toBeGreaterThanOrEqual(20);
    expect(small.width).toBeLessThanOrEqual(21);
    expect(small.height).toBeGreaterThanOrEqual(10);
    expect(small.height).toBeLessThanOrEqual(11);
  });

  it('draws the same digit the same wherever it sits on the pad', () => {
    const shape = (dx: number,
      dy: number): [number, number, number, number][] => [[20 + dx, 20 + dy, 40 + dx, 120 + dy], [20 + dx, 20 + dy,
      100 + dx, 40 + dy]];
    const a = toMnistInput(pad(shape(0, 0)), PAD, PAD)!;
    const b = toMnistInput(pad(shape(130, 140)), PAD, PAD)!;
    a.forEach((v, k) => expect(b[k]).toBeCloseTo(v, 5));
  });
});

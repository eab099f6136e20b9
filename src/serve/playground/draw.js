/* global document */
// Drawing a digit and turning it into what an MNIST model reads. Plain browser JS (no build step);
// toMnistInput is pure, so the tests run it in Node too.

/** MNIST images are 28 × 28; each digit was scaled to fit a 20 × 20 box, then centred by its centre of mass. */
export const SIDE = 28;
const BOX = 20;
/** Ink fainter than this does not count towards the digit's bounding box (anti-aliasing fringes). */
const INK = 0.05;

/**
 * A drawing as MNIST prepares its digits (LeCun et al.): crop to the ink's bounding box, scale it
 * so the longer side is 20 px (keeping the aspect ratio), and place it in a 28 × 28 field with its
 * centre of mass at the centre. Each output pixel is the mean ink over the source area it covers,
 * the box filter that gives MNIST's grey, anti-aliased edges.
 *
 * @param {Float32Array} gray ink in [0, 1], row-major [height, width]
 * @param {number} width
 * @param {number} height
 * @returns {Float32Array | null} 784 values in [0, 1], row-major; null for an empty drawing
 * @example
 *   toMnistInput(padInk, 280, 280); // Float32Array(784)
 */
export function toMnistInput(gray, width, height) {
  let x0 = width, y0 = height, x1 = -1, y1 = -1;
  let mass = 0, mx = 0, my = 0;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const v = gray[y * width + x];
      if (v <= INK) continue;
      x0 = Math.min(x0, x);
      x1 = Math.max(x1, x);
      y0 = Math.min(y0, y);
      y1 = Math.max(y1, y);
      mass += v;
      mx += v * (x + 0.5);
      my += v * (y + 0.5);
    }
  }
  if (x1 < 0) return null;
  const scale = BOX / Math.max(x1 - x0 + 1, y1 - y0 + 1); // output px per source px
  const cx = mx / mass, cy = my / mass; // centre of mass, source px

  // Summed-area table: the ink in any source rectangle in O(1). [height + 1, width + 1]
  const sums = new Float64Array((width + 1) * (height + 1));
  for (let y = 0; y < height; y++) {
    let row = 0;
    for (let x = 0; x < width; x++) {
      row += gray[y * width + x];
      sums[(y + 1) * (width + 1) + x + 1] = sums[y * (width + 1) + x + 1] + row;
    }
  }
  const inkIn = (ax, ay, bx, by) =>
    sums[by * (width + 1) + bx] - sums[ay * (width + 1) + bx] - sums[by * (width + 1) + ax] +
    sums[ay * (width + 1) + ax];
  const clampX = (v) => Math.min(width, Math.max(0, v));
  const clampY = (v) => Math.min(height, Math.max(0, v));

  const out = new Float32Array(SIDE * SIDE);
  for (let i = 0; i < SIDE; i++) {
    for (let j = 0; j < SIDE; j++) {
      // Output pixel (i, j) covers this source square; the centre of mass lands on the image centre.
      const sx0 = Math.floor(cx + (j - SIDE / 2) / scale), sx1 = Math.ceil(cx + (j + 1 - SIDE / 2) / scale);
      const sy0 = Math.floor(cy + (i - SIDE / 2) / scale), sy1 = Math.ceil(cy + (i + 1 - SIDE / 2) / scale);
      const area = (sx1 - sx0) * (sy1 - sy0); // outside the pad counts as blank paper
      const ink = inkIn(clampX(sx0), clampY(sy0), clampX(sx1), clampY(sy1));
      out[i * SIDE + j] = Math.min(1, ink / area);
    }
  }
  return out;
}

/**
 * Paints a grey image (values in [0, 1], white ink on black as MNIST stores it) onto a canvas,
 * one canvas pixel per value; CSS scales it up with `image-rendering: pixelated`.
 */
export function paintImage(canvas, x, side = SIDE) {
  canvas.width = side;
  canvas.height = side;
  const ctx = canvas.getContext('2d');
  const image = ctx.createImageData(side, side);
  for (let k = 0; k < side * side; k++) {
    const v = Math.round(255 * Math.min(1, Math.max(0, x[k])));
    image.data.set([v, v, v, 255], k * 4);
  }
  ctx.putImageData(image, 0, 0);
}

/** A feature vector that is not an image, as one row of cells: blue below zero, red above. */
export function paintStrip(canvas, x) {
  canvas.width = x.length;
  canvas.height = 1;
  const ctx = canvas.getContext('2d');
  const image = ctx.createImageData(x.length, 1);
  const scale = Math.max(1e-6, ...Array.from(x, Math.abs));
  x.forEach((v, k) => {
    const t = Math.min(1, Math.abs(v) / scale);
    const rgb = v >= 0 ? [255, 255 * (1 - t), 255 * (1 - t)] : [255 * (1 - t), 255 * (1 - t), 255];
    image.data.set([...rgb, 255], k * 4);
  });
  ctx.putImageData(image, 0, 0);
}

/**
 * A canvas to draw on with mouse, pen or finger (pointer events cover all three). `onStroke` runs
 * when a stroke ends, `onInk` on every change, each with the drawing as MNIST input.
 */
export class DrawingPad {
  constructor(canvas, { onStroke, onInk }) {
    this.canvas = canvas;
    this.ctx = canvas.getContext('2d', { willReadFrequently: true });
    this.last = null;
    this.clear();
    canvas.addEventListener('pointerdown', (event) => {
      canvas.setPointerCapture(event.pointerId);
      this.last = this.point(event);
      this.line(this.last, this.last);
      onInk(this.read());
    });
    canvas.addEventListener('pointermove', (event) => {
      if (!this.last) return;
      const next = this.point(event);
      this.line(this.last, next);
      this.last = next;
      onInk(this.read());
    });
    const end = () => {
      if (!this.last) return;
      this.last = null;
      onStroke(this.read());
    };
    canvas.addEventListener('pointerup', end);
    canvas.addEventListener('pointercancel', end);
  }

  /** Event position in canvas pixels, whatever size CSS shows the canvas at. */
  point(event) {
    const box = this.canvas.getBoundingClientRect();
    return { x: ((event.clientX - box.left) * this.canvas.width) / box.width,
      y: ((event.clientY - box.top) * this.canvas.height) / box.height };
  }

  line(from, to) {
    const { ctx } = this;
    // A pen a twelfth of the pad wide ends up ~2 px wide at 28 × 28, as MNIST's strokes are.
    ctx.lineWidth = this.canvas.width / 12;
    ctx.lineCap = 'round';
    ctx.lineJoin = 'round';
    ctx.strokeStyle = '#fff';
    ctx.beginPath();
    ctx.moveTo(from.x, from.y);
    ctx.lineTo(to.x, to.y);
    ctx.stroke();
  }

  clear() {
    this.ctx.fillStyle = '#000';
    this.ctx.fillRect(0, 0, this.canvas.width, this.canvas.height);
  }

  /** Shows a 28 × 28 image on the pad, so a test image can be drawn over. */
  show(x) {
    const small = document.createElement('canvas');
    paintImage(small, x);
    this.clear();
    this.ctx.imageSmoothingEnabled = false;
    this.ctx.drawImage(small, 0, 0, this.canvas.width, this.canvas.height);
  }

  /** The drawing as MNIST input, or null when the pad is blank. */
  read() {
    const { width, height } = this.canvas;
    const rgba = this.ctx.getImageData(0, 0, width, height).data;
    const gray = new Float32Array(width * height);
    for (let k = 0; k < gray.length; k++) gray[k] = rgba[k * 4] / 255;
    return toMnistInput(gray, width, height);
  }
}

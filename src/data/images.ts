import { readdirSync } from 'node:fs';
import { extname, join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { decode as decodeJpeg } from 'jpeg-js';
import { PNG } from 'pngjs';
import { DataFileError, type RawSplit, readBytes } from './raw.js';

// An image folder: one sub-folder per class, PNG or JPEG files in each, every image decoded and
// resized to one declared shape. Decoding is synchronous (pngjs, jpeg-js: pure JS), as is every
// dataset loader; tfjs does the resizing.

const DECODERS: Record<string, (bytes: Buffer) => { width: number; height: number; data: Uint8Array }> = {
  '.png': (bytes) => PNG.sync.read(bytes),
  '.jpg': (bytes) => decodeJpeg(bytes, { useTArray: true, formatAsRGBA: true }),
  '.jpeg': (bytes) => decodeJpeg(bytes, { useTArray: true, formatAsRGBA: true }),
};

const byName = (a: string, b: string) => a.localeCompare(b, 'en', { numeric: true });

/** RGBA bytes → [height, width, channels] floats in [0, 1]: grey by ITU-R 601 luma, transparency over black. */
function toChannels(rgba: Uint8Array, pixels: number, channels: 1 | 3): Float32Array {
  const out = new Float32Array(pixels * channels);
  for (let p = 0; p < pixels; p++) {
    const alpha = rgba[4 * p + 3] / 255;
    const [r, g, b] = [rgba[4 * p], rgba[4 * p + 1], rgba[4 * p + 2]].map((v) => (v / 255) * alpha);
    if (channels === 1) out[p] = 0.299 * r + 0.587 * g + 0.114 * b;
    else out.set([r, g, b], 3 * p);
  }
  return out;
}

function readImage(file: string, height: number, width: number, channels: 1 | 3): Float32Array {
  const decoder = DECODERS[extname(file).toLowerCase()];
  if (!decoder) throw new DataFileError(file, 'is not a .png, .jpg or .jpeg file: an image folder holds only images');
  let image: { width: number; height: number; data: Uint8Array };
  try {
    image = decoder(readBytes(file));
  } catch (error) {
    throw new DataFileError(file,
      `cannot be decoded as ${extname(file).slice(1).toUpperCase()} (${(error as Error).message})`);
  }
  const pixels = toChannels(image.data, image.width * image.height, channels);
  if (image.width === width && image.height === height) return pixels;
  return tf.tidy(() => {
    const resized = tf.image.resizeBilinear(tf.tensor3d(pixels, [image.height, image.width, channels]), [height,
      width]);
    return resized.clipByValue(0, 1).dataSync() as Float32Array;
  });
}

/** Every image under `dir`/<class>/, labelled by its folder's name, rows in folder then file-name order. */
export function readImageFolder(dir: string, height: number, width: number, channels: 1 | 3): RawSplit {
  let classes: string[];
  try {
    classes = readdirSync(dir, { withFileTypes: true }).filter((e) => e.isDirectory() && !e.name.startsWith('.')).map((
      e,
    ) => e.name).sort(byName);
  } catch (error) {
    throw new DataFileError(dir,
      `cannot be read (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`);
  }
  if (classes.length === 0) {
    throw new DataFileError(dir, 'has no class folders: expected one sub-folder of images per class');
  }
  const files = classes.flatMap((name) =>
    readdirSync(join(dir, name)).filter((f) => !f.startsWith('.')).sort(byName).map((f) => ({ label: name,
      file: join(dir, name, f) })
    )
  );
  const size = height * width * channels;
  const x = new Float32Array(files.length * size);
  files.forEach(({ file }, row) => x.set(readImage(file, height, width, channels), row * size));
  return { x, n: files.length, shape: [height, width, channels], labels: files.map((f) => f.label), featuresFile: dir,
    labelsFile: dir };
}

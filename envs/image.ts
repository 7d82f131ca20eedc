/**
 * Observation frames as pictures for people: nearest-neighbour upscaling, animated GIF (gifenc)
 * and PNG (pngjs). Shared by `render` (built-in levels) and `eval` (what a trained agent saw).
 */
import { createRequire } from 'node:module';
import type { Gifenc } from 'gifenc';
import { PNG } from 'pngjs';
import { DMLAB_FPS } from './dmlab/levels.js';

/** An RGB image, row-major `[height, width, 3]`. */
export interface RgbImage {
  width: number;
  height: number;
  rgb: Uint8Array;
}

// gifenc's default export is its CommonJS exports under Node but only GIFEncoder under bundlers
// (vitest), which read its ESM build; require() gives the same object everywhere.
const gifenc = createRequire(import.meta.url)('gifenc') as Gifenc;

/** How long a GIF frame of one agent step of `actionRepeat` frames lasts in real time. */
export function stepDelayMs(actionRepeat: number, fps = DMLAB_FPS): number {
  return Math.round((1000 * actionRepeat) / fps);
}

/** Each pixel becomes a k x k block. */
export function upscale(image: RgbImage, k: number): RgbImage {
  if (k === 1) return image;
  const width = image.width * k;
  const height = image.height * k;
  const rgb = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const s = (Math.floor(y / k) * image.width + Math.floor(x / k)) * 3;
      rgb.set(image.rgb.subarray(s, s + 3), (y * width + x) * 3);
    }
  }
  return { width, height, rgb };
}

function toRgba(image: RgbImage): Uint8Array {
  const rgba = new Uint8Array(image.width * image.height * 4);
  for (let i = 0, j = 0; i < image.rgb.length; i += 3, j += 4) {
    rgba[j] = image.rgb[i]!;
    rgba[j + 1] = image.rgb[i + 1]!;
    rgba[j + 2] = image.rgb[i + 2]!;
    rgba[j + 3] = 255;
  }
  return rgba;
}

/**
 * An animated GIF of equally sized frames, each shown `delayMs`. One palette for the whole
 * animation, quantised from a sample of frames, so colours don't flicker.
 */
export function encodeGif(images: RgbImage[], delayMs: number): Uint8Array {
  const [first] = images;
  if (!first) throw new Error('encodeGif: no frames');
  const { width, height } = first;
  const every = Math.max(1, Math.floor(images.length / 8));
  const sample = images.filter((_, i) => i % every === 0).map(toRgba);
  const joined = new Uint8Array(sample.length * sample[0]!.length);
  sample.forEach((rgba, i) => joined.set(rgba, i * rgba.length));
  const palette = gifenc.quantize(joined, 256);
  const gif = gifenc.GIFEncoder();
  images.forEach((image, i) => {
    gif.writeFrame(gifenc.applyPalette(toRgba(image), palette), width, height, i === 0 ? { palette, delay: delayMs } : { delay: delayMs });
  });
  gif.finish();
  return gif.bytes();
}

export function encodePng(image: RgbImage): Buffer {
  const png = new PNG({ width: image.width, height: image.height });
  png.data = Buffer.from(toRgba(image));
  return PNG.sync.write(png);
}

/** The gap between a contact sheet's frames, in pixels (dark grey). */
const SHEET_GAP = 2;

/** Up to `maxFrames` frames, evenly spaced over `images`, in rows of `columns`. */
export function contactSheet(images: RgbImage[], maxFrames: number, columns: number): RgbImage {
  const count = Math.min(maxFrames, images.length);
  const chosen = Array.from({ length: count }, (_, i) => images[Math.round((i * (images.length - 1)) / Math.max(1, count - 1))]!);
  const [first] = chosen;
  if (!first) throw new Error('contactSheet: no frames');
  const { width: w, height: h } = first;
  const cols = Math.min(columns, count);
  const rows = Math.ceil(count / cols);
  const width = cols * w + (cols + 1) * SHEET_GAP;
  const height = rows * h + (rows + 1) * SHEET_GAP;
  const sheet: RgbImage = { width, height, rgb: new Uint8Array(width * height * 3).fill(32) };
  chosen.forEach((image, i) => {
    const x0 = SHEET_GAP + (i % cols) * (w + SHEET_GAP);
    const y0 = SHEET_GAP + Math.floor(i / cols) * (h + SHEET_GAP);
    for (let y = 0; y < h; y++) {
      sheet.rgb.set(image.rgb.subarray(y * w * 3, (y + 1) * w * 3), ((y0 + y) * sheet.width + x0) * 3);
    }
  });
  return sheet;
}

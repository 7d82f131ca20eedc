/**
 * A top-down map of a level, for people: walls in their texture's mean colour, objects as discs,
 * hidden things (the watermaze platform) as outlines, the agent as a white disc with a heading
 * line, and an optional trail of past positions.
 */
import type { RgbImage } from '../image.js';
import type { Level } from './level.js';
import { heading } from './movement.js';
import type { Rgb } from './textures.js';
import { WALL_TEXTURES } from './textures.js';

export interface MapOptions {
  /** Pixels per cell (default 16). */
  cellPixels?: number;
  /** Past agent positions, drawn as small dots. */
  trail?: readonly { x: number; y: number }[];
}

const AGENT_COLOUR: Rgb = [255, 255, 255];
const TRAIL_COLOUR: Rgb = [255, 90, 200];

export function renderMap(level: Level, opts: MapOptions = {}): RgbImage {
  const s = opts.cellPixels ?? 16;
  const { grid } = level;
  const image: RgbImage = { width: grid.width * s, height: grid.height * s, rgb: new Uint8Array(grid.width * s * grid.height * s * 3) };
  const floor = level.style.floor.mean;
  for (let cy = 0; cy < grid.height; cy++) {
    for (let cx = 0; cx < grid.width; cx++) {
      const v = grid.cells[cy * grid.width + cx];
      const colour = v === 0 ? floor : (WALL_TEXTURES[v!] ?? WALL_TEXTURES[1])!.mean;
      for (let y = cy * s; y < (cy + 1) * s; y++) {
        for (let x = cx * s; x < (cx + 1) * s; x++) {
          // Faint grid lines on the floor make distances readable.
          const line = v === 0 && (x % s === 0 || y % s === 0);
          put(image, x, y, line ? [floor[0] * 0.85, floor[1] * 0.85, floor[2] * 0.85] : colour);
        }
      }
    }
  }
  for (const p of opts.trail ?? []) disc(image, p.x * s, p.y * s, Math.max(1, s / 10), TRAIL_COLOUR, false);
  for (const m of level.mapMarkers()) disc(image, m.x * s, m.y * s, m.radius * s, m.colour, m.hidden ?? false);
  const { x, y } = level.agent;
  const a = heading(level.agent);
  for (let t = 0; t <= s * 0.7; t += 0.5) put(image, Math.floor(x * s + Math.cos(a) * t), Math.floor(y * s + Math.sin(a) * t), AGENT_COLOUR);
  disc(image, x * s, y * s, s * 0.25, AGENT_COLOUR, false);
  return image;
}

function put(image: RgbImage, x: number, y: number, c: Rgb): void {
  if (x < 0 || y < 0 || x >= image.width || y >= image.height) return;
  const o = (y * image.width + x) * 3;
  image.rgb[o] = c[0];
  image.rgb[o + 1] = c[1];
  image.rgb[o + 2] = c[2];
}

function disc(image: RgbImage, cx: number, cy: number, r: number, c: Rgb, outline: boolean): void {
  for (let y = Math.floor(cy - r); y <= Math.ceil(cy + r); y++) {
    for (let x = Math.floor(cx - r); x <= Math.ceil(cx + r); x++) {
      const d = Math.hypot(x + 0.5 - cx, y + 0.5 - cy);
      if (d <= r && (!outline || d >= r - 1.5)) put(image, x, y, c);
    }
  }
}

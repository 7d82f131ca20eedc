/**
 * Grid maps: one byte per square cell of side 1 world unit. 0 is free floor, any other value is a
 * solid wall drawn with that wall texture (see `textures.ts`). World coordinates: x grows east
 * (column), y grows south (row); cell (cx, cy) covers [cx, cx+1) x [cy, cy+1).
 */
import type { Rng } from '../../src/rng.js';

export const FREE = 0;

export interface Grid {
  readonly width: number;
  readonly height: number;
  /** Row-major `[height, width]` cell values. */
  readonly cells: Uint8Array;
}

export function makeGrid(width: number, height: number, fill: number): Grid {
  return { width, height, cells: new Uint8Array(width * height).fill(fill) };
}

/** The cell value; outside the map counts as a wall (value 1). */
export function cellAt(grid: Grid, cx: number, cy: number): number {
  if (cx < 0 || cy < 0 || cx >= grid.width || cy >= grid.height) return 1;
  return grid.cells[cy * grid.width + cx]!;
}

export function isSolid(grid: Grid, cx: number, cy: number): boolean {
  return cellAt(grid, cx, cy) !== FREE;
}

export function setCell(grid: Grid, cx: number, cy: number, value: number): void {
  grid.cells[cy * grid.width + cx] = value;
}

/** Indices (cy * width + cx) of the free cells, in row-major order. */
export function freeCells(grid: Grid): number[] {
  const out: number[] = [];
  for (let i = 0; i < grid.cells.length; i++) if (grid.cells[i] === FREE) out.push(i);
  return out;
}

/** A uniformly drawn element. */
export function pick<T>(rng: Rng, items: readonly T[]): T {
  if (items.length === 0) throw new Error('pick from an empty list');
  return items[rng.int(items.length)]!;
}

/** Fisher-Yates, in place. */
export function shuffle<T>(rng: Rng, items: T[]): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [items[i], items[j]] = [items[j]!, items[i]!];
  }
  return items;
}

/** Writes the in-map 4-neighbours of cell `index` into `out`; returns how many there are. */
export function neighbours(grid: Grid, index: number, out: Int32Array): number {
  const { width, height } = grid;
  const cx = index % width;
  const cy = (index - cx) / width;
  let n = 0;
  if (cx > 0) out[n++] = index - 1;
  if (cx < width - 1) out[n++] = index + 1;
  if (cy > 0) out[n++] = index - width;
  if (cy < height - 1) out[n++] = index + width;
  return n;
}

/**
 * 4-connected breadth-first distances (in cells) from `from` to every cell; -1 where unreachable.
 * `passable(i)` decides which cells can be walked through (default: free cells); `from` itself is
 * always the start.
 */
export function bfsDistances(
  grid: Grid,
  from: number,
  passable: (index: number) => boolean = (i) => grid.cells[i] === FREE,
): Int32Array {
  const { width, height } = grid;
  const dist = new Int32Array(width * height).fill(-1);
  const queue = new Int32Array(width * height);
  let head = 0;
  let tail = 0;
  dist[from] = 0;
  queue[tail++] = from;
  const around = new Int32Array(4);
  while (head < tail) {
    const i = queue[head++]!;
    const d = dist[i]! + 1;
    for (let k = neighbours(grid, i, around) - 1; k >= 0; k--) {
      const j = around[k]!;
      if (dist[j]! < 0 && passable(j)) {
        dist[j] = d;
        queue[tail++] = j;
      }
    }
  }
  return dist;
}

/**
 * Distance (world units) along the ray from (x, y) in direction (dx, dy) (unit vector) to the
 * first solid cell, by DDA; `maxDist` if none is met before it.
 */
export function rayDistance(grid: Grid, x: number, y: number, dx: number, dy: number, maxDist: number): number {
  let cx = Math.floor(x);
  let cy = Math.floor(y);
  const deltaX = dx === 0 ? Infinity : Math.abs(1 / dx);
  const deltaY = dy === 0 ? Infinity : Math.abs(1 / dy);
  const stepX = dx < 0 ? -1 : 1;
  const stepY = dy < 0 ? -1 : 1;
  let sideX = (dx < 0 ? x - cx : cx + 1 - x) * deltaX;
  let sideY = (dy < 0 ? y - cy : cy + 1 - y) * deltaY;
  for (;;) {
    let t: number;
    if (sideX < sideY) {
      t = sideX;
      sideX += deltaX;
      cx += stepX;
    } else {
      t = sideY;
      sideY += deltaY;
      cy += stepY;
    }
    if (t >= maxDist) return maxDist;
    if (isSolid(grid, cx, cy)) return t;
  }
}

/** Whether the straight segment between two points crosses no solid cell. */
export function lineOfSight(grid: Grid, x0: number, y0: number, x1: number, y1: number): boolean {
  const len = Math.hypot(x1 - x0, y1 - y0);
  if (len === 0) return true;
  return rayDistance(grid, x0, y0, (x1 - x0) / len, (y1 - y0) / len, len) >= len;
}

/** The centre of cell `index`, in world coordinates. */
export function cellCentre(grid: Grid, index: number): { x: number; y: number } {
  const cx = index % grid.width;
  return { x: cx + 0.5, y: (index - cx) / grid.width + 0.5 };
}

/** The index of the cell holding world point (x, y). */
export function cellIndex(grid: Grid, x: number, y: number): number {
  return Math.floor(y) * grid.width + Math.floor(x);
}

/**
 * Random mazes with rooms, in the spirit of DeepMind Lab's `maze_generation.randomMazeGeneration`
 * (used by its explore and lasertag factories): rectangular rooms of odd size on odd coordinates,
 * the rest a spanning-tree maze of one-cell corridors (randomised Kruskal, rooms pre-merged), plus
 * optional extra connections that make loops. Walls are then textured, with a fraction of them
 * carrying a decal, as DeepMind Lab's `decalFrequency`, so places can be recognised.
 */
import type { Rng } from '../../src/rng.js';
import { type Grid, FREE, makeGrid, neighbours, pick, shuffle } from './grid.js';

export interface MazeOptions {
  /** Odd sizes, walls included (DeepMind Lab's small mazes are 11 x 11). */
  width: number;
  height: number;
  maxRooms: number;
  roomMinSize: number;
  roomMaxSize: number;
  extraConnectionProbability: number;
}

/** Interior cells [x, x + w) x [y, y + h). */
export interface Room {
  x: number;
  y: number;
  w: number;
  h: number;
}

export interface Maze {
  grid: Grid;
  rooms: Room[];
}

const ROOM_ATTEMPTS = 30;

function oddIn(rng: Rng, lo: number, hi: number): number {
  const choices: number[] = [];
  for (let v = lo; v <= hi; v++) if (v % 2 === 1) choices.push(v);
  return pick(rng, choices);
}

function placeRooms(rng: Rng, o: MazeOptions): Room[] {
  const rooms: Room[] = [];
  for (let attempt = 0; attempt < ROOM_ATTEMPTS && rooms.length < o.maxRooms; attempt++) {
    const w = oddIn(rng, o.roomMinSize, o.roomMaxSize);
    const h = oddIn(rng, o.roomMinSize, o.roomMaxSize);
    if (w > o.width - 2 || h > o.height - 2) continue;
    const room = { x: oddIn(rng, 1, o.width - 1 - w), y: oddIn(rng, 1, o.height - 1 - h), w, h };
    // Rooms keep at least one wall between them.
    const clashes = rooms.some(
      (r) => room.x <= r.x + r.w && r.x <= room.x + room.w && room.y <= r.y + r.h && r.y <= room.y + room.h,
    );
    if (!clashes) rooms.push(room);
  }
  return rooms;
}

export function generateMaze(rng: Rng, o: MazeOptions): Maze {
  if (o.width % 2 === 0 || o.height % 2 === 0) throw new RangeError('maze sizes must be odd');
  const grid = makeGrid(o.width, o.height, 1);
  const parent = Int32Array.from({ length: o.width * o.height }, (_, i) => i);
  const find = (i: number): number => {
    while (parent[i] !== i) i = parent[i] = parent[parent[i]!]!;
    return i;
  };
  const rooms = placeRooms(rng, o);
  for (const r of rooms) {
    const anchor = r.y * o.width + r.x;
    for (let y = r.y; y < r.y + r.h; y++) {
      for (let x = r.x; x < r.x + r.w; x++) {
        grid.cells[y * o.width + x] = FREE;
        parent[find(y * o.width + x)] = find(anchor);
      }
    }
  }
  const edges: [number, number][] = [];
  for (let y = 1; y < o.height - 1; y += 2) {
    for (let x = 1; x < o.width - 1; x += 2) {
      const i = y * o.width + x;
      grid.cells[i] = FREE;
      if (x + 2 < o.width - 1) edges.push([i, i + 2]);
      if (y + 2 < o.height - 1) edges.push([i, i + 2 * o.width]);
    }
  }
  for (const [a, b] of shuffle(rng, edges)) {
    const wall = (a + b) / 2;
    if (grid.cells[wall] === FREE) continue;
    const ra = find(a);
    const rb = find(b);
    if (ra !== rb) {
      parent[ra] = rb;
      grid.cells[wall] = FREE;
    } else if (rng.next() < o.extraConnectionProbability) {
      grid.cells[wall] = FREE;
    }
  }
  return { grid, rooms };
}

/**
 * Gives every wall the texture `base`, except that each wall cell facing open floor carries one of
 * `decals` with probability `decalFrequency`.
 */
export function paintWalls(rng: Rng, grid: Grid, base: number, decals: readonly number[], decalFrequency: number): void {
  const around = new Int32Array(4);
  for (let i = 0; i < grid.cells.length; i++) {
    if (grid.cells[i] === FREE) continue;
    grid.cells[i] = base;
    let facesFloor = false;
    for (let n = neighbours(grid, i, around) - 1; n >= 0; n--) facesFloor ||= grid.cells[around[n]!] === FREE;
    if (facesFloor && rng.next() < decalFrequency) grid.cells[i] = pick(rng, decals);
  }
}

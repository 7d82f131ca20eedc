/**
 * `rooms_watermaze`: a Morris water maze. A square arena whose four walls carry distinct cues, and
 * a hidden platform (a disc on the floor, never drawn) fixed for the episode. Stepping onto it pays +1
 * and respawns the agent at a random place and heading, so an agent that remembers where the
 * platform was, relative to the cues, is paid again and again; one that doesn't must search anew.
 *
 * DeepMind Lab's version (game_scripts/levels/contributed/dmlab30/rooms_watermaze.lua and
 * factories/rooms/navigate_watermaze_factory.lua) has a circular arena, places the platform within
 * a radius of the centre, and sets `episodeLengthSeconds = 120` (1800 agent steps). It pays up to 5
 * while the agent stays on the platform before respawning it; here one visit pays 1. The platform's
 * radius is calibrated so random play finds it as often as on a real build (0.75 an episode; a disc
 * of radius 1.5 cells gives ~0.8, the single cell of before 0.24).
 */
import { ACTION, type DmlabAction } from '../../actions.js';
import { type Grid, FREE, cellCentre, freeCells, makeGrid, pick, setCell } from '../grid.js';
import { type MapMarker, Level } from '../level.js';
import { navigateTo } from '../navigate.js';
import { FLOORS, WALL } from '../textures.js';

/** Interior side of the arena, in cells. */
export const ARENA_SIZE = 11;
/** The platform keeps this many cells from the walls (DeepMind Lab's spawn radius). */
const PLATFORM_MARGIN = 1;
/** Respawns are at least this far (cells, Chebyshev) from the platform. */
const MIN_SPAWN_DISTANCE = 3;
/** The platform is a disc of this radius (cells) around its cell's centre; the agent is on it when its centre is. */
export const PLATFORM_RADIUS = 1.5;

export class Watermaze extends Level {
  readonly name = 'rooms_watermaze';
  readonly episodeSeconds = 120;
  readonly style = { floor: FLOORS.sand, skyTop: [70, 110, 170], skyHorizon: [190, 210, 230] } as const;
  /** The hidden platform's cell index. */
  platform = 0;

  protected generate(): void {
    this.grid = arena();
    const inner = freeCells(this.grid).filter((i) => {
      const { x, y } = cellCentre(this.grid, i);
      const lo = 1 + PLATFORM_MARGIN;
      const hi = ARENA_SIZE + 1 - PLATFORM_MARGIN;
      return x > lo && x < hi && y > lo && y < hi;
    });
    this.platform = pick(this.rng, inner);
    this.respawn();
  }

  protected update(_action: DmlabAction): number {
    const p = cellCentre(this.grid, this.platform);
    if (Math.hypot(this.agent.x - p.x, this.agent.y - p.y) >= PLATFORM_RADIUS) return 0;
    this.respawn();
    return 1;
  }

  oracleAction(): number {
    const p = cellCentre(this.grid, this.platform);
    return navigateTo(this.grid, this.agent, this.platform, p.x, p.y) ?? ACTION.lookLeft;
  }

  override mapMarkers(): MapMarker[] {
    const p = cellCentre(this.grid, this.platform);
    return [{ x: p.x, y: p.y, colour: [255, 255, 255], radius: 0.5, hidden: true }];
  }

  private respawn(): void {
    const p = cellCentre(this.grid, this.platform);
    this.spawnAgent(
      freeCells(this.grid).filter((i) => {
        const c = cellCentre(this.grid, i);
        return Math.max(Math.abs(c.x - p.x), Math.abs(c.y - p.y)) >= MIN_SPAWN_DISTANCE;
      }),
    );
  }
}

/** The square arena: each wall a different cue, corners plain stone. */
function arena(): Grid {
  const n = ARENA_SIZE + 2;
  const grid = makeGrid(n, n, FREE);
  for (let i = 1; i < n - 1; i++) {
    setCell(grid, i, 0, WALL.cueRed);
    setCell(grid, n - 1, i, WALL.cueGreen);
    setCell(grid, i, n - 1, WALL.cueBlue);
    setCell(grid, 0, i, WALL.cueYellow);
  }
  for (const [x, y] of [[0, 0], [n - 1, 0], [0, n - 1], [n - 1, n - 1]]) setCell(grid, x!, y!, WALL.stone);
  return grid;
}

/**
 * What every built-in level shares: a grid map, the agent's body, sprites, and the per-frame
 * contract the environment drives. A level draws its whole episode (layout and events) from the
 * `Rng` given to `begin`, so a seed fixes everything.
 */
import type { DmlabAction } from '../actions.js';
import { Rng } from '../../src/rng.js';
import { type Grid, cellCentre, makeGrid, pick } from './grid.js';
import { type Body, LOOK_PIXELS_PER_TURN, applyAction } from './movement.js';
import type { SceneStyle, Sprite } from './raycaster.js';
import type { Rgb } from './textures.js';

/** Something the top-down map draws: objects, and what the agent cannot see (a hidden platform). */
export interface MapMarker {
  x: number;
  y: number;
  colour: Rgb;
  /** In cells. */
  radius: number;
  /** Drawn as an outline: present in the world but invisible to the agent. */
  hidden?: boolean;
}

export abstract class Level {
  /** The DeepMind Lab level this one stands in for, e.g. `rooms_watermaze`. */
  abstract readonly name: string;
  /** The namesake's `episodeLengthSeconds` (a comment in each level cites where it is set). */
  abstract readonly episodeSeconds: number;
  abstract readonly style: SceneStyle;
  grid: Grid = makeGrid(1, 1, 1);
  readonly agent: Body = { x: 0.5, y: 0.5, yaw: 0 };
  readonly sprites: Sprite[] = [];
  protected rng = new Rng(0);

  /** Starts an episode whose layout and events all come from `rng`. */
  begin(rng: Rng): void {
    this.rng = rng;
    this.sprites.length = 0;
    this.generate();
  }

  /** One environment frame: the agent moves, then the level's rules run; returns the frame's reward. */
  frame(action: DmlabAction): number {
    applyAction(this.agent, action, this.grid);
    return this.update(action);
  }

  /** Whether the level ended the episode before its time limit (keys_doors' goal). */
  get finished(): boolean {
    return false;
  }

  /** The scripted policy's action (an index into `ACTION_SET`), from full knowledge of the level. */
  abstract oracleAction(): number;

  /** For the top-down map: the visible sprites, plus whatever a level adds. */
  mapMarkers(): MapMarker[] {
    return this.sprites
      .filter((s) => s.visible)
      .map((s) => ({ x: s.x, y: s.y, colour: s.texture.mean, radius: Math.max(0.15, s.size / 3) }));
  }

  protected abstract generate(): void;
  protected abstract update(action: DmlabAction): number;

  /** Puts the agent at the centre of one of `cells`, facing a random direction. */
  protected spawnAgent(cells: readonly number[]): void {
    const c = cellCentre(this.grid, pick(this.rng, cells));
    this.agent.x = c.x;
    this.agent.y = c.y;
    this.agent.yaw = this.rng.int(Math.floor(LOOK_PIXELS_PER_TURN));
  }
}

/**
 * `seekavoid_arena_01`: an open arena strewn with apples (+1) and lemons (-1) that do not come
 * back. Reactive: see the good ones, go for them, steer around the bad ones.
 *
 * DeepMind Lab's version (game_scripts/levels/seekavoid_arena_01.lua, `factories.seek_avoid_factory`)
 * is a fixed map with `episodeLengthSeconds = 20` (300 agent steps); here the object placement is
 * drawn from the seed. The counts are calibrated so random play earns what it earns there (0.78 an
 * episode on a real build; 24 apples and 8 lemons give ~1.1, 12 and 10 gave 0.1).
 */
import { ACTION, type DmlabAction } from '../../actions.js';
import { type Grid, FREE, cellCentre, freeCells, makeGrid, setCell, shuffle } from '../grid.js';
import { Level } from '../level.js';
import { AGENT_RADIUS } from '../movement.js';
import { navigateTo } from '../navigate.js';
import type { Sprite } from '../raycaster.js';
import { FLOORS, SPRITES, WALL } from '../textures.js';

export const ARENA_SIZE = 11;
export const APPLES = 24;
export const LEMONS = 8;
/** Objects sit this far at most from their cell centre, so one cell holds one object. */
const JITTER = 0.1;
/** Centre distance at which an object is picked up. */
export const PICKUP_DISTANCE = AGENT_RADIUS + 0.15;
/** Objects stay out of the cells around the agent's first position. */
const CLEAR_AROUND_SPAWN = 1;

interface Pickup {
  sprite: Sprite;
  reward: number;
  cell: number;
}

export class SeekAvoid extends Level {
  readonly name = 'seekavoid_arena_01';
  readonly episodeSeconds = 20;
  readonly style = { floor: FLOORS.grass, skyTop: [80, 130, 200], skyHorizon: [200, 220, 240] } as const;
  readonly pickups: Pickup[] = [];
  /** Lemons marked solid, for planning around them. */
  private plan: Grid = makeGrid(1, 1, 1);

  protected generate(): void {
    this.grid = arena();
    this.pickups.length = 0;
    this.spawnAgent(freeCells(this.grid));
    const cells = shuffle(
      this.rng,
      freeCells(this.grid).filter((i) => {
        const c = cellCentre(this.grid, i);
        return Math.max(Math.abs(c.x - this.agent.x), Math.abs(c.y - this.agent.y)) > CLEAR_AROUND_SPAWN;
      }),
    );
    for (let k = 0; k < APPLES + LEMONS; k++) {
      const apple = k < APPLES;
      const c = cellCentre(this.grid, cells[k]!);
      const sprite: Sprite = {
        x: c.x + this.rng.uniform(-JITTER, JITTER),
        y: c.y + this.rng.uniform(-JITTER, JITTER),
        texture: apple ? SPRITES.apple : SPRITES.lemon,
        size: 0.4,
        z: 0,
        visible: true,
      };
      this.pickups.push({ sprite, reward: apple ? 1 : -1, cell: cells[k]! });
      this.sprites.push(sprite);
    }
    this.plan = { ...this.grid, cells: this.grid.cells.slice() };
    for (const p of this.pickups) if (p.reward < 0) this.plan.cells[p.cell] = WALL.stone;
  }

  protected update(_action: DmlabAction): number {
    let reward = 0;
    for (const p of this.pickups) {
      const s = p.sprite;
      if (s.visible && Math.hypot(s.x - this.agent.x, s.y - this.agent.y) < PICKUP_DISTANCE) {
        s.visible = false;
        reward += p.reward;
        if (p.reward < 0) this.plan.cells[p.cell] = FREE;
      }
    }
    return reward;
  }

  /** Walks to the apple with the shortest path that passes no lemon. */
  oracleAction(): number {
    let best: number | null = null;
    let bestDistance = Infinity;
    for (const p of this.pickups) {
      if (p.reward < 0 || !p.sprite.visible) continue;
      // Straight-line distance ranks candidates; the path itself avoids lemons.
      const d = Math.hypot(p.sprite.x - this.agent.x, p.sprite.y - this.agent.y);
      if (d >= bestDistance) continue;
      const action = navigateTo(this.plan, this.agent, p.cell, p.sprite.x, p.sprite.y);
      if (action !== null) {
        best = action;
        bestDistance = d;
      }
    }
    // Nothing left to take: turning in place collects nothing bad.
    return best ?? ACTION.lookLeft;
  }
}

function arena(): Grid {
  const n = ARENA_SIZE + 2;
  const grid = makeGrid(n, n, FREE);
  for (let i = 0; i < n; i++) {
    setCell(grid, i, 0, WALL.hedge);
    setCell(grid, i, n - 1, WALL.hedge);
    setCell(grid, 0, i, WALL.hedge);
    setCell(grid, n - 1, i, WALL.hedge);
  }
  return grid;
}

/**
 * `explore_goal_locations_small`: a small maze with rooms, generated per episode, and a visible
 * goal fixed for the episode. Reaching it pays +10 and respawns the agent elsewhere in the maze, so
 * after the first find an agent that remembers the way gets there faster.
 *
 * DeepMind Lab's version (game_scripts/levels/contributed/dmlab30/explore_goal_locations_small.lua,
 * factories/explore/goal_locations_factory.lua and factories/explore/factory.lua): an 11 x 11
 * maze, up to 4 rooms of size 3 to 5, decals on 10% of walls, goal reward 10, and the factory's
 * default `episodeLengthSeconds = 90` (1350 agent steps). The goal is reached on touching its cell
 * (rather than entering it), so random play earns ~4.7 an episode, as on a real build (6.25; DMLab-30
 * publishes 7.66) within a factor of 2; entering the cell gave 3.1.
 */
import { ACTION, type DmlabAction } from '../../actions.js';
import { cellCentre, freeCells, pick } from '../grid.js';
import { Level } from '../level.js';
import { generateMaze, paintWalls } from '../maze.js';
import { touchesCell } from '../movement.js';
import { navigateTo } from '../navigate.js';
import type { Sprite } from '../raycaster.js';
import { DECALS, FLOORS, SPRITES, WALL } from '../textures.js';

export const GOAL_REWARD = 10;
/** The goal is reached once the agent's box comes this close to the goal's cell (cells). */
export const GOAL_REACH = 0.25;
const WALL_STYLES = [WALL.stone, WALL.brick, WALL.wood] as const;

export class ExploreGoalLocations extends Level {
  readonly name = 'explore_goal_locations_small';
  readonly episodeSeconds = 90;
  readonly style = { floor: FLOORS.tiles, skyTop: [60, 100, 165], skyHorizon: [175, 200, 225] } as const;
  /** The goal's cell index. */
  goal = 0;
  private readonly goalSprite: Sprite = { x: 0, y: 0, texture: SPRITES.goal, size: 0.6, z: 0, visible: true };

  protected generate(): void {
    const { grid } = generateMaze(this.rng, {
      width: 11,
      height: 11,
      maxRooms: 4,
      roomMinSize: 3,
      roomMaxSize: 5,
      extraConnectionProbability: 0,
    });
    paintWalls(this.rng, grid, pick(this.rng, WALL_STYLES), DECALS, 0.1);
    this.grid = grid;
    this.goal = pick(this.rng, freeCells(grid));
    Object.assign(this.goalSprite, cellCentre(grid, this.goal));
    this.sprites.push(this.goalSprite);
    this.respawn();
  }

  protected update(_action: DmlabAction): number {
    const gx = this.goal % this.grid.width;
    if (!touchesCell(this.agent, gx, (this.goal - gx) / this.grid.width, GOAL_REACH)) return 0;
    this.respawn();
    return GOAL_REWARD;
  }

  oracleAction(): number {
    return navigateTo(this.grid, this.agent, this.goal, this.goalSprite.x, this.goalSprite.y) ?? ACTION.lookLeft;
  }

  private respawn(): void {
    this.spawnAgent(freeCells(this.grid).filter((i) => i !== this.goal));
  }
}

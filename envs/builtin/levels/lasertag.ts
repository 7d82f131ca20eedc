/**
 * `lasertag_three_opponents_small`: three opponents roam a small procedural maze. `fire` shoots a
 * laser along the view direction and hits the first opponent it meets before a wall; two hits less
 * than a second apart tag it (+1) and it respawns out of sight. Opponents shoot back: when one sees the agent within range it fires now
 * and then, and a hit respawns the agent elsewhere (no reward either way: the agent's return
 * counts its own tags). Reactive: find, face, fire.
 *
 * DeepMind Lab's version (game_scripts/levels/contributed/dmlab30/lasertag_three_opponents_small.lua,
 * `factories.lasertag.procedural_factory`): `botCount = 3`, an 11 x 11 maze with up to 3 rooms of
 * size 3 to 5, and `episodeLengthSeconds = 240` (3600 agent steps). Its bots are Quake bots; these
 * are simple wanderers. The extra maze connections (loops to circle around) are our choice.

Calibration: random play (9 actions, repeat 4, 3600 steps) tags nothing on a real DeepMind Lab
build (0.00 over 8 episodes; DMLab-30 publishes -0.21), where one-hit tags made ours tag 2.2 times an
episode. Two hits within a second, and a slightly narrower hit, bring it to ~0.25 (test/envs/builtin/
calibration.test.ts) while the aiming oracle still tags ~90 times.
 */
import { ACTION, type DmlabAction } from '../../actions.js';
import { type Grid, bfsDistances, cellCentre, cellIndex, freeCells, lineOfSight, neighbours, pick, rayDistance } from '../grid.js';
import { Level } from '../level.js';
import { type Body, MOVE_SPEED, bearingTo, heading, moveBy } from '../movement.js';
import { generateMaze, paintWalls } from '../maze.js';
import { TURN_PER_STEP, navigateTo } from '../navigate.js';
import type { Sprite } from '../raycaster.js';
import { DECALS, FLOORS, SPRITES, WALL } from '../textures.js';

export const BOT_COUNT = 3;
export const TAG_REWARD = 1;
/** A shot hits a bot whose centre passes within this distance of the laser. */
export const BOT_HIT_RADIUS = 0.25;
/** Hits that tag a bot; each must land within `HIT_WINDOW_FRAMES` of the previous one or the count restarts. */
export const HITS_TO_TAG = 2;
export const HIT_WINDOW_FRAMES = 60;
/** Frames between the agent's shots (5 shots per second). */
export const FIRE_COOLDOWN_FRAMES = 12;
const BOT_SPEED = 0.6 * MOVE_SPEED;
const BOT_RADIUS = 0.2;
/** Bots fire at most every this many frames, only within range, and hit with this probability. */
const BOT_FIRE_COOLDOWN_FRAMES = 45;
const BOT_RANGE = 6;
const BOT_ACCURACY = 0.25;
/** The oracle fires when the laser would pass this close to the target's centre. */
const AIM_TOLERANCE = 0.2;
const BOT_LOOKS = [SPRITES.botRed, SPRITES.botBlue, SPRITES.botPurple] as const;

export interface Bot {
  body: Body;
  sprite: Sprite;
  /** The cell it is walking to, and the BFS distances to it. */
  goal: number;
  toGoal: Int32Array;
  cooldown: number;
  /** Hits since the last tag, and the frames left before they lapse. */
  hits: number;
  hitWindow: number;
}

export class LaserTag extends Level {
  readonly name = 'lasertag_three_opponents_small';
  readonly episodeSeconds = 240;
  readonly style = { floor: FLOORS.planks, skyTop: [40, 40, 70], skyHorizon: [120, 110, 150] } as const;
  readonly bots: Bot[] = [];
  private cooldown = 0;
  private readonly around = new Int32Array(4);

  protected generate(): void {
    const { grid } = generateMaze(this.rng, {
      width: 11,
      height: 11,
      maxRooms: 3,
      roomMinSize: 3,
      roomMaxSize: 5,
      extraConnectionProbability: 0.25,
    });
    paintWalls(this.rng, grid, WALL.metal, DECALS, 0.1);
    this.grid = grid;
    this.cooldown = 0;
    this.spawnAgent(freeCells(grid));
    this.bots.length = 0;
    for (let k = 0; k < BOT_COUNT; k++) {
      const body = { x: 0, y: 0, yaw: 0 };
      const sprite: Sprite = { x: 0, y: 0, texture: BOT_LOOKS[k]!, size: 0.8, z: 0, visible: true };
      const bot: Bot = { body, sprite, goal: 0, toGoal: new Int32Array(0), cooldown: BOT_FIRE_COOLDOWN_FRAMES, hits: 0, hitWindow: 0 };
      this.bots.push(bot);
      this.sprites.push(sprite);
      this.respawnBot(bot);
    }
  }

  protected update(action: DmlabAction): number {
    let reward = 0;
    if (this.cooldown > 0) this.cooldown--;
    if (action[4] > 0 && this.cooldown === 0) {
      this.cooldown = FIRE_COOLDOWN_FRAMES;
      const hit = this.shoot();
      if (hit && ++hit.hits >= HITS_TO_TAG) {
        this.respawnBot(hit);
        reward += TAG_REWARD;
      } else if (hit) {
        hit.hitWindow = HIT_WINDOW_FRAMES;
      }
    }
    for (const bot of this.bots) {
      if (bot.hitWindow > 0 && --bot.hitWindow === 0) bot.hits = 0;
      this.walk(bot);
      if (this.botFires(bot)) this.spawnAgent(this.cellsOutOfSight(this.bots.map((b) => b.body)));
    }
    return reward;
  }

  /** The first bot the agent's laser meets before a wall, if any. */
  private shoot(): Bot | undefined {
    const { x, y } = this.agent;
    const a = heading(this.agent);
    const dx = Math.cos(a);
    const dy = Math.sin(a);
    let nearest = rayDistance(this.grid, x, y, dx, dy, 64);
    let hit: Bot | undefined;
    for (const bot of this.bots) {
      const rx = bot.body.x - x;
      const ry = bot.body.y - y;
      const along = rx * dx + ry * dy;
      if (along > 0 && along < nearest && Math.abs(rx * dy - ry * dx) < BOT_HIT_RADIUS) {
        nearest = along;
        hit = bot;
      }
    }
    return hit;
  }

  /** Hunts the nearest bot by path length; fires once the laser would hit it. */
  oracleAction(): number {
    const fromAgent = bfsDistances(this.grid, cellIndex(this.grid, this.agent.x, this.agent.y));
    let target = this.bots[0];
    for (const bot of this.bots) {
      if (pathLength(fromAgent, this.grid, bot) < pathLength(fromAgent, this.grid, target!)) target = bot;
    }
    const { x, y } = target!.body;
    if (!lineOfSight(this.grid, this.agent.x, this.agent.y, x, y)) {
      return navigateTo(this.grid, this.agent, cellIndex(this.grid, x, y), x, y) ?? ACTION.lookLeft;
    }
    const error = bearingTo(this.agent, x, y);
    if (Math.abs(error) > TURN_PER_STEP / 2) return error > 0 ? ACTION.lookRight : ACTION.lookLeft;
    const lateral = Math.hypot(x - this.agent.x, y - this.agent.y) * Math.sin(error);
    if (Math.abs(lateral) < AIM_TOLERANCE) return ACTION.fire;
    return lateral > 0 ? ACTION.strafeRight : ACTION.strafeLeft;
  }

  /** One frame of walking toward the bot's goal cell; a new goal once there. */
  private walk(bot: Bot): void {
    const { body } = bot;
    const cell = cellIndex(this.grid, body.x, body.y);
    let next = cell;
    for (let n = neighbours(this.grid, cell, this.around) - 1; n >= 0; n--) {
      const j = this.around[n]!;
      if (bot.toGoal[j]! >= 0 && bot.toGoal[j]! < bot.toGoal[next]!) next = j;
    }
    const c = cellCentre(this.grid, next);
    const dx = c.x - body.x;
    const dy = c.y - body.y;
    const len = Math.hypot(dx, dy);
    if (next === bot.goal && len <= BOT_SPEED) {
      this.chooseGoal(bot);
    } else if (len > 0) {
      const step = Math.min(BOT_SPEED, len) / len;
      moveBy(body, dx * step, dy * step, this.grid, BOT_RADIUS);
    }
    bot.sprite.x = body.x;
    bot.sprite.y = body.y;
  }

  private botFires(bot: Bot): boolean {
    if (bot.cooldown > 0) {
      bot.cooldown--;
      return false;
    }
    const { x, y } = bot.body;
    if (Math.hypot(x - this.agent.x, y - this.agent.y) > BOT_RANGE) return false;
    if (!lineOfSight(this.grid, x, y, this.agent.x, this.agent.y)) return false;
    bot.cooldown = BOT_FIRE_COOLDOWN_FRAMES;
    return this.rng.next() < BOT_ACCURACY;
  }

  private chooseGoal(bot: Bot): void {
    bot.goal = pick(this.rng, freeCells(this.grid));
    bot.toGoal = bfsDistances(this.grid, bot.goal);
  }

  private respawnBot(bot: Bot): void {
    const c = cellCentre(this.grid, pick(this.rng, this.cellsOutOfSight([this.agent])));
    bot.body.x = bot.sprite.x = c.x;
    bot.body.y = bot.sprite.y = c.y;
    bot.cooldown = BOT_FIRE_COOLDOWN_FRAMES;
    bot.hits = 0;
    bot.hitWindow = 0;
    this.chooseGoal(bot);
  }

  /** Free cells none of `watchers` can see; all free cells if there are none. */
  private cellsOutOfSight(watchers: readonly Body[]): number[] {
    const free = freeCells(this.grid);
    const hidden = free.filter((i) => {
      const c = cellCentre(this.grid, i);
      return watchers.every((w) => !lineOfSight(this.grid, w.x, w.y, c.x, c.y));
    });
    return hidden.length > 0 ? hidden : free;
  }
}

function pathLength(fromAgent: Int32Array, grid: Grid, bot: Bot): number {
  const d = fromAgent[cellIndex(grid, bot.body.x, bot.body.y)]!;
  return d < 0 ? Infinity : d;
}

import { describe, expect, it } from 'vitest';
import { ACTION, ACTION_REPEAT } from '../../../envs/actions.js';
import { FREE, cellCentre, cellIndex, freeCells } from '../../../envs/builtin/grid.js';
import { makeBuiltinEnv } from '../../../envs/builtin/index.js';
import { ExploreGoalLocations, GOAL_REWARD } from '../../../envs/builtin/levels/explore_goal.js';
import { DOOR_REWARD, GOAL_REWARD as KEYS_GOAL_REWARD, KEY_REWARD, KeysDoors } from '../../../envs/builtin/levels/keys_doors.js';
import { FIRE_COOLDOWN_FRAMES, HITS_TO_TAG, HIT_WINDOW_FRAMES, LaserTag, TAG_REWARD } from '../../../envs/builtin/levels/lasertag.js';
import { APPLES, LEMONS, SeekAvoid } from '../../../envs/builtin/levels/seekavoid.js';
import { PLATFORM_RADIUS, Watermaze } from '../../../envs/builtin/levels/watermaze.js';
import { LOOK_PIXELS_PER_TURN } from '../../../envs/builtin/movement.js';
import { teleport } from './helpers.js';

describe('rooms_watermaze', () => {
  it('pays 1 on the platform disc and nowhere else, then respawns the agent away from it', () => {
    const env = makeBuiltinEnv('rooms_watermaze');
    env.reset(3);
    const level = env.level as Watermaze;
    const p = cellCentre(level.grid, level.platform);
    const paid: number[] = [];
    const within: number[] = [];
    for (const cell of freeCells(level.grid)) {
      teleport(env, cell);
      const c = cellCentre(level.grid, cell);
      if (Math.hypot(c.x - p.x, c.y - p.y) < PLATFORM_RADIUS) within.push(cell);
      // Looking around does not move the agent: the reward is for where it stands.
      const r = env.step(ACTION.lookLeft, ACTION_REPEAT);
      if (r.reward !== 0) paid.push(cell);
      expect(r.reward === 0 || r.reward === 1).toBe(true);
    }
    // Radius 1.5: the platform's cell and its 8 neighbours' centres.
    expect(within).toHaveLength(9);
    expect(paid).toEqual(within);
    expect(Math.max(Math.abs(level.agent.x - p.x), Math.abs(level.agent.y - p.y))).toBeGreaterThanOrEqual(3);
  });

  it('never draws the platform', () => {
    const env = makeBuiltinEnv('rooms_watermaze');
    env.reset(3);
    expect(env.level.sprites).toHaveLength(0);
  });

  it('keeps the platform for the whole episode', () => {
    const env = makeBuiltinEnv('rooms_watermaze', { episodeLength: 100 });
    env.reset(5);
    const level = env.level as Watermaze;
    const platform = level.platform;
    for (let t = 0; t < 50; t++) {
      teleport(env, platform);
      expect(env.step(ACTION.lookRight, ACTION_REPEAT).reward).toBe(1);
      expect(level.platform).toBe(platform);
    }
  });
});

describe('explore_goal_locations_small', () => {
  it('pays 10 on the goal cell only, respawns the agent, and keeps the goal', () => {
    const env = makeBuiltinEnv('explore_goal_locations_small');
    env.reset(8);
    const level = env.level as ExploreGoalLocations;
    const goal = level.goal;
    let total = 0;
    for (const cell of freeCells(level.grid)) {
      teleport(env, cell);
      const r = env.step(ACTION.lookLeft, ACTION_REPEAT);
      total += r.reward;
      if (cell === goal) {
        expect(r.reward).toBe(GOAL_REWARD);
        expect(cellIndex(level.grid, level.agent.x, level.agent.y)).not.toBe(goal);
      } else {
        expect(r.reward).toBe(0);
      }
    }
    expect(total).toBe(10);
    expect(level.goal).toBe(goal);
  });
});

describe('seekavoid_arena_01', () => {
  it('apples pay +1, lemons -1, each once', () => {
    const env = makeBuiltinEnv('seekavoid_arena_01');
    env.reset(2);
    const level = env.level as SeekAvoid;
    expect(level.pickups.filter((p) => p.reward === 1)).toHaveLength(APPLES);
    expect(level.pickups.filter((p) => p.reward === -1)).toHaveLength(LEMONS);
    for (const p of level.pickups) {
      Object.assign(level.agent, { x: p.sprite.x, y: p.sprite.y });
      expect(env.step(ACTION.lookLeft, ACTION_REPEAT).reward).toBe(p.reward);
      expect(p.sprite.visible).toBe(false);
      expect(env.step(ACTION.lookLeft, ACTION_REPEAT).reward).toBe(0);
    }
  });
});

describe('lasertag_three_opponents_small', () => {
  /** A free cell with a free cell to its east, the agent on the first, facing east. */
  function setUp(seed: number) {
    const env = makeBuiltinEnv('lasertag_three_opponents_small');
    env.reset(seed);
    const level = env.level as LaserTag;
    const cell = freeCells(level.grid).find((i) => level.grid.cells[i + 1] === FREE && level.grid.cells[i + 2] === FREE) as number;
    teleport(env, cell, 0);
    // Opponents hold their fire, so the agent is not tagged and moved mid-test.
    for (const bot of level.bots) bot.cooldown = Infinity;
    return { env, level, front: cellCentre(level.grid, cell + 2) };
  }

  /** Fires for one cooldown (12 frames = 3 steps at repeat 4), the bot held in front, until a tag. */
  function fireAt(env: ReturnType<typeof setUp>['env'], bot: LaserTag['bots'][number], front: { x: number; y: number }) {
    let reward = 0;
    for (let s = 0; s < FIRE_COOLDOWN_FRAMES / ACTION_REPEAT && reward === 0; s++) {
      Object.assign(bot.body, front);
      reward += env.step(ACTION.fire, ACTION_REPEAT).reward;
    }
    return reward;
  }

  it('two hits within the window tag the opponent in the line of sight (+1), which respawns elsewhere', () => {
    const { env, level, front } = setUp(1);
    const bot = level.bots[1];
    expect(HITS_TO_TAG).toBe(2);
    expect(fireAt(env, bot!, front)).toBe(0);
    expect(bot!.hits).toBe(1);
    expect(fireAt(env, bot!, front)).toBe(TAG_REWARD);
    expect(bot!.hits).toBe(0);
    expect(Math.hypot(bot!.body.x - front.x, bot!.body.y - front.y)).toBeGreaterThan(1);
  });

  it('a hit lapses after the window', () => {
    const { env, level, front } = setUp(4);
    const bot = level.bots[0];
    expect(fireAt(env, bot!, front)).toBe(0);
    for (let f = 0; f < HIT_WINDOW_FRAMES; f += ACTION_REPEAT) {
      Object.assign(bot!.body, front);
      expect(env.step(ACTION.lookLeft, ACTION_REPEAT).reward).toBe(0);
    }
    expect(bot!.hits).toBe(0);
    level.agent.yaw = 0;
    expect(fireAt(env, bot!, front)).toBe(0);
    expect(fireAt(env, bot!, front)).toBe(TAG_REWARD);
  });

  it('misses an opponent behind the agent, and is limited to one shot per cooldown', () => {
    const { env, level, front } = setUp(2);
    const bot = level.bots[0];
    Object.assign(bot!.body, front);
    level.agent.yaw = Math.round(LOOK_PIXELS_PER_TURN / 2); // facing west
    expect(env.step(ACTION.fire, ACTION_REPEAT).reward).toBe(0);
    expect(bot!.hits).toBe(0);
    level.agent.yaw = 0;
    Object.assign(bot!.body, front);
    expect(FIRE_COOLDOWN_FRAMES).toBe(12);
    // The shot just fired still cools down: these two hit nothing.
    expect(env.step(ACTION.fire, ACTION_REPEAT).reward).toBe(0);
    Object.assign(bot!.body, front);
    expect(env.step(ACTION.fire, ACTION_REPEAT).reward).toBe(0);
    expect(bot!.hits).toBe(0);
    Object.assign(bot!.body, front);
    expect(env.step(ACTION.fire, ACTION_REPEAT).reward).toBe(0);
    expect(bot!.hits).toBe(1);
    expect(fireAt(env, bot!, front)).toBe(TAG_REWARD);
  });

  it('moving or looking without fire tags no one', () => {
    const { env, level, front } = setUp(3);
    for (const a of [ACTION.lookLeft, ACTION.lookRight, ACTION.strafeLeft, ACTION.strafeRight]) {
      Object.assign(level.bots[2]!.body, front);
      level.agent.yaw = 0;
      expect(env.step(a, ACTION_REPEAT).reward).toBe(0);
    }
  });
});

describe('rooms_keys_doors_puzzle', () => {
  it('keys pay 1, a door opens only to its own key (1), the goal pays 50 and ends the episode', () => {
    const env = makeBuiltinEnv('rooms_keys_doors_puzzle');
    env.reset(4);
    const level = env.level as KeysDoors;
    const door = level.doors[0]!;
    const key = level.keys.find((k) => k.colour === door.colour)!;
    const wrong = level.keys.find((k) => k.colour !== door.colour)!;
    const { width } = level.grid;
    // The cell in front of the door on the first room's side, and the heading that walks into it.
    const sides = [
      { cell: door.cell - 1, yaw: 0 },
      { cell: door.cell + 1, yaw: Math.round(LOOK_PIXELS_PER_TURN / 2) },
      { cell: door.cell - width, yaw: Math.round(LOOK_PIXELS_PER_TURN / 4) },
      { cell: door.cell + width, yaw: Math.round((3 * LOOK_PIXELS_PER_TURN) / 4) },
    ];
    // Keys are never next to a door, so the approach cell holds none.
    const approach = sides.find((s) => level.grid.cells[s.cell] === FREE)!;
    const bump = () => {
      teleport(env, approach.cell, approach.yaw);
      // Two steps (0.43 cells) reach the door 0.3 away and stay out of the next room.
      return env.step(ACTION.forward, ACTION_REPEAT).reward + env.step(ACTION.forward, ACTION_REPEAT).reward;
    };

    expect(bump()).toBe(0); // no key
    Object.assign(level.agent, { x: wrong.sprite.x, y: wrong.sprite.y });
    expect(env.step(ACTION.lookLeft, ACTION_REPEAT).reward).toBe(KEY_REWARD);
    expect(level.held).toBe(wrong.colour);
    expect(bump()).toBe(0); // wrong key
    expect(door.open).toBe(false);
    Object.assign(level.agent, { x: key.sprite.x, y: key.sprite.y });
    expect(env.step(ACTION.lookLeft, ACTION_REPEAT).reward).toBe(KEY_REWARD);
    expect(level.held).toBe(key.colour); // the wrong key is gone for good
    expect(bump()).toBe(DOOR_REWARD);
    expect(door.open).toBe(true);
    expect(level.grid.cells[door.cell]).toBe(FREE);
    expect(level.held).toBeNull();

    const goal = cellCentre(level.grid, level.goal);
    Object.assign(level.agent, goal);
    const r = env.step(ACTION.lookLeft, ACTION_REPEAT);
    expect(r.reward).toBe(KEYS_GOAL_REWARD);
    expect(r.done).toBe(true);
    expect(r.episodeReturn).toBe(KEY_REWARD * 2 + DOOR_REWARD + KEYS_GOAL_REWARD);
  });
});

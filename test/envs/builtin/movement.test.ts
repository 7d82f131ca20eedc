import { describe, expect, it } from 'vitest';
import { ACTION, ACTION_REPEAT, ACTION_SET } from '../../../envs/actions.js';
import { FREE, makeGrid, setCell } from '../../../envs/builtin/grid.js';
import { BUILTIN_LEVEL_NAMES, makeBuiltinEnv, randomPolicy } from '../../../envs/builtin/index.js';
import { LaserTag } from '../../../envs/builtin/levels/lasertag.js';
import {
  AGENT_RADIUS,
  DEGREES_PER_LOOK_PIXEL,
  LOOK_PIXELS_PER_TURN,
  MOVE_SPEED,
  type Body,
  applyAction,
  boxIsFree,
  heading,
} from '../../../envs/builtin/movement.js';
import { EYE_HEIGHT, Raycaster, WALL_HEIGHT } from '../../../envs/builtin/raycaster.js';
import { FLOORS, WALL } from '../../../envs/builtin/textures.js';

describe('turning', () => {
  it('uses DeepMind Lab\'s look rate: 0.1056 degrees per pixel-frame, 8.448 degrees per step', () => {
    expect(DEGREES_PER_LOOK_PIXEL).toBeCloseTo(0.1056, 12);
    expect(Math.round(LOOK_PIXELS_PER_TURN / (20 * ACTION_REPEAT))).toBe(43);
  });

  it('turns by the same angle every time, whatever came before', () => {
    const env = makeBuiltinEnv('rooms_watermaze');
    env.reset(4);
    const policy = randomPolicy(8);
    const perStep = (20 * ACTION_REPEAT * DEGREES_PER_LOOK_PIXEL * Math.PI) / 180;
    for (let k = 0; k < 200; k++) {
      env.step(policy(new Uint8Array(0)), ACTION_REPEAT);
      const before = { ...env.level.agent };
      const look = k % 2 === 0 ? ACTION.lookLeft : ACTION.lookRight;
      env.step(look, ACTION_REPEAT);
      const after = env.level.agent;
      if (env.level.agent.x !== before.x || after.y !== before.y) continue; // respawned on the platform
      expect(after.yaw - before.yaw).toBe(look === ACTION.lookLeft ? -80 : 80);
      expect(heading(after) - heading(before)).toBeCloseTo(look === ACTION.lookLeft ? -perStep : perStep, 12);
    }
  });

  it('gives bit-identical headings for the same net turn', () => {
    const grid = makeGrid(3, 3, FREE);
    const a: Body = { x: 1.5, y: 1.5, yaw: 0 };
    const b: Body = { x: 1.5, y: 1.5, yaw: 0 };
    for (let i = 0; i < 12; i++) applyAction(a, ACTION_SET[ACTION.lookRight]!.action, grid);
    for (let i = 0; i < 20; i++) applyAction(b, ACTION_SET[i % 2 ? ACTION.lookLeft : ACTION.lookRight]!.action, grid);
    for (let i = 0; i < 12; i++) applyAction(b, ACTION_SET[ACTION.lookRight]!.action, grid);
    expect(heading(b)).toBe(heading(a));
  });
});

describe('moving', () => {
  it('walks MOVE_SPEED per frame forward, back and sideways', () => {
    const grid = makeGrid(9, 9, FREE);
    const body: Body = { x: 4.5, y: 4.5, yaw: 0 };
    applyAction(body, ACTION_SET[ACTION.forward]!.action, grid);
    expect(body.x).toBeCloseTo(4.5 + MOVE_SPEED, 12);
    expect(body.y).toBeCloseTo(4.5, 12);
    // Facing east, strafing right goes south (+y).
    applyAction(body, ACTION_SET[ACTION.strafeRight]!.action, grid);
    expect(body.y).toBeCloseTo(4.5 + MOVE_SPEED, 12);
    applyAction(body, ACTION_SET[ACTION.backward]!.action, grid);
    expect(body.x).toBeCloseTo(4.5, 12);
  });

  it('stops at walls and slides along them', () => {
    const grid = makeGrid(5, 5, FREE);
    for (let y = 0; y < 5; y++) setCell(grid, 3, y, WALL.stone);
    // Facing a little south of east, into the wall at x = 3.
    const body: Body = { x: 2.5, y: 1.5, yaw: 100 };
    for (let i = 0; i < 100; i++) applyAction(body, ACTION_SET[ACTION.forward]!.action, grid);
    expect(body.x).toBeCloseTo(3 - AGENT_RADIUS, 5);
    expect(body.x).toBeLessThan(3 - AGENT_RADIUS);
    // The wall takes the x motion; the y motion carries on.
    expect(body.y).toBeCloseTo(1.5 + 100 * MOVE_SPEED * Math.sin(heading(body)), 9);
    expect(boxIsFree(body, grid)).toBe(true);
  });
});

describe.each(BUILTIN_LEVEL_NAMES)('collisions on %s', (name) => {
  it('keep the agent (and opponents) inside free cells over thousands of random steps', () => {
    const env = makeBuiltinEnv(name, { episodeLength: 500 });
    const policy = randomPolicy(2);
    let obs = env.reset(6);
    let violations = 0;
    for (let t = 0; t < 3000; t++) {
      obs = env.step(policy(obs), ACTION_REPEAT).obs;
      const { level } = env;
      if (!boxIsFree(level.agent, level.grid)) violations++;
      if (level instanceof LaserTag) for (const bot of level.bots) if (!boxIsFree(bot.body, level.grid)) violations++;
    }
    expect(violations).toBe(0);
  });
});

describe('ray caster', () => {
  it('projects a wall at distance d to the rows the pinhole model gives', () => {
    const grid = makeGrid(12, 3, WALL.stone);
    for (let x = 1; x < 11; x++) setCell(grid, x, 1, FREE);
    const sky = [10, 20, 30] as const;
    const style = { floor: FLOORS.tiles, skyTop: sky, skyHorizon: sky };
    const caster = new Raycaster(96, 72);
    for (const d of [1.5, 3.5, 6.5]) {
      // Wall face at x = 11, camera d before it, looking east.
      const frame = caster.render(grid, { x: 11 - d, y: 1.5, yaw: 0 }, [], style);
      const column = 48;
      const isSky = (y: number) =>
        frame[(y * 96 + column) * 3] === sky[0] && frame[(y * 96 + column) * 3 + 1] === sky[1] && frame[(y * 96 + column) * 3 + 2] === sky[2];
      let firstWallRow = 0;
      while (isSky(firstWallRow)) firstWallRow++;
      const top = 36 - ((WALL_HEIGHT - EYE_HEIGHT) * caster.focal) / d;
      expect(Math.abs(firstWallRow - top)).toBeLessThanOrEqual(1);
    }
    expect(caster.focal).toBeCloseTo(48, 12);
  });
});

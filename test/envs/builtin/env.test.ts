import { describe, expect, it } from 'vitest';
import { ACTION, ACTION_REPEAT, ACTION_SET } from '../../../envs/actions.js';
import {
  BUILTIN_LEVELS,
  BUILTIN_LEVEL_NAMES,
  builtinLevelName,
  episodeSteps,
  makeBuiltinEnv,
  makeOracle,
  randomPolicy,
} from '../../../envs/builtin/index.js';
import { Rng } from '../../../src/rng.js';
import { layoutSignature } from './helpers.js';

describe('registry', () => {
  it('has the five levels of the CPC paper', () => {
    expect(BUILTIN_LEVEL_NAMES).toEqual([
      'rooms_watermaze',
      'explore_goal_locations_small',
      'seekavoid_arena_01',
      'lasertag_three_opponents_small',
      'rooms_keys_doors_puzzle',
    ]);
    expect(Object.keys(BUILTIN_LEVELS)).toEqual(BUILTIN_LEVEL_NAMES);
  });

  it('accepts names with or without the builtin: prefix', () => {
    expect(makeBuiltinEnv('builtin:rooms_watermaze').spec.level).toBe('builtin:rooms_watermaze');
    expect(makeBuiltinEnv('seekavoid_arena_01').spec.level).toBe('builtin:seekavoid_arena_01');
  });

  it('names every valid level when given an unknown one', () => {
    expect(() => builtinLevelName('builtin:rooms_watermase')).toThrow(
      "unknown built-in level 'builtin:rooms_watermase'; valid: builtin:rooms_watermaze, " +
        'builtin:explore_goal_locations_small, builtin:seekavoid_arena_01, ' +
        'builtin:lasertag_three_opponents_small, builtin:rooms_keys_doors_puzzle',
    );
    expect(() => makeBuiltinEnv('dmlab:rooms_watermaze')).toThrow(/unknown built-in level/);
  });

  it('ACTION_SET is the IMPALA action set', () => {
    expect(ACTION_SET.map((a) => [a.name, ...a.action])).toEqual([
      ['forward', 0, 0, 0, 1, 0, 0, 0],
      ['backward', 0, 0, 0, -1, 0, 0, 0],
      ['strafe_left', 0, 0, -1, 0, 0, 0, 0],
      ['strafe_right', 0, 0, 1, 0, 0, 0, 0],
      ['look_left', -20, 0, 0, 0, 0, 0, 0],
      ['look_right', 20, 0, 0, 0, 0, 0, 0],
      ['forward_look_left', -20, 0, 0, 1, 0, 0, 0],
      ['forward_look_right', 20, 0, 0, 1, 0, 0, 0],
      ['fire', 0, 0, 0, 0, 1, 0, 0],
    ]);
    expect(ACTION.fire).toBe(8);
  });
});

describe('episode lengths', () => {
  it('match DeepMind Lab seconds at 60 fps and action repeat 4', () => {
    const steps = BUILTIN_LEVEL_NAMES.map((n) => makeBuiltinEnv(n).spec.episodeLength);
    // 120 s, 90 s, 20 s, 240 s, 60 s.
    expect(steps).toEqual([1800, 1350, 300, 3600, 900]);
    expect(episodeSteps(60)).toBe(900);
  });

  it('can be shortened, and must be a positive integer', () => {
    expect(makeBuiltinEnv('rooms_watermaze', { episodeLength: 7 }).spec.episodeLength).toBe(7);
    expect(() => makeBuiltinEnv('rooms_watermaze', { episodeLength: 0 })).toThrow(/positive integer/);
    expect(() => makeBuiltinEnv('rooms_watermaze', { episodeLength: 2.5 })).toThrow(/positive integer/);
  });
});

describe.each(BUILTIN_LEVEL_NAMES)('%s', (name) => {
  it('observations are [72, 96, 3] uint8 by default, and resizable', () => {
    const env = makeBuiltinEnv(name);
    expect(env.spec.observationShape).toEqual([72, 96, 3]);
    expect(env.spec.numActions).toBe(9);
    const obs = env.reset(1);
    expect(obs).toBeInstanceOf(Uint8Array);
    expect(obs.length).toBe(72 * 96 * 3);
    const step = env.step(ACTION.forward, ACTION_REPEAT);
    expect(step.obs.length).toBe(72 * 96 * 3);
    // Callers may keep observations: each one is its own buffer.
    expect(step.obs.buffer).not.toBe(obs.buffer);

    const small = makeBuiltinEnv(name, { height: 36, width: 48 });
    expect(small.spec.observationShape).toEqual([36, 48, 3]);
    expect(small.reset(1).length).toBe(36 * 48 * 3);
  });

  it('draws a real picture: many colours, not one flat fill', () => {
    const obs = makeBuiltinEnv(name).reset(3);
    const colours = new Set<number>();
    for (let i = 0; i < obs.length; i += 3) colours.add((obs[i]! << 16) | (obs[i + 1]! << 8) | obs[i + 2]!);
    expect(colours.size).toBeGreaterThan(30);
  });

  it('same seed and actions give identical frames and rewards; other seeds other layouts', () => {
    const run = (seed: number) => {
      const env = makeBuiltinEnv(name, { episodeLength: 60 });
      const policy = randomPolicy(11);
      const frames = [env.reset(seed)];
      const rewards: number[] = [];
      for (let t = 0; t < 150; t++) {
        const r = env.step(policy(frames[frames.length - 1]!), ACTION_REPEAT);
        frames.push(r.obs);
        rewards.push(r.reward);
      }
      return { frames, rewards };
    };
    const a = run(5);
    const b = run(5);
    expect(b.rewards).toEqual(a.rewards);
    for (let t = 0; t < a.frames.length; t++) expect(Buffer.compare(a.frames[t]!, b.frames[t]!)).toBe(0);

    const layouts = new Set(
      [1, 2, 3, 4, 5].map((seed) => {
        const env = makeBuiltinEnv(name);
        env.reset(seed);
        return layoutSignature(env);
      }),
    );
    expect(layouts.size).toBe(5);
  });

  it('ends the episode on its last step, reports it, and starts a new one', () => {
    const length = 40;
    const env = makeBuiltinEnv(name, { episodeLength: length });
    const oracle = makeOracle(env);
    let obs = env.reset(9);
    const firstLayout = layoutSignature(env);
    let sum = 0;
    let steps = 0;
    for (;;) {
      const r = env.step(oracle(obs), ACTION_REPEAT);
      obs = r.obs;
      sum += r.reward;
      steps++;
      if (r.done) {
        expect(r.episodeLength).toBe(steps);
        expect(r.episodeReturn).toBe(sum);
        break;
      }
      expect(r.episodeReturn).toBeUndefined();
      expect(r.episodeLength).toBeUndefined();
      expect(steps).toBeLessThan(length);
    }
    // keys_doors may end early at the goal; the others run to the limit.
    if (name !== 'rooms_keys_doors_puzzle') expect(steps).toBe(length);
    expect(layoutSignature(env)).not.toBe(firstLayout);
    // The observation returned with `done` is the new episode's first view.
    expect(Buffer.compare(obs, env.observe())).toBe(0);
    // The next episode counts from zero.
    let next = env.step(ACTION.lookLeft, ACTION_REPEAT);
    for (let t = 1; t < length && !next.done; t++) next = env.step(ACTION.lookLeft, ACTION_REPEAT);
    expect(next.done).toBe(true);
    expect(next.episodeLength).toBe(length);
  });

  it('rejects bad actions and repeats, and step before reset', () => {
    const env = makeBuiltinEnv(name);
    expect(() => env.step(0, 4)).toThrow(/before reset/);
    env.reset(0);
    expect(() => env.step(9, 4)).toThrow(RangeError);
    expect(() => env.step(-1, 4)).toThrow(RangeError);
    expect(() => env.step(1.5, 4)).toThrow(RangeError);
    expect(() => env.step(0, 0)).toThrow(RangeError);
  });
});

describe('auto-reset seeding', () => {
  it('episodes after the first follow from the reset seed alone', () => {
    const layouts = (seed: number) => {
      const env = makeBuiltinEnv('explore_goal_locations_small', { episodeLength: 3 });
      env.reset(seed);
      const out = [layoutSignature(env)];
      const rng = new Rng(0);
      for (let t = 0; t < 9; t++) if (env.step(rng.int(9), ACTION_REPEAT).done) out.push(layoutSignature(env));
      return out;
    };
    const a = layouts(21);
    expect(a).toHaveLength(4);
    expect(new Set(a).size).toBe(4);
    expect(layouts(21)).toEqual(a);
  });
});

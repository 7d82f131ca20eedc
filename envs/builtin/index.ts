/**
 * The built-in first-person levels: five stand-ins for the DeepMind Lab levels of the CPC paper,
 * ray-cast in TypeScript so they run on any machine with Node. See each level's file for what it
 * keeps of its namesake and where its episode length comes from.
 */
import { ACTION_REPEAT, NUM_ACTIONS } from '../actions.js';
import { Rng } from '../../src/rng.js';
import { type BuiltinEnvOptions, BuiltinEnv } from './env.js';
import type { Level } from './level.js';
import { ExploreGoalLocations } from './levels/explore_goal.js';
import { KeysDoors } from './levels/keys_doors.js';
import { LaserTag } from './levels/lasertag.js';
import { SeekAvoid } from './levels/seekavoid.js';
import { Watermaze } from './levels/watermaze.js';

export { BuiltinEnv, type BuiltinEnvOptions, episodeSteps, DEFAULT_HEIGHT, DEFAULT_WIDTH } from './env.js';
export { Level, type MapMarker } from './level.js';

export type BuiltinEnvFactory = (opts?: BuiltinEnvOptions) => BuiltinEnv;

function factory(make: () => Level): BuiltinEnvFactory {
  return (opts) => new BuiltinEnv(make(), opts);
}

/** Level name (without the `builtin:` prefix) -> factory. */
export const BUILTIN_LEVELS = {
  rooms_watermaze: factory(() => new Watermaze()),
  explore_goal_locations_small: factory(() => new ExploreGoalLocations()),
  seekavoid_arena_01: factory(() => new SeekAvoid()),
  lasertag_three_opponents_small: factory(() => new LaserTag()),
  rooms_keys_doors_puzzle: factory(() => new KeysDoors()),
} as const satisfies Record<string, BuiltinEnvFactory>;

export type BuiltinLevelName = keyof typeof BUILTIN_LEVELS;
export const BUILTIN_LEVEL_NAMES = Object.keys(BUILTIN_LEVELS) as BuiltinLevelName[];

/** Strips an optional `builtin:` prefix; throws, listing the valid names, on an unknown level. */
export function builtinLevelName(name: string): BuiltinLevelName {
  const bare = name.startsWith('builtin:') ? name.slice('builtin:'.length) : name;
  if (!Object.hasOwn(BUILTIN_LEVELS, bare)) {
    throw new Error(
      `unknown built-in level '${name}'; valid: ${BUILTIN_LEVEL_NAMES.map((n) => `builtin:${n}`).join(', ')}`,
    );
  }
  return bare as BuiltinLevelName;
}

/** A built-in level by name (`rooms_watermaze` or `builtin:rooms_watermaze`). */
export function makeBuiltinEnv(name: string, opts?: BuiltinEnvOptions): BuiltinEnv {
  return BUILTIN_LEVELS[builtinLevelName(name)](opts);
}

/** Maps the current observation to an action index. */
export type Policy = (obs: Uint8Array) => number;

/**
 * The level's scripted policy, which reads the full state of `env` (the observation is ignored).
 * It assumes `ACTION_REPEAT` frames per step.
 */
export function makeOracle(env: BuiltinEnv): Policy {
  return () => env.level.oracleAction();
}

/** Uniformly random actions from a seeded generator. */
export function randomPolicy(seed: number): Policy {
  const rng = new Rng(seed);
  return () => rng.int(NUM_ACTIONS);
}

/**
 * Runs `policy` for `episodes` whole episodes from `reset(seed)` (action repeat 4) and returns
 * their returns.
 */
export function evaluatePolicy(env: BuiltinEnv, policy: Policy, episodes: number, seed: number): number[] {
  const returns: number[] = [];
  let obs = env.reset(seed);
  while (returns.length < episodes) {
    const r = env.step(policy(obs), ACTION_REPEAT);
    obs = r.obs;
    if (r.done) returns.push(r.episodeReturn as number);
  }
  return returns;
}

import { describe, expect, it } from 'vitest';
import { BUILTIN_LEVEL_NAMES, evaluatePolicy, makeBuiltinEnv, makeOracle, randomPolicy } from '../../../envs/builtin/index.js';

/** Three 300-step episodes per policy (seekavoid's full length; the others shortened). */
const EPISODES = 3;
const LENGTH = 300;

/** Smallest mean oracle return per level, and the margin it must keep over random. */
const BARS: Record<string, { oracle: number; margin: number }> = {
  rooms_watermaze: { oracle: 6, margin: 5 },
  explore_goal_locations_small: { oracle: 40, margin: 30 },
  seekavoid_arena_01: { oracle: 10, margin: 8 },
  lasertag_three_opponents_small: { oracle: 6, margin: 5 },
  rooms_keys_doors_puzzle: { oracle: 56, margin: 45 },
};

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

describe.each(BUILTIN_LEVEL_NAMES)('%s', (name) => {
  it('the oracle beats the random policy by a clear margin', () => {
    const env = makeBuiltinEnv(name, { episodeLength: LENGTH });
    const oracle = mean(evaluatePolicy(env, makeOracle(env), EPISODES, 100));
    const random = mean(evaluatePolicy(makeBuiltinEnv(name, { episodeLength: LENGTH }), randomPolicy(100), EPISODES, 100));
    expect(oracle).toBeGreaterThanOrEqual(BARS[name]!.oracle);
    expect(oracle - random).toBeGreaterThanOrEqual(BARS[name]!.margin);
  });
});

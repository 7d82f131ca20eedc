import { describe, expect, it } from 'vitest';
import { makeEnv } from '../../envs/index.js';
import { BUILTIN_LEVEL_NAMES } from '../../envs/builtin/index.js';
import { MOCK_LEVELS } from '../../envs/mock/index.js';
import type { Environment, StepResult } from '../../envs/types.js';
import { Rng } from '../../src/rng.js';

/**
 * An environment restored from `getState()` into a fresh instance continues exactly as the original:
 * the same observations (byte for byte), rewards, episode ends and episode stats.
 */
async function play(env: Environment, actions: Rng, steps: number): Promise<StepResult[]> {
  const out: StepResult[] = [];
  for (let i = 0; i < steps; i++) out.push(await env.step(actions.int(9), 4));
  return out;
}

const specs = [...Object.keys(MOCK_LEVELS).map((n) => `mock:${n}`), ...BUILTIN_LEVEL_NAMES.map((n) => `builtin:${n}`)];

describe('environment state (bit-exact resume)', () => {
  for (const spec of specs) {
    it(`${spec}: a fresh environment given the state continues identically, across episode ends`, async () => {
      const opts = spec.startsWith('builtin:') ? { episodeLength: 7 } : {};
      const a = await makeEnv(spec, opts);
      const actions = new Rng(42);
      await a.reset(3);
      const before = await play(a, actions, a.spec.episodeLength! + 4); // mid-episode, after an episode end
      expect(before.some((r) => r.done)).toBe(true);
      const state = a.getState!();
      const b = await makeEnv(spec, opts);
      b.setState!(structuredClone(state));
      const rngState = actions.getState();
      const fromA = await play(a, actions, 30);
      actions.setState(rngState);
      const fromB = await play(b, actions, 30);
      expect(fromB.map((r) => [r.reward, r.done, r.episodeReturn, r.episodeLength])).toEqual(fromA.map((r) => [r.reward, r.done, r.episodeReturn, r.episodeLength]));
      fromA.forEach((r, i) => expect(Buffer.compare(Buffer.from(fromB[i]!.obs), Buffer.from(r.obs))).toBe(0));
    });
  }

  it('a state of another level or a malformed one is refused with a specific error', async () => {
    const mock = await makeEnv('mock:memory');
    await mock.reset(1);
    const builtin = await makeEnv('builtin:seekavoid_arena_01', { episodeLength: 5 });
    await builtin.reset(1);
    expect(() => builtin.setState!(mock.getState!())).toThrow(/builtin:seekavoid_arena_01.*state/);
    expect(() => mock.setState!({ level: 'mock:memory', t: -1 })).toThrow(/mock:memory.*state/);
  });
});

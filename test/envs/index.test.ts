import { describe, expect, it } from 'vitest';
import { makeEnv, makeEnvVectors, parseEnvSpec, shares, UnknownEnvError } from '../../envs/index.js';

describe('makeEnv', () => {
  it('dispatches on the family prefix', async () => {
    expect(parseEnvSpec('dmlab:contributed/dmlab30/rooms_watermaze')).toEqual({ family: 'dmlab', name: 'contributed/dmlab30/rooms_watermaze' });
    const mock = await makeEnv('mock:memory');
    expect(mock.spec.level).toBe('mock:memory');
    const builtin = await makeEnv('builtin:seekavoid_arena_01', { episodeLength: 10 });
    expect(builtin.spec).toMatchObject({ observationShape: [72, 96, 3], numActions: 9 });
    await Promise.all([mock.close(), builtin.close()]);
  });

  it.each(['atari:pong', 'rooms_watermaze', 'mock:', ':x', 'DMLAB:x'])('rejects %s with the valid forms', async (spec) => {
    const err = await makeEnv(spec).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UnknownEnvError);
    expect((err as Error).message).toMatch(/mock:<name>, builtin:<level> or dmlab:<level>/);
  });

  it('makeEnvVectors starts several (in-process ones a vector of one each) and surfaces a failure', async () => {
    const envs = await makeEnvVectors('mock:bandit', 3);
    expect(envs.map((e) => e.size)).toEqual([1, 1, 1]);
    await Promise.all(envs.map((e) => e.close()));
    await expect(makeEnvVectors('mock:nope', 2)).rejects.toThrow(/unknown mock environment/);
  });

  it('shares splits columns over bridges in near-equal parts, never more parts than columns', () => {
    expect(shares(16, 2)).toEqual([8, 8]);
    expect(shares(5, 2)).toEqual([3, 2]);
    expect(shares(3, 8)).toEqual([1, 1, 1]);
    expect(shares(7, 1)).toEqual([7]);
  });
});

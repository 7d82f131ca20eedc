import { describe, expect, it } from 'vitest';
import { makeEnv, makeEnvs, parseEnvSpec, UnknownEnvError } from '../../envs/index.js';

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

  it('makeEnvs starts several and surfaces a failure', async () => {
    const envs = await makeEnvs('mock:bandit', 3);
    expect(envs).toHaveLength(3);
    await Promise.all(envs.map((e) => e.close()));
    await expect(makeEnvs('mock:nope', 2)).rejects.toThrow(/unknown mock environment/);
  });
});

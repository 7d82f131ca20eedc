import { describe, expect, it } from 'vitest';
import { makeMockEnv } from '../../../envs/mock/index.js';
import { BusyClock, EnvServerExitedError, EnvServerStartError, spawnTsEnvServer } from '../../../src/transport/envProcess.js';

describe('env server processes (src/envServerMain.ts)', () => {
  it('serves a TypeScript environment from its own process, identical to the local one', async () => {
    const remote = await spawnTsEnvServer('mock:memory');
    const local = makeMockEnv('memory');
    expect(remote.spec).toEqual(local.spec);
    expect(await remote.reset(5)).toEqual(local.reset(5));
    for (let t = 0; t < 20; t++) expect(await remote.step(t % 9, 4)).toEqual(local.step(t % 9, 4));
    await remote.close();
    expect(remote.server.child.exitCode).toBe(0);
  });

  it('reports an unknown environment through the handshake', async () => {
    const err = await spawnTsEnvServer('atari:pong').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(EnvServerStartError);
    expect(err).toMatchObject({ code: 'env_init_failed' });
    expect((err as Error).message).toMatch(/mock:<name>, builtin:<level> or dmlab:<level>/);
  });

  it('fails calls at once when the server is killed, and exits by itself when its parent goes', async () => {
    const a = await spawnTsEnvServer('mock:bandit', { timeoutMs: 60_000 });
    await a.reset(1);
    a.server.child.kill('SIGKILL');
    const t0 = Date.now();
    await expect(a.step(0, 4)).rejects.toBeInstanceOf(EnvServerExitedError);
    expect(Date.now() - t0).toBeLessThan(5000);
    await a.close();

    const b = await spawnTsEnvServer('mock:bandit');
    const exited = new Promise((resolve) => b.server.child.once('exit', resolve));
    b.server.child.stdin!.end(); // what the OS does when the parent dies
    expect(await exited).toBe(0);
    await b.close();
  });
});

describe('BusyClock (time a server announced as busy, which request deadlines do not count)', () => {
  it('sums the stretches from waiting/compiling to done, the current one included', () => {
    const c = new BusyClock();
    c.mark('done', 0); // done without a start: nothing
    expect(c.ms(5)).toBe(0);
    c.mark('waiting', 10);
    c.mark('compiling', 15); // the stretch goes on: a wait, then the compile
    expect(c.ms(18)).toBe(8);
    c.mark('done', 20);
    expect(c.ms(100)).toBe(10);
    c.mark('compiling', 200);
    expect(c.ms(230)).toBe(40);
  });
});

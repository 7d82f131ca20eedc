import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Packr } from 'msgpackr';
import { afterAll, describe, expect, it } from 'vitest';
import { Request } from 'zeromq';
import type { EnvSpec, Environment, StepResult } from '../../../envs/types.js';
import { decode, encode } from '../../../src/transport/codec.js';
import { EnvProtocolError, EnvRemoteError, EnvTimeoutError, RemoteEnv } from '../../../src/transport/envClient.js';
import { serveEnv, type EnvServer } from '../../../src/transport/envServer.js';
import { PROTOCOL_VERSION, type ErrorCode, type Message } from '../../../src/transport/messages.js';
import { sampleMessages, unrollMessage } from './fixtures.js';

const dir = mkdtempSync(join(tmpdir(), 'cpc-env-server-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
const ipc = (): string => `ipc://${dir}/s${n++}`;

/**
 * A small deterministic environment: the observation encodes (seed, t); action a pays a; episodes
 * last `length` steps; `step` throws on action 7 (to test env errors).
 */
class CounterEnv implements Environment {
  readonly spec: EnvSpec = { observationShape: [2, 3, 3], numActions: 9, level: 'test:counter', episodeLength: 5 };
  closed = false;
  private seed = 0;
  private t = 0;
  private ret = 0;
  private episodes = 0;

  reset(seed: number): Uint8Array {
    this.seed = seed;
    this.episodes = 0;
    return this.begin();
  }

  step(action: number, repeat: number): StepResult {
    if (action === 7) throw new Error('boom: simulated crash in step');
    const reward = action * repeat;
    this.ret += reward;
    this.t++;
    if (this.t < 5) return { obs: this.obs(), reward, done: false };
    const ended = { episodeReturn: this.ret, episodeLength: this.t };
    this.episodes++;
    return { obs: this.begin(), reward, done: true, ...ended };
  }

  close(): void {
    this.closed = true;
  }

  private begin(): Uint8Array {
    this.t = 0;
    this.ret = 0;
    return this.obs();
  }

  private obs(): Uint8Array {
    return Uint8Array.from({ length: 18 }, (_, i) => (this.seed + 31 * this.episodes + 7 * this.t + i) % 256);
  }
}

const quiet = { log: () => {} };

describe('env server + RemoteEnv', () => {
  it('serves spec, reset and step with auto-reset and episode stats, identical to the local env', async () => {
    const local = new CounterEnv();
    const server = await serveEnv(new CounterEnv(), ipc(), quiet);
    const remote = await RemoteEnv.connect(server.endpoint, { timeoutMs: 5000 });
    expect(remote.spec).toEqual(local.spec);
    expect(await remote.reset(42)).toEqual(local.reset(42));
    for (let i = 0; i < 12; i++) {
      const a = i % 3;
      const r = await remote.step(a, 4);
      const l = local.step(a, 4);
      expect(r).toEqual(l);
      expect(r.obs).toBeInstanceOf(Uint8Array);
    }
    await remote.close();
    await server.done;
    expect(server.stats.errors).toBe(0);
  });

  it('surfaces env errors and bad requests as EnvRemoteError and keeps serving', async () => {
    const env = new CounterEnv();
    const server = await serveEnv(env, ipc(), quiet);
    const remote = await RemoteEnv.connect(server.endpoint, { timeoutMs: 5000 });
    await expect(remote.step(1, 4)).rejects.toMatchObject({ name: 'EnvRemoteError', code: 'not_reset' });
    await remote.reset(1);
    await expect(remote.step(9, 4)).rejects.toMatchObject({ code: 'bad_action', requestType: 'env.step' });
    const crash = remote.step(7, 4);
    await expect(crash).rejects.toBeInstanceOf(EnvRemoteError);
    await expect(crash).rejects.toThrow(/env_error.*boom: simulated crash in step/);
    expect((await remote.step(2, 4)).reward).toBe(8);
    expect(server.stats.errorsByCode).toEqual({ not_reset: 1, bad_action: 1, env_error: 1 });
    await remote.close();
    await server.done;
    expect(env.closed).toBe(true);
  });

  it('binds tcp on loopback with a wildcard port, and refuses other interfaces', async () => {
    const server = await serveEnv(new CounterEnv(), 'tcp://127.0.0.1:*', quiet);
    expect(server.endpoint).toMatch(/^tcp:\/\/127\.0\.0\.1:\d+$/);
    const remote = await RemoteEnv.connect(server.endpoint, { timeoutMs: 5000 });
    expect(remote.spec.level).toBe('test:counter');
    await remote.close();
    await server.done;
    await expect(serveEnv(new CounterEnv(), 'tcp://0.0.0.0:*', quiet)).rejects.toThrow(/refusing to bind/);
  });

  it('close() stops the server and closes the env', async () => {
    const env = new CounterEnv();
    const server = await serveEnv(env, ipc(), quiet);
    await server.close();
    expect(env.closed).toBe(true);
  });

  it('times out with EnvTimeoutError when the server is gone, and when nothing ever listened', async () => {
    const server = await serveEnv(new CounterEnv(), ipc(), quiet);
    const remote = await RemoteEnv.connect(server.endpoint, { timeoutMs: 300 });
    await remote.reset(3);
    await server.close();
    const t0 = Date.now();
    const err = await remote.step(1, 4).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(EnvTimeoutError);
    expect(err).toMatchObject({ requestType: 'env.step', timeoutMs: 300 });
    expect(Date.now() - t0).toBeLessThan(3000);
    await remote.close(); // never throws, even with the server gone

    await expect(RemoteEnv.connect(ipc(), { timeoutMs: 200 })).rejects.toBeInstanceOf(EnvTimeoutError);
  });

  it('rejects a reply that is not the one asked for as EnvProtocolError', async () => {
    // A fake server answering every request with a reset reply.
    const { Reply } = await import('zeromq');
    const sock = new Reply({ linger: 0 });
    const endpoint = ipc();
    await sock.bind(endpoint);
    const spec: Message = { type: 'env.spec.reply', spec: new CounterEnv().spec };
    void (async () => {
      let first = true;
      for await (const _ of sock) {
        await sock.send(encode(first ? spec : sampleMessages()['env.close.reply']));
        first = false;
      }
    })();
    const remote = await RemoteEnv.connect(endpoint, { timeoutMs: 2000 });
    await expect(remote.reset(1)).rejects.toBeInstanceOf(EnvProtocolError);
    sock.close();
  });
});

describe('env server fuzz', () => {
  it('answers thousands of bad frames with specific errors, counts them, and keeps serving correct requests', async () => {
    const logs: string[] = [];
    const server: EnvServer = await serveEnv(new CounterEnv(), ipc(), { log: (l) => logs.push(l) });
    const sock = new Request({ linger: 0, receiveTimeout: 5000 });
    sock.connect(server.endpoint);
    const raw = new Packr({ useRecords: false });
    const valid = Object.values(sampleMessages()).map((m) => encode(m));
    let seed = 7;
    const rand = (k: number): number => {
      seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
      return seed % k;
    };

    const roundTrip = async (frames: Uint8Array | Uint8Array[]): Promise<Message> => {
      await sock.send(frames);
      const [reply] = await sock.receive();
      const r = decode(reply!);
      if (!r.ok) throw new Error(`server sent an undecodable reply: ${r.error.message}`);
      return r.msg;
    };

    /** Each generator returns a bad frame and the error code the server must answer with. */
    const bad: Array<() => [Uint8Array | Uint8Array[], ErrorCode | ErrorCode[]]> = [
      // Random bytes are usually not msgpack, and when they are, they are not a typed map.
      () => [Uint8Array.from({ length: 1 + rand(100) }, () => rand(256)), ['not_msgpack', 'no_type']],
      () => {
        const v = valid[rand(valid.length)];
        return [v!.subarray(0, rand(v!.length - 1)), 'not_msgpack'];
      },
      () => [raw.pack({ v: PROTOCOL_VERSION + 1 + rand(5), type: 'env.step', action: 1, repeat: 4 }), 'bad_version'],
      () => [raw.pack({ type: 'env.reset', seed: 1 }), 'bad_version'],
      () => [raw.pack([rand(10), 'env.step']), 'no_type'],
      () => [raw.pack({ v: PROTOCOL_VERSION, type: `env.nope${rand(10)}` }), 'unknown_type'],
      () => [raw.pack({ v: PROTOCOL_VERSION, type: 'env.step', action: -1 - rand(5), repeat: 4 }), 'schema'],
      () => {
        const u = unrollMessage(3, 2);
        return [encode({ ...u, actions: unrollMessage(2 + rand(2) * 2, 2).actions }), 'bad_shape'];
      },
      () => {
        const obs = sampleMessages()['env.reset.reply'].obs;
        return [raw.pack({ v: PROTOCOL_VERSION, type: 'env.reset.reply', obs: { ...obs, shape: [4, 5, 3 + 1 + rand(3)] } }), 'bad_array'];
      },
      () => [raw.pack({ v: PROTOCOL_VERSION, type: 'env.reset.reply', obs: { dtype: 'float16', shape: [1], data: new Uint8Array(2) } }), 'bad_dtype'],
      () => [new Uint8Array(64 * 1024 + 1 + rand(1000)), 'oversized'],
      () => [[encode({ type: 'env.spec' }), encode({ type: 'env.spec' })], 'multipart'],
      () => [encode(unrollMessage()), 'unexpected_message'],
      () => [encode({ type: 'env.step', action: 9 + rand(100), repeat: 4 }), 'bad_action'],
    ];

    const reset = await roundTrip(encode({ type: 'env.reset', seed: 5 }));
    expect(reset.type).toBe('env.reset.reply');
    const expected: Partial<Record<ErrorCode, number>> = {};
    const N = 3000;
    for (let i = 0; i < N; i++) {
      const [frame, codes] = bad[i % bad.length]!();
      const reply = await roundTrip(frame);
      if (reply.type !== 'error') throw new Error(`bad frame ${i} was answered with ${reply.type}`);
      expect([codes].flat()).toContain(reply.code);
      expected[reply.code] = (expected[reply.code] ?? 0) + 1;
      if (i % 10 === 0) {
        const ok = await roundTrip(encode({ type: 'env.step', action: 2, repeat: 4 }));
        expect(ok).toMatchObject({ type: 'env.step.reply', reward: 8 });
      }
    }
    expect(server.stats.errors).toBe(N);
    expect(server.stats.errorsByCode).toEqual(expected);
    expect(server.stats.requests).toBe(N + 1 + N / 10);
    // Every kind is logged, but a flood is rate-limited.
    for (const code of Object.keys(expected)) expect(logs.some((l) => l.includes(`] ${code}`))).toBe(true);
    expect(logs.length).toBeLessThan(bad.length * 21);

    expect(await roundTrip(encode({ type: 'env.close' }))).toEqual({ type: 'env.close.reply' });
    await server.done;
    sock.close();
  }, 300_000); // 3,300 round trips: a loaded machine needs more than the default minute
});

/**
 * The batched DeepMind Lab bridge (one bridge hosting E levels, stepped by one message) against the fake
 * `deepmind_lab`, and the attacks on it: a bad reply for one level of a batch, a level that raises, a
 * bridge that dies mid-batch or hangs in a map compile, episodes ending in one level while the others go on, and determinism
 * against bridges of one level each.
 */
import { mkdtempSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Reply } from 'zeromq';
import { createAgent } from '../../../agents/agent.js';
import { fakeDmlabPath, makeDmlabEnv, makeDmlabVectorEnv, type DmlabOptions } from '../../../envs/dmlab/index.js';
import type { VectorEnv } from '../../../envs/types.js';
import { vectorStepBuffers } from '../../../envs/vector.js';
import { Actor } from '../../../src/actor.js';
import { decode, encode, toWire } from '../../../src/transport/codec.js';
import { EnvProtocolError, EnvRemoteError, RemoteVectorEnv } from '../../../src/transport/envClient.js';
import { EnvCompileTimeoutError, EnvServerExitedError } from '../../../src/transport/envProcess.js';
import { privateEndpoint } from '../../../src/transport/endpoint.js';
import type { Message } from '../../../src/transport/messages.js';
import { batchStepReply } from '../../src/transport/fixtures.js';

const dir = mkdtempSync(join(tmpdir(), 'cpc-dmlab-batch-'));
const base: DmlabOptions = { python: '/usr/bin/python3', dmlabPath: fakeDmlabPath(), levelCacheDir: join(dir, 'cache'), timeoutMs: 10_000, startupTimeoutMs: 20_000, width: 24, height: 24 };
const open: { close(): Promise<void> }[] = [];
const track = <T extends { close(): Promise<void> }>(e: T): T => {
  open.push(e);
  return e;
};
beforeAll(async () => {
  await tf.setBackend('cpu');
});
afterAll(async () => {
  await Promise.all(open.map((e) => e.close()));
  rmSync(dir, { recursive: true, force: true });
});

const OBS = 24 * 24 * 3;
/** The fake writes the last 7-int action + 128 into the red values of row 0's first pixels. */
const lastAction = (obs: Uint8Array): number[] => Array.from({ length: 7 }, (_, x) => obs[x * 3]! - 128);
const actionAt = (i: number, t: number) => (3 * i + t) % 9;

describe('one bridge hosting E levels', () => {
  it('plays, step by step, exactly what E bridges of one level play under the same seeds and actions', async () => {
    const E = 3;
    const seeds = [11, 12, 13];
    const vector = track(await makeDmlabVectorEnv('tests/fake_seeded_length', E, base));
    const singles = await Promise.all(seeds.map(() => makeDmlabEnv('tests/fake_seeded_length', base).then(track)));
    expect(vector.size).toBe(E);
    expect(vector.spec).toEqual(singles[0]!.spec);
    const out = vectorStepBuffers(vector.spec, E);
    await vector.reset(seeds, out.obs);
    const firsts = await Promise.all(singles.map((s, i) => s.reset(seeds[i]!)));
    firsts.forEach((o, i) => expect(out.obs.subarray(i * OBS, (i + 1) * OBS)).toEqual(o));
    const actions = new Int32Array(E);
    let ends = 0;
    for (let t = 0; t < 30; t++) {
      for (let i = 0; i < E; i++) actions[i] = actionAt(i, t);
      await vector.step(actions, 4, out);
      const results = await Promise.all(singles.map((s, i) => s.step(actions[i]!, 4)));
      results.forEach((r, i) => {
        expect(out.obs.subarray(i * OBS, (i + 1) * OBS)).toEqual(r.obs);
        expect([out.rewards[i], out.dones[i], out.episodeReturns[i], out.episodeLengths[i]]).toEqual([r.reward, r.done ? 1 : 0, r.episodeReturn ?? 0, r.episodeLength ?? 0]);
        if (r.done) ends++;
      });
    }
    expect(ends).toBeGreaterThan(5);
  });

  it('ends an episode in one level while the others go on, with that episode’s return and length', async () => {
    const E = 4;
    const vector = track(await makeDmlabVectorEnv('tests/fake_seeded_length', E, base));
    const out = vectorStepBuffers(vector.spec, E);
    await vector.reset([1, 2, 3, 4], out.obs);
    const sum = new Float64Array(E);
    const length = new Int32Array(E);
    const actions = new Int32Array(E); // all forward: the fake pays +1 a frame
    let partial = 0;
    for (let t = 0; t < 40; t++) {
      await vector.step(actions, 4, out);
      const ended = Array.from(out.dones).filter(Boolean).length;
      if (ended > 0 && ended < E) partial++;
      for (let i = 0; i < E; i++) {
        sum[i]! += out.rewards[i]!;
        length[i]!++;
        const row = out.obs.subarray(i * OBS, (i + 1) * OBS);
        if (out.dones[i]) {
          expect([out.episodeReturns[i], out.episodeLengths[i]]).toEqual([sum[i], length[i]]);
          expect(lastAction(row)).toEqual([0, 0, 0, 0, 0, 0, 0]); // the next episode's first frame
          sum[i] = 0;
          length[i] = 0;
        } else {
          expect([out.episodeReturns[i], out.episodeLengths[i]]).toEqual([0, 0]);
          expect(lastAction(row)).toEqual([0, 0, 0, 1, 0, 0, 0]);
        }
      }
    }
    expect(partial).toBeGreaterThan(5);
  });

  it('names the level that raised inside a batch, and keeps serving', async () => {
    const vector = track(await makeDmlabVectorEnv('tests/fake_error_in_step', 2, base));
    const out = vectorStepBuffers(vector.spec, 2);
    await vector.reset([1, 2], out.obs);
    const actions = new Int32Array(2);
    await vector.step(actions, 4, out);
    await vector.step(actions, 4, out);
    const err = await vector.step(actions, 4, out).catch((x: unknown) => x);
    expect(err).toBeInstanceOf(EnvRemoteError);
    expect(err).toMatchObject({ code: 'env_error', env: 0 });
    expect((err as Error).message).toMatch(/environment 0.*level 0 of 2: ValueError: Failed to advance environment/);
    await vector.reset([3, 4], out.obs); // still serving
  });

  it('rejects a reply whose row for one level is inconsistent, or that has the wrong number of levels, writes nothing, and takes the next good reply', async () => {
    const endpoint = privateEndpoint('fake-bridge');
    const server = new Reply({ linger: 0 });
    await server.bind(endpoint);
    const bad = batchStepReply();
    bad.episodeLengths = toWire(new Int32Array([0, 40, 0]), [3]);
    bad.dones = toWire(new Uint8Array([0, 1, 1]), [3]); // level 2 ended, without a length
    const two: Message = {
      type: 'env.batch.step.reply',
      obs: toWire(new Uint8Array(2 * 4 * 5 * 3), [2, 4, 5, 3]),
      rewards: toWire(new Float64Array(2), [2]),
      dones: toWire(new Uint8Array(2), [2]),
      episodeReturns: toWire(new Float64Array(2), [2]),
      episodeLengths: toWire(new Int32Array(2), [2]),
    };
    const replies: Message[] = [{ type: 'env.spec.reply', spec: { observationShape: [4, 5, 3], numActions: 9, level: 'fake' }, size: 3 }, bad, two, batchStepReply()];
    const serving = (async () => {
      for (const reply of replies) {
        const [frame] = await server.receive();
        expect(decode(frame!).ok).toBe(true);
        await server.send(encode(reply));
      }
    })();
    const vector = await RemoteVectorEnv.connect(endpoint, { timeoutMs: 5000 });
    const out = vectorStepBuffers(vector.spec, 3);
    const err = await vector.step(new Int32Array(3), 4, out).catch((x: unknown) => x);
    expect(err).toBeInstanceOf(EnvProtocolError);
    expect((err as Error).message).toMatch(/\[schema\].*environment 2: done with episodeLength 0/);
    expect(out.obs.every((v) => v === 0) && out.dones.every((v) => v === 0)).toBe(true);
    // a well-formed reply for 2 environments from a server that said it hosts 3
    expect(await vector.step(new Int32Array(3), 4, out).catch((x: unknown) => x)).toMatchObject({ name: 'EnvProtocolError', message: expect.stringMatching(/observation shape \[2,4,5,3\] differs from \[3,4,5,3\]/) });
    expect(out.obs.every((v) => v === 0)).toBe(true);
    await vector.step(new Int32Array(3), 4, out);
    expect([...out.dones]).toEqual([0, 1, 0]);
    expect([...out.episodeLengths]).toEqual([0, 40, 0]);
    await serving;
    server.close();
  });
});

describe('an actor driving bridges of several levels', () => {
  it('goes on when a bridge dies mid-batch: its levels restart in a new bridge as episode starts, the other bridge keeps its episodes', async () => {
    // the fake's abort level kills its process in its first level's third step: the second level is not stepped
    const failing = track(await makeDmlabVectorEnv('tests/fake_abort_in_step', 2, base));
    const healthy = track(await makeDmlabVectorEnv('rooms_watermaze', 1, base));
    const agent = createAgent({ kind: 'baseline', obsShape: [24, 24, 3], numActions: 9, seed: 1, network: { conv1Filters: 2, conv2Filters: 3, latentSize: 5, lstmSize: 4 } });
    const failures: [number, Error][] = [];
    const actor = new Actor([failing, healthy], agent, {
      unrollLength: 5,
      actionRepeat: 4,
      seed: 7,
      replaceEnv: async (g, error): Promise<VectorEnv> => {
        failures.push([g, error]);
        return track(await makeDmlabVectorEnv('rooms_watermaze', 2, base));
      },
    });
    try {
      await actor.start();
      const { unroll, episodes } = await actor.collect();
      expect(failures).toHaveLength(1);
      expect(failures[0]![0]).toBe(0);
      expect(failures[0]![1]).toBeInstanceOf(EnvServerExitedError);
      expect((failures[0]![1] as EnvServerExitedError).exitCode).toBe(134);
      expect(failing.server.child.exitCode).toBe(134);
      const firsts = (t: number) => Array.from(unroll.firsts.subarray(t * 3, (t + 1) * 3));
      expect([0, 1, 2, 3, 4, 5].map(firsts)).toEqual([[1, 1, 1], [0, 0, 0], [0, 0, 0], [1, 1, 0], [0, 0, 0], [0, 0, 0]]);
      expect(Array.from(unroll.prevRewards.subarray(9, 11))).toEqual([0, 0]);
      for (const i of [0, 1]) expect(lastAction(unroll.observations.subarray((3 * 3 + i) * OBS, (3 * 3 + i + 1) * OBS))).toEqual([0, 0, 0, 0, 0, 0, 0]);
      expect(episodes).toEqual([]); // a replaced level's interrupted episode has no stats
      await actor.collect(); // and the next unroll plays on
      expect(failures).toHaveLength(1);
    } finally {
      actor.dispose();
      agent.dispose();
    }
  });

  it('goes on when a map compile hangs past the bound: the bridge is killed and replaced as a dead one', async () => {
    // compiles pass the gate while it is open (the first reset), then hang at the episode end after 2 steps
    const gate = mkdtempSync(join(dir, 'gate-'));
    writeFileSync(join(gate, 'release'), '');
    process.env.CPC_LAB_FAKE_COMPILE_GATE = gate;
    const hanging = track(await makeDmlabVectorEnv('explore_goal_locations_small', 1, { ...base, episodeLength: 2, compileTimeoutMs: 1000 }).finally(() => delete process.env.CPC_LAB_FAKE_COMPILE_GATE));
    const agent = createAgent({ kind: 'baseline', obsShape: [24, 24, 3], numActions: 9, seed: 1, network: { conv1Filters: 2, conv2Filters: 3, latentSize: 5, lstmSize: 4 } });
    const failures: Error[] = [];
    const actor = new Actor([hanging], agent, {
      unrollLength: 5,
      actionRepeat: 4,
      seed: 7,
      replaceEnv: async (_, error): Promise<VectorEnv> => {
        failures.push(error);
        return track(await makeDmlabVectorEnv('rooms_watermaze', 1, base));
      },
    });
    try {
      await actor.start();
      unlinkSync(join(gate, 'release'));
      await actor.collect();
      expect(failures).toHaveLength(1);
      expect(failures[0]).toBeInstanceOf(EnvCompileTimeoutError);
      expect(failures[0]).toBeInstanceOf(EnvServerExitedError);
      expect(failures[0]!.message).toMatch(/dmlab:explore_goal_locations_small.*map compile .* took longer than 1 s/);
      expect(hanging.server.child.signalCode).toBe('SIGKILL');
      await actor.collect();
      expect(failures).toHaveLength(1);
    } finally {
      writeFileSync(join(gate, 'release'), '');
      actor.dispose();
      agent.dispose();
    }
  });
});

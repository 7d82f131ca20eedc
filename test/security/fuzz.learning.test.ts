import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as zmq from 'zeromq';
import { describe, expect, it } from 'vitest';
import type { Unroll } from '../../agents/agent.js';
import { MOCK_OBS_SHAPE } from '../../envs/mock/index.js';
import { loadLatestCheckpoint } from '../../src/checkpoint.js';
import { resolveConfig } from '../../src/config.js';
import { runLearner } from '../../src/runtime/learnerProcess.js';
import type { RejectReason } from '../../src/runtime/rejections.js';
import { readRunToken, runTokenFile } from '../../src/runtime/runToken.js';
import type { UnrollShape } from '../../src/runtime/wire.js';
import { Rng } from '../../src/rng.js';
import { decode, encode } from '../../src/transport/codec.js';
import type { Message } from '../../src/transport/messages.js';
import { unrollMessage, validUnroll } from './helpers.js';

/**
 * Issue 10's fuzz: 10,000 bad messages, malformed and well-formed-but-bad, sent to a real learner
 * (in this process, over a real socket) by a peer that said a valid hello and by a stranger. The
 * learner must not crash, must count every one under its reason in the metrics, and its parameters
 * must be exactly the initial ones until the one valid unroll arrives.
 */
const N = 10_000;
const SHAPE: UnrollShape = { T: 5, obsShape: MOCK_OBS_SHAPE, numActions: 9, lstmSize: 256 };

type Case = { reason: RejectReason; make: (seq: () => number) => Uint8Array | Message; stranger?: boolean };

function cases(rng: Rng): Case[] {
  const u = validUnroll(2, SHAPE);
  const msg = (v: Unroll, meta: Parameters<typeof unrollMessage>[1] = {}) => unrollMessage(v, { actorId: 'fuzzer', episodes: [], ...meta }, SHAPE);
  const valid = encode(msg(u));
  const corrupt = <K extends 'prevRewards' | 'behaviourLogits' | 'firsts' | 'actions'>(key: K, value: (i: number) => number) => {
    const c = structuredClone(u);
    const a = c[key];
    a[rng.int(a.length)] = value(rng.int(1000));
    return c;
  };
  return [
    { reason: 'malformed', make: () => Uint8Array.from({ length: 1 + rng.int(300) }, () => rng.int(256)) },
    { reason: 'malformed', make: () => valid.subarray(0, rng.int(valid.length)) },
    { reason: 'malformed', make: () => Uint8Array.from([...valid, rng.int(256)]) },
    { reason: 'malformed', make: (seq) => ({ ...msg(u, { seq: seq() }), prevRewards: { dtype: 'float64', shape: [6, 2], data: new Uint8Array(96) } }) as unknown as Message },
    { reason: 'non_finite', make: (seq) => msg(corrupt('prevRewards', () => Number.NaN), { seq: seq() }) },
    { reason: 'non_finite', make: (seq) => msg(corrupt('behaviourLogits', (i) => (i % 2 ? Infinity : -Infinity)), { seq: seq() }) },
    { reason: 'non_finite', make: (seq) => msg({ ...u, initialState: { h: u.initialState.h, c: u.initialState.c.map((x, i) => (i === 7 ? Number.NaN : x)) } }, { seq: seq() }) },
    { reason: 'bad_flag', make: (seq) => msg(corrupt('firsts', (i) => 2 + (i % 254)), { seq: seq() }) },
    { reason: 'bad_action', make: (seq) => msg(corrupt('actions', (i) => 9 + i), { seq: seq() }) },
    // (more columns than the batch exceed the socket's size bound: ZeroMQ cuts such a peer off before decoding)
    { reason: 'bad_columns', make: (seq) => msg(validUnroll(1, SHAPE), { seq: seq() }) },
    { reason: 'bad_shape', make: (seq) => msg(validUnroll(2, { ...SHAPE, T: 6 }), { seq: seq() }) },
    { reason: 'bad_shape', make: (seq) => msg(validUnroll(2, { ...SHAPE, lstmSize: 8 }), { seq: seq() }) },
    { reason: 'bad_episode', make: (seq) => msg(u, { seq: seq(), episodes: [{ env: 0, episodeReturn: 1e300, episodeLength: 2 ** 31 }] }) },
    { reason: 'bad_episode', make: (seq) => msg(u, { seq: seq(), episodes: Array.from({ length: 50 }, () => ({ env: 1, episodeReturn: 1, episodeLength: 3 })) }) },
    { reason: 'future_version', make: (seq) => msg(u, { seq: seq(), paramsVersion: 2 ** 50 }) },
    { reason: 'duplicate_seq', make: () => msg(u, { seq: 0 }) },
    { reason: 'unexpected_message', make: () => ({ type: 'params', version: 0, tensors: [] }) },
    { reason: 'unexpected_message', make: () => ({ type: 'env.step', action: 0, repeat: 4 }) },
    { reason: 'bad_hello', make: () => ({ type: 'hello', role: 'actor', id: 'fuzzer', pid: 1, token: 'f'.repeat(48), columns: 2 }) },
    { reason: 'not_a_peer', stranger: true, make: (seq) => msg(u, { seq: seq() }) },
    { reason: 'not_a_peer', stranger: true, make: () => ({ type: 'heartbeat', role: 'actor', id: 'stranger', seq: 1, sentAt: 0 }) },
  ];
}

async function nextParams(sock: zmq.Dealer): Promise<Extract<Message, { type: 'params' }>> {
  const [frame] = await sock.receive();
  const r = decode(frame!);
  if (!r.ok || r.msg.type !== 'params') throw new Error(`expected params, got ${r.ok ? r.msg.type : r.error.message}`);
  return r.msg;
}

describe('fuzz: 10,000 bad messages to a learner', () => {
  it('no crash, every message counted under its reason, parameters untouched until a valid unroll', async () => {
    const runDir = fs.mkdtempSync(path.join(os.tmpdir(), 'cpc-lab-fuzz-'));
    const config = resolveConfig({ env: 'mock:memory', agent: 'baseline', batch: 2, unroll: 5, actors: 1, mode: 'async', frames: 40, backend: 'cpu', runDir, checkpointEvery: 3600, heartbeatTimeout: 3600 });
    const logs: string[] = [];
    let listening!: (endpoint: string) => void;
    const endpoint = new Promise<string>((r) => (listening = r));
    const stop = new AbortController();
    const learner = runLearner(config, {
      signal: stop.signal,
      log: (l) => {
        logs.push(l);
        const m = /listening on (\S+)/.exec(l);
        if (m) listening(m[1]!);
      },
    });
    const where = await endpoint;
    const token = readRunToken(runTokenFile(runDir));
    const hello = (id: string) => encode({ type: 'hello', role: 'actor', id, pid: 1, token, columns: 2 });
    const fuzzer = new zmq.Dealer({ routingId: 'fuzzer' });
    const stranger = new zmq.Dealer({ routingId: 'stranger' });
    fuzzer.connect(where);
    stranger.connect(where);
    await fuzzer.send(hello('fuzzer'));
    const initial = await nextParams(fuzzer);
    expect(initial.version).toBe(0);

    const rng = new Rng(10);
    const all = cases(rng);
    let seq = 1;
    const expected: Partial<Record<RejectReason, number>> = {};
    for (let i = 0; i < N; i++) {
      const c = all[i % all.length];
      const m = c!.make(() => seq++);
      await (c!.stranger ? stranger : fuzzer).send(m instanceof Uint8Array ? m : encode(m));
      expected[c!.reason] = (expected[c!.reason] ?? 0) + 1;
    }
    // a hello answered means everything sent before it on that socket was read
    await stranger.send(hello('stranger'));
    await nextParams(stranger);
    await fuzzer.send(hello('fuzzer'));
    const after = await nextParams(fuzzer);
    expect(after.version).toBe(0);
    expect(after.tensors).toEqual(initial.tensors);

    // one valid unroll completes the run's only batch
    await fuzzer.send(encode(unrollMessage(validUnroll(2, SHAPE), { actorId: 'fuzzer', seq: seq++, episodes: [] }, SHAPE)));
    await learner;
    fuzzer.close();
    stranger.close();

    const records = fs.readFileSync(path.join(runDir, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    const updates = records.filter((r) => r.kind === 'update');
    expect(updates).toHaveLength(1);
    expect(updates[0].dropped).toEqual(expected);
    expect(Object.values(expected).reduce((a, b) => a + b, 0)).toBe(N);
    expect(Number.isFinite(updates[0].loss)).toBe(true);
    expect(records.filter((r) => r.kind === 'episode')).toHaveLength(0); // no fake episode got through
    const ckpt = loadLatestCheckpoint(runDir)!;
    expect(ckpt.updates).toBe(1);
    for (const w of Object.values(ckpt.params)) expect(w.every(Number.isFinite)).toBe(true);
    expect(logs.some((l) => /dropped a message from fuzzer: non_finite/.test(l))).toBe(true);
  });
});

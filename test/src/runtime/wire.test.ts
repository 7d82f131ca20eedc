import * as tf from '@tensorflow/tfjs';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Unroll } from '../../../agents/agent.js';
import { MOCK_OBS_SHAPE } from '../../../envs/mock/index.js';
import { loadLatestCheckpoint } from '../../../src/checkpoint.js';
import { resolveConfig } from '../../../src/config.js';
import { Learner } from '../../../src/learner.js';
import { decode, encode } from '../../../src/transport/codec.js';
import { concatUnrolls, unrollFromMessage, unrollToMessage } from '../../../src/runtime/wire.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

/** An unroll whose every entry encodes (array, t, b), so misplaced data is visible. */
function tagged(T: number, B: number, tag: number): Unroll {
  const obs = MOCK_OBS_SHAPE[0] * MOCK_OBS_SHAPE[1] * MOCK_OBS_SHAPE[2];
  const per = (S: number, inner: number, f: (t: number, b: number) => number) =>
    Array.from({ length: S * B * inner }, (_, i) => f(Math.floor(i / (B * inner)), Math.floor(i / inner) % B));
  return {
    T,
    B,
    observations: Uint8Array.from(per(T + 1, obs, (t, b) => tag * 50 + t * 4 + b)),
    prevActions: Int32Array.from(per(T + 1, 1, (t, b) => (tag + 2 * t + b) % 9)),
    prevRewards: Float32Array.from(per(T + 1, 1, (t, b) => tag + t / 10 + b / 100)),
    firsts: Uint8Array.from(per(T + 1, 1, (t, b) => (t + b + tag) % 2)),
    actions: Int32Array.from(per(T, 1, (t, b) => (tag + 3 * t + b + 1) % 9)),
    behaviourLogits: Float32Array.from(per(T, 9, (t, b) => tag * 100 + t + b / 10)),
    initialState: { h: Float32Array.from(per(1, 3, (_, b) => tag * 10 + b)), c: Float32Array.from(per(1, 3, (_, b) => -tag * 10 - b)) },
  };
}

describe('runtime wire', () => {
  it('unrolls survive the wire exactly, and misfit ones are refused with the reason', () => {
    const u = tagged(5, 2, 1);
    const msg = unrollToMessage(u, MOCK_OBS_SHAPE, { actorId: 'a.1', seq: 3, paramsVersion: 7, episodes: [{ env: 1, episodeReturn: 2, episodeLength: 6 }] });
    const r = decode(encode(msg));
    expect(r.ok).toBe(true);
    if (!r.ok || r.msg.type !== 'unroll') return;
    const back = unrollFromMessage(r.msg, { T: 5, obsShape: MOCK_OBS_SHAPE, numActions: 9, lstmSize: 3 });
    expect(back.ok && back.unroll).toEqual(u);
    expect(unrollFromMessage(r.msg, { T: 100, obsShape: MOCK_OBS_SHAPE, numActions: 9, lstmSize: 3 })).toEqual({ ok: false, reason: 'bad_shape', detail: 'unroll of 5 steps, the learner trains on T = 100' });
    expect(unrollFromMessage(r.msg, { T: 5, obsShape: [72, 96, 3], numActions: 9, lstmSize: 3 })).toMatchObject({ ok: false, reason: 'bad_shape', detail: expect.stringMatching(/observations of 24x24x3/) });
    // action indices outside [0, A) would index past a one-hot row
    const bad = unrollToMessage({ ...u, actions: u.actions.map((a, i) => (i === 3 ? 9 : a)) }, MOCK_OBS_SHAPE, { actorId: 'a.1', seq: 4, paramsVersion: 7, episodes: [] });
    expect(unrollFromMessage(bad, { T: 5, obsShape: MOCK_OBS_SHAPE, numActions: 9, lstmSize: 3 })).toEqual({ ok: false, reason: 'bad_action', detail: 'actions[3] = 9 outside [0, 9)' });
  });

  it('concatenates unrolls along the batch axis, step by step', () => {
    const [a, b] = [tagged(4, 2, 1), tagged(4, 3, 2)];
    const c = concatUnrolls([a, b]);
    expect(c.B).toBe(5);
    for (let t = 0; t <= 4; t++) {
      for (let col = 0; col < 5; col++) {
        const [src, sb] = col < 2 ? [a, col] : [b, col - 2];
        expect(c.prevActions[t * 5 + col]).toBe(src.prevActions[t * src.B + sb]);
        expect(c.observations[(t * 5 + col) * 1728 + 100]).toBe(src.observations[(t * src.B + sb) * 1728 + 100]);
        if (t < 4) expect(c.behaviourLogits[(t * 5 + col) * 9 + 8]).toBe(src.behaviourLogits[(t * src.B + sb) * 9 + 8]);
      }
    }
    expect(Array.from(c.initialState.h)).toEqual([...a.initialState.h, ...b.initialState.h]);
  });

  it("a resumed learner's parameters, optimizer state and frames equal the checkpoint's", async () => {
    const runDir = fs.mkdtempSync(path.join(os.tmpdir(), 'cpc-lab-learner-'));
    const config = resolveConfig({ env: 'mock:memory', batch: 2, unroll: 10, cpcSteps: 3, backend: 'cpu', runDir });
    const spec = { observationShape: MOCK_OBS_SHAPE, numActions: 9, level: 'mock:memory' };
    const first = new Learner(config, runDir, spec, () => {});
    const L = first.agent.spec.lstmSize;
    const u = tagged(10, 2, 0);
    const batch: Unroll = { ...u, initialState: { h: new Float32Array(2 * L), c: new Float32Array(2 * L) } };
    await first.update(batch, [], { policyLag: 0 }); // moves parameters and ms
    await first.checkpoint({ actor: [1, 2, 3, 4] });
    const params = await first.agent.getWeights();
    const optimizer = await first.optimizer.getState();
    first.close();
    const resumed = new Learner(config, runDir, spec, () => {}, loadLatestCheckpoint(runDir)!);
    expect(resumed.frames).toBe(2 * 10 * 4);
    expect(resumed.version).toBe(1);
    expect(await resumed.agent.getWeights()).toEqual(params);
    expect(await resumed.optimizer.getState()).toEqual(optimizer);
    resumed.close();
  });
});

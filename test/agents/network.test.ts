import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { coreExtras, forward, initNetworkParams, type NetworkSpec } from '../../agents/network.js';
import { Rng } from '../../src/rng.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

const SPEC: NetworkSpec = { obsShape: [20, 20, 1], numActions: 3, conv1Filters: 2, conv2Filters: 2, latentSize: 3, lstmSize: 4 };

describe('the core input at an episode start (as scalable_agent)', () => {
  it('coreExtras is onehot(previous action) and the previous reward clipped to [-1, 1]', () => {
    expect(Array.from(coreExtras(Int32Array.from([2, 0]), Float32Array.from([-4, 0.5]), 3))).toEqual([0, 0, 1, -1, 1, 0, 0, 0.5]);
  });

  it("at a first step the LSTM sees the ended episode's action and reward; only its state is reset", async () => {
    const params = initNetworkParams(SPEC, new Rng(3));
    const rng = new Rng(4);
    const observations = Uint8Array.from({ length: 400 }, () => rng.int(256));
    const core = (prevAction: number, prevReward: number, h: number[]) =>
      tf.tidy(() => {
        const inputs = { observations, prevActions: Int32Array.from([prevAction]), prevRewards: Float32Array.from([prevReward]), firsts: Uint8Array.from([1]) };
        return Array.from(forward(SPEC, params, inputs, 1, 1, { h: tf.tensor2d([h]), c: tf.tensor2d([h]) }).c.dataSync());
      });
    const zeros = [0, 0, 0, 0];
    const base = core(1, 0.5, zeros);
    // the state before the first step does not matter: it is reset
    expect(core(1, 0.5, [3, -2, 1, 5])).toEqual(base);
    // the ended episode's last reward (clipped) and action do
    const maxDiff = (a: number[]) => Math.max(...a.map((x, i) => Math.abs(x - base[i])));
    expect(maxDiff(core(1, -0.5, zeros))).toBeGreaterThan(1e-4);
    expect(maxDiff(core(2, 0.5, zeros))).toBeGreaterThan(1e-4);
    expect(core(1, 7, zeros)).toEqual(core(1, 1, zeros));
    for (const v of Object.values(params)) v.dispose();
  });
});

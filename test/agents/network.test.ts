import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { createAgent } from '../../agents/agent.js';
import { coreExtras, coreSequence, encode, encoderOutputSize, forward, initNetworkParams, type NetworkSpec } from '../../agents/network.js';
import { initBackend, profileKernels } from '../../src/backend/index.js';
import { Rng } from '../../src/rng.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

const rms = (w: ArrayLike<number>) => Math.sqrt(Array.from(w).reduce((a, x) => a + x * x, 0) / w.length);
const maxAbs = (w: ArrayLike<number>) => Array.from(w).reduce((a, x) => Math.max(a, Math.abs(x)), 0);

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
    const maxDiff = (a: number[]) => Math.max(...a.map((x, i) => Math.abs(x - base[i]!)));
    expect(maxDiff(core(1, -0.5, zeros))).toBeGreaterThan(1e-4);
    expect(maxDiff(core(2, 0.5, zeros))).toBeGreaterThan(1e-4);
    expect(core(1, 7, zeros)).toEqual(core(1, 1, zeros));
    for (const v of Object.values(params)) v.dispose();
  });
});

describe('the encoder\'s input buffer', () => {
  // wasm reuses one buffer for the scaled frames (it copies them); cpu keeps the array as the tensor's
  // values, and the tape holds conv1's input for the filter gradient: a reused buffer there would be
  // overwritten by a later encode before the backward pass reads it
  it.each(['cpu', 'wasm'])('on %s a later encode does not change the gradient of an earlier one', async (backend) => {
    if (backend === 'wasm') await initBackend('wasm');
    else await tf.setBackend('cpu');
    try {
      const params = initNetworkParams(SPEC, new Rng(5));
      const rng = new Rng(6);
      const a = Uint8Array.from({ length: 2 * 400 }, () => rng.int(256));
      const b = Uint8Array.from({ length: 2 * 400 }, () => rng.int(256));
      const filterGrad = (others: Uint8Array[]) =>
        tf.tidy(() => {
          const w = params['encoder/conv1/w'] as tf.Variable;
          const { grads } = tf.variableGrads(() => {
            const z = encode(params, a, 2, SPEC.obsShape);
            for (const o of others) encode(params, o, 2, SPEC.obsShape);
            return z.square().sum() as tf.Scalar;
          }, [w]);
          return Array.from(grads[w.name]!.dataSync());
        });
      const alone = filterGrad([]);
      expect(alone.some((g) => g !== 0)).toBe(true);
      expect(filterGrad([b])).toEqual(alone);
      for (const v of Object.values(params)) v.dispose();
    } finally {
      await tf.setBackend('cpu');
    }
  });
});

describe('network parameters and shapes', () => {
  it('initialises weights as truncated normals of std 1/sqrt(fan in) (cut at 2 std), biases at 0, the same for a seed', async () => {
    const spec: NetworkSpec = { obsShape: [72, 96, 3], numActions: 9, conv1Filters: 16, conv2Filters: 32, latentSize: 256, lstmSize: 256 };
    const params = initNetworkParams(spec, new Rng(1));
    const fanIn: Record<string, number> = { 'encoder/conv1/w': 8 * 8 * 3, 'encoder/conv2/w': 4 * 4 * 16, 'encoder/fc/w': 7 * 10 * 32, 'core/wx': 256 + 10 + 256, 'core/wh': 256 + 10 + 256, 'policy/w': 256, 'value/w': 256 };
    for (const [name, n] of Object.entries(fanIn)) {
      const w = await params[name]!.data();
      const std = 1 / Math.sqrt(n);
      expect(maxAbs(w), name).toBeLessThanOrEqual(2 * std * (1 + 1e-6));
      // a normal truncated at 2 std has std 0.8796 of the untruncated one
      expect(rms(w) / std, name).toBeCloseTo(0.8796, 1);
    }
    expect(params['core/wx']!.shape).toEqual([256 + 9 + 1, 4 * 256]);
    expect(params['encoder/fc/w']!.shape).toEqual([7 * 10 * 32, 256]);
    for (const b of ['encoder/conv1/b', 'core/b', 'value/b']) expect(Array.from(await params[b]!.data()).every((x) => x === 0)).toBe(true);
    const again = initNetworkParams(spec, new Rng(1));
    expect(Array.from(await again['core/wh']!.data())).toEqual(Array.from(await params['core/wh']!.data()));
    for (const v of [...Object.values(params), ...Object.values(again)]) v.dispose();
  });

  it('gives specific errors for small observations and wrong byte counts', () => {
    expect(encoderOutputSize([72, 96, 3])).toEqual([7, 10]);
    expect(encoderOutputSize([20, 20, 1])).toEqual([1, 1]);
    expect(() => encoderOutputSize([19, 40, 3])).toThrow(/19x40 are too small for the encoder \(at least 20x20\)/);
    expect(() => encoderOutputSize([40, 19, 3])).toThrow(/too small/);
    const params = initNetworkParams(SPEC, new Rng(1));
    expect(() => encode(params, new Uint8Array(399), 1, SPEC.obsShape)).toThrow(/expected 1x20x20x1 = 400 bytes, got 399/);
    expect(() => encode(params, new Uint8Array(5), 2, [20, 20, 3])).toThrow(/expected 2x20x20x3 = 2400 bytes, got 5/);
    const { 'encoder/fc/b': _, ...lacking } = params;
    const before = tf.memory().numTensors;
    expect(() => encode(lacking, new Uint8Array(400), 1, SPEC.obsShape)).toThrow(/network parameter 'encoder\/fc\/b' is missing \(have encoder\/conv1\/w, /);
    expect(tf.memory().numTensors).toBe(before);
    expect(() => coreExtras(Int32Array.from([0, 1]), Float32Array.from([0]), 3)).toThrow(/coreExtras: 2 previous actions but 1 previous rewards/);
    for (const v of Object.values(params)) v.dispose();
  });

  it('the agent: zero initial state, one CPC map per step ahead, weights round-trip and are checked', async () => {
    const agent = createAgent({ kind: 'cpc', obsShape: SPEC.obsShape, numActions: 3, seed: 2, cpcSteps: 4, network: SPEC });
    const s = agent.initialState(2);
    expect(s.h.shape).toEqual([2, 4]);
    expect(s.c.shape).toEqual([2, 4]);
    expect(Array.from(await s.c.data()).every((x) => x === 0) && Array.from(await s.h.data()).every((x) => x === 0)).toBe(true);
    expect(agent.params['cpc/W']!.shape).toEqual([4, 4, 3]);
    const W = await agent.params['cpc/W']!.data();
    expect(rms(W)).toBeGreaterThan(0.3); // std 1/sqrt(L) = 0.5
    expect(rms(W)).toBeLessThan(0.75);
    const baseline = createAgent({ kind: 'baseline', obsShape: SPEC.obsShape, numActions: 3, seed: 2, network: SPEC });
    expect(baseline.params['cpc/W']).toBeUndefined();
    baseline.dispose();
    const paperK = createAgent({ kind: 'cpc', obsShape: SPEC.obsShape, numActions: 3, seed: 2, network: SPEC });
    expect(paperK.params['cpc/W']!.shape).toEqual([30, 4, 3]); // K = 30 unless told
    paperK.dispose();
    const weights = await agent.getWeights();
    weights['value/b'] = Float32Array.from([1.5]);
    agent.setWeights(weights);
    expect(Array.from(await agent.params['value/b']!.data())).toEqual([1.5]);
    const { 'core/b': _, ...missing } = weights;
    expect(() => agent.setWeights(missing)).toThrow(/missing 'core\/b'/);
    expect(() => agent.setWeights({ ...weights, 'policy/b': new Float32Array(2) })).toThrow(/'policy\/b' has 2 values, expected 3/);
    // one actor step: logits [N, A], values [N], a new state
    const rng = new Rng(3);
    const inputs = { observations: Uint8Array.from({ length: 800 }, () => rng.int(256)), prevActions: Int32Array.from([0, 2]), prevRewards: Float32Array.from([0, 1]), firsts: Uint8Array.from([1, 0]) };
    const before = tf.memory().numTensors;
    const out = await agent.step(inputs, 2, s);
    expect(tf.memory().numTensors).toBe(before + 2); // the new state only
    expect(out.logits).toHaveLength(6);
    expect(out.values).toHaveLength(2);
    expect(out.state.h.shape).toEqual([2, 4]);
    const held = tf.memory().numTensors;
    agent.dispose();
    expect(tf.memory().numTensors).toBe(held - Object.keys(agent.params).length);
  });
});

/** The LSTM as it was taped step by step (TF's BasicLSTMCell, forget bias 1): the oracle for coreSequence's written-out gradient. */
function tapedLstm(wh: tf.Tensor2D, xw: tf.Tensor3D, keep: tf.Tensor3D, h0: tf.Tensor2D, c0: tf.Tensor2D): tf.Tensor3D {
  const xs = tf.unstack(xw) as tf.Tensor2D[];
  const ks = tf.unstack(keep) as tf.Tensor2D[];
  let h = h0;
  let c = c0;
  const outs: tf.Tensor[] = [];
  xs.forEach((x, t) => {
    const [i, j, f, o] = tf.split(x.add(h.mul(ks[t]!).matMul(wh)), 4, 1);
    c = tf.sigmoid(f!.add(1)).mul(c.mul(ks[t]!)).add(tf.sigmoid(i!).mul(tf.tanh(j!))) as tf.Tensor2D;
    h = tf.tanh(c).mul(tf.sigmoid(o!)) as tf.Tensor2D;
    outs.push(h);
  });
  return tf.stack([...outs, c]) as tf.Tensor3D;
}

describe('coreSequence: the LSTM with its gradient written out', () => {
  for (const backend of ['cpu', 'wasm'] as const) {
    it(`${backend}: outputs, final state and the gradients of xw, W_h, h0, c0 equal the step-by-step taped LSTM's, through episode resets`, async () => {
      await initBackend(backend);
      const rng = new Rng(7);
      const rand = (shape: number[], std: number) => tf.tensor(Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => rng.normal() * std), shape);
      const [S, N, L] = [6, 3, 5];
      const wh = rand([L, 4 * L], 0.5) as tf.Tensor2D;
      const xw = rand([S, N, 4 * L], 1) as tf.Tensor3D;
      const h0 = rand([N, L], 0.5) as tf.Tensor2D;
      const c0 = rand([N, L], 0.5) as tf.Tensor2D;
      // column 1 starts an episode at step 2, column 2 at steps 0 and 4
      const keepData = new Float32Array(S * N).fill(1);
      for (const [t, n] of [[2, 1], [0, 2], [4, 2]]) keepData[t! * N + n!] = 0;
      const keep = tf.tensor3d(keepData, [S, N, 1]);
      // a loss weighting every output and the final c differently, so no gradient path is left out
      const weights = rand([S + 1, N, L], 1);
      const ours = (x: tf.Tensor3D, w: tf.Tensor2D, h: tf.Tensor2D, c: tf.Tensor2D) => {
        const r = coreSequence({ 'core/wh': w }, x, keep, { h, c });
        return tf.concat([r.outputs, r.state.c.expandDims(0)], 0);
      };
      const before = tf.memory().numTensors;
      // [outputs untaped (the actor's path), the loss taped (the learner's), its gradients]
      const grads = (f: (x: tf.Tensor3D, w: tf.Tensor2D, h: tf.Tensor2D, c: tf.Tensor2D) => tf.Tensor) =>
        tf.tidy(() => {
          const value = f(xw, wh, h0, c0);
          const taped = tf.valueAndGrads((x: tf.Tensor, w: tf.Tensor, h: tf.Tensor, c: tf.Tensor) => tf.sum(f(x as tf.Tensor3D, w as tf.Tensor2D, h as tf.Tensor2D, c as tf.Tensor2D).mul(weights)) as tf.Scalar)([xw, wh, h0, c0]);
          return [value, taped.value, ...taped.grads].map((t) => Array.from(t.dataSync()));
        });
      const got = grads(ours);
      const want = grads((x, w, h, c) => tapedLstm(w, x, keep, h, c));
      expect(tf.memory().numTensors).toBe(before);
      ['outputs', 'loss', 'xw', 'W_h', 'h0', 'c0'].forEach((name, k) => {
        const scale = maxAbs(want[k]!);
        expect(scale, name).toBeGreaterThan(0.05);
        expect(got[k], name).toHaveLength(want[k]!.length);
        expect(maxAbs(got[k]!.map((x, i) => x - want[k]![i]!)) / scale, name).toBeLessThan(1e-5);
      });
      // the state of a column after its reset does not depend on h0, c0: the reset cuts the gradient
      const dh0 = got[4]!;
      for (let l = 0; l < L; l++) expect(Math.abs(dh0[2 * L + l]!)).toBe(0);
      // S = 1 (the actor's step) is the same function
      const one = tf.tidy(() => {
        const r = coreSequence({ 'core/wh': wh }, xw.slice([0], [1]), keep.slice([0], [1]), { h: h0, c: c0 });
        return [r.outputs, r.state.h, r.state.c].map((t) => Array.from(t.dataSync()));
      });
      expect(one[0]).toEqual(one[1]);
      one[0]!.forEach((x, i) => expect(x).toBeCloseTo(want[0]![i]!, 5));
      tf.dispose([wh, xw, h0, c0, keep, weights]);
    });
  }

  it('records few kernels: untaped (the actor) no more than the step-by-step forward, taped (the learner) under half the step-by-step gradient', async () => {
    await initBackend('cpu');
    const [S, N, L] = [10, 3, 5];
    const wh = tf.variable(tf.randomNormal([L, 4 * L], 0, 0.5)) as tf.Variable<tf.Rank.R2>;
    const xw = tf.randomNormal([S, N, 4 * L]) as tf.Tensor3D;
    const keep = tf.ones([S, N, 1]) as tf.Tensor3D;
    const [h, c] = [tf.zeros([N, L]) as tf.Tensor2D, tf.zeros([N, L]) as tf.Tensor2D];
    const calls = async (f: () => tf.Tensor) => (await profileKernels(f)).kernels.reduce((n, k) => n + k.calls, 0);
    const taped = (f: () => tf.Tensor) => () => tf.variableGrads(() => tf.sum(f()) as tf.Scalar, [wh]).value;
    const ours = () => coreSequence({ 'core/wh': wh }, xw, keep, { h, c }).outputs;
    const stepByStep = () => tapedLstm(wh, xw, keep, h, c);
    expect(await calls(ours)).toBeLessThanOrEqual(await calls(stepByStep));
    expect(await calls(taped(ours))).toBeLessThan(0.5 * (await calls(taped(stepByStep))));
    tf.dispose([wh, xw, keep, h, c]);
  });
});

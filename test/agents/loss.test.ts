import * as tf from '@tensorflow/tfjs';
import fs from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { createAgent, trainStep, type LossHyperparameters, type Unroll } from '../../agents/agent.js';
import { actionLogProbs, baselineLoss, entropyLoss, policyGradientLoss } from '../../agents/losses.js';
import { clipReward } from '../../agents/ops.js';
import { rmsprop } from '../../agents/rmsprop.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

/** Cases written by fixtures/loss_reference.py (float64 NumPy, independent of our code). */
interface ReferenceCase {
  name: string;
  kind: 'baseline' | 'cpc';
  cpcSteps: number;
  spec: { obsShape: [number, number, number]; numActions: number; conv1Filters: number; conv2Filters: number; latentSize: number; lstmSize: number };
  hp: LossHyperparameters;
  params: Record<string, number[]>;
  unroll: Record<'observations' | 'prevActions' | 'prevRewards' | 'firsts' | 'actions' | 'behaviourLogits', number[]> & {
    T: number;
    B: number;
    initialState: { h: number[]; c: number[] };
  };
  expected: {
    logRhos: number[];
    vs: number[];
    pgAdvantages: number[];
    policyGradient: number;
    baseline: number;
    entropy: number;
    total: number;
    cpc?: number;
    cpcCounted?: number[];
  };
}

const { cases } = JSON.parse(fs.readFileSync(new URL('./fixtures/loss_reference.json', import.meta.url), 'utf8')) as { cases: ReferenceCase[] };

function unrollOf(c: ReferenceCase): Unroll {
  const u = c.unroll;
  return {
    T: u.T,
    B: u.B,
    observations: Uint8Array.from(u.observations),
    prevActions: Int32Array.from(u.prevActions),
    prevRewards: Float32Array.from(u.prevRewards),
    firsts: Uint8Array.from(u.firsts),
    actions: Int32Array.from(u.actions),
    behaviourLogits: Float32Array.from(u.behaviourLogits),
    initialState: { h: Float32Array.from(u.initialState.h), c: Float32Array.from(u.initialState.c) },
  };
}

/** |a - b| within float32 rounding of values of b's size. */
function expectNear(actual: number, expected: number, what: string) {
  expect(Math.abs(actual - expected), `${what}: ${actual} vs ${expected}`).toBeLessThan(2e-5 * Math.max(1, Math.abs(expected)));
}

describe('Agent.loss against the float64 reference (every term, the total, the time alignment)', () => {
  it('has the cases the issue asks for: T = 2, B = 1 with and without an episode end', () => {
    expect(cases.map((c) => [c.unroll.T, c.unroll.B])).toEqual([
      [2, 1],
      [2, 1],
      [5, 2],
    ]);
  });

  for (const c of cases) {
    it(c.name, async () => {
      const agent = createAgent({ kind: c.kind, obsShape: c.spec.obsShape, numActions: c.spec.numActions, seed: 1, cpcSteps: c.cpcSteps, network: c.spec });
      agent.setWeights(Object.fromEntries(Object.entries(c.params).map(([n, v]) => [n, Float32Array.from(v)])));
      const before = tf.memory().numTensors;
      const read = tf.tidy(() => {
        const terms = agent.loss(unrollOf(c), c.hp);
        return {
          total: terms.total.dataSync()[0],
          policyGradient: terms.policyGradient.dataSync()[0],
          baseline: terms.baseline.dataSync()[0],
          entropy: terms.entropy.dataSync()[0],
          logRhos: Array.from(terms.logRhos.dataSync()),
          vs: Array.from(terms.vs.dataSync()),
          pgAdvantages: Array.from(terms.pgAdvantages.dataSync()),
          cpc: terms.cpc?.dataSync()[0],
          cpcCounted: terms.cpcCounted ? Array.from(terms.cpcCounted.dataSync()) : undefined,
        };
      });
      expect(tf.memory().numTensors).toBe(before);
      const e = c.expected;
      for (const key of ['logRhos', 'vs', 'pgAdvantages'] as const) {
        expect(read[key]).toHaveLength(e[key].length);
        read[key].forEach((x, i) => expectNear(x, e[key][i]!, `${key}[${i}]`));
      }
      expectNear(read.policyGradient!, e.policyGradient, 'policy gradient');
      expectNear(read.baseline!, e.baseline, 'baseline');
      expectNear(read.entropy!, e.entropy, 'entropy');
      expectNear(read.total!, e.total, 'total');
      expectNear(read.cpc!, e.cpc!, 'cpc');
      expect(read.cpcCounted).toEqual(e.cpcCounted);
      agent.dispose();
    });
  }
});

describe('Agent.loss gradients', () => {
  it('the V-trace targets are constants: the gradient equals that with the targets held fixed', async () => {
    const c = cases[2];
    const agent = createAgent({ kind: c!.kind, obsShape: c!.spec.obsShape, numActions: c!.spec.numActions, seed: 1, cpcSteps: c!.cpcSteps, network: c!.spec });
    agent.setWeights(Object.fromEntries(Object.entries(c!.params).map(([n, v]) => [n, Float32Array.from(v)])));
    const u = unrollOf(c!);
    const vars = Object.values(agent.params);
    const gradients = (f: () => tf.Scalar) =>
      tf.tidy(() => {
        const { grads } = tf.variableGrads(f, vars);
        return vars.map((v) => Array.from(grads[v.name]!.dataSync()));
      });
    const targets = tf.tidy(() => {
      const t = agent.loss(u, c!.hp);
      return { vs: tf.keep(t.vs), pgAdvantages: tf.keep(t.pgAdvantages) };
    });
    const free = gradients(() => agent.loss(u, c!.hp).total);
    const fixed = gradients(() => agent.loss(u, c!.hp, targets).total);
    free.forEach((g, i) => g.forEach((x, j) => expect(x).toBeCloseTo(fixed[i]![j]!, 5)));
    expect(Math.max(...free.flat().map(Math.abs))).toBeGreaterThan(1e-2);
    tf.dispose([targets.vs, targets.pgAdvantages]);
    agent.dispose();
  });
});

describe('trainStep', () => {
  it('reports the reference loss terms, anneals the learning rate, clips, and releases every tensor', async () => {
    const c = cases[2];
    const agent = createAgent({ kind: c!.kind, obsShape: c!.spec.obsShape, numActions: c!.spec.numActions, seed: 1, cpcSteps: c!.cpcSteps, network: c!.spec });
    agent.setWeights(Object.fromEntries(Object.entries(c!.params).map(([n, v]) => [n, Float32Array.from(v)])));
    const optimizer = rmsprop({ learningRate: 0.01 });
    const o = { ...c!.hp, learningRate: 0.01, frames: 250, totalFrames: 1000, gradClip: 0.5 };
    const m = await trainStep(agent, optimizer, unrollOf(c!), o);
    const e = c!.expected;
    expectNear(m.loss, e.total, 'loss');
    expectNear(m.policyGradientLoss, e.policyGradient, 'policy gradient');
    expectNear(m.baselineLoss, e.baseline, 'baseline');
    expectNear(m.entropyLoss, e.entropy, 'entropy');
    expectNear(m.cpcLoss!, e.cpc!, 'cpc');
    expect(m.learningRate).toBeCloseTo(0.0075, 12);
    expect(m.cpcAccuracy).toHaveLength(2);
    m.cpcAccuracy!.forEach((a) => expect(a >= 0 && a <= 1).toBe(true));
    expect(m.gradNorm).toBeGreaterThan(0.5); // so the clip was active
    // the parameters moved, and the next steps start from them; clipped or not, no tensor is left behind
    const before = tf.memory().numTensors;
    const m2 = await trainStep(agent, optimizer, unrollOf(c!), { ...o, gradClip: 0 });
    expect(m2.loss).not.toBeCloseTo(m.loss, 4);
    expect(Object.keys(m2)).not.toContain('gradNorm'); // no clipping, no norm
    await trainStep(agent, optimizer, unrollOf(c!), o);
    expect(tf.memory().numTensors).toBe(before);
    agent.dispose();
  });

  it('trains a baseline agent (no CPC metrics) with the reference terms', async () => {
    const c = cases[1];
    const agent = createAgent({ kind: 'baseline', obsShape: c!.spec.obsShape, numActions: c!.spec.numActions, seed: 1, network: c!.spec });
    const { 'cpc/W': _, ...params } = c!.params;
    agent.setWeights(Object.fromEntries(Object.entries(params).map(([n, v]) => [n, Float32Array.from(v)])));
    const optimizer = rmsprop({ learningRate: 0.01 });
    const o = { ...c!.hp, learningRate: 0.01, frames: 0, totalFrames: 1000, gradClip: 0 };
    await trainStep(agent, optimizer, unrollOf(c!), o); // creates the optimizer's slots
    agent.setWeights(Object.fromEntries(Object.entries(params).map(([n, v]) => [n, Float32Array.from(v)])));
    const before = tf.memory().numTensors;
    const m = await trainStep(agent, optimizer, unrollOf(c!), o);
    expect(tf.memory().numTensors).toBe(before);
    const e = c!.expected;
    // the baseline agent's total is the reference's without the CPC term (0 here: no anchor counts)
    expectNear(m.loss, e.total, 'loss');
    expectNear(m.entropyLoss, e.entropy, 'entropy');
    expect(m.learningRate).toBe(0.01);
    expect(m.cpcLoss).toBeUndefined();
    expect(m.cpcAccuracy).toBeUndefined();
    // a non-finite loss is reported as skipped and changes nothing
    const weights = await agent.getWeights();
    const nan = unrollOf(c!);
    nan.prevRewards[nan.B] = Number.NaN;
    const skipped = await trainStep(agent, optimizer, nan, o);
    expect(skipped.skipped).toBe(true);
    expect(Number.isNaN(skipped.loss)).toBe(true);
    expect(await agent.getWeights()).toEqual(weights);
    expect(tf.memory().numTensors).toBe(before);
    expect(Object.keys(await trainStep(agent, optimizer, unrollOf(c!), o))).not.toContain('skipped');
    await expect(agent.getWeights(['core/b', 'nope'])).rejects.toThrow(/getWeights: no parameter 'nope'/);
    const acting = createAgent({ kind: 'cpc', obsShape: c!.spec.obsShape, numActions: c!.spec.numActions, seed: 1, network: c!.spec, actingOnly: true });
    expect(() => acting.loss(unrollOf(c!), { ...c!.hp, cpcCost: 1 })).toThrow(/Agent.loss: this agent was made actingOnly and has no CPC head/);
    acting.dispose();
    // a parameter the optimizer cannot train is named, not silently skipped
    agent.params['frozen'] = tf.variable(tf.zeros([1]), false);
    await expect(trainStep(agent, optimizer, unrollOf(c!), o)).rejects.toThrow(/trainStep: no gradient for parameter 'frozen' \(is it trainable\?\)/);
    agent.dispose();
  });

  it('skips a step whose parameters stay finite but whose policy overflows (the policy check)', async () => {
    const c = cases[1];
    const agent = createAgent({ kind: 'baseline', obsShape: c!.spec.obsShape, numActions: c!.spec.numActions, seed: 1, network: c!.spec });
    const optimizer = rmsprop({ learningRate: 1e30 });
    // steps of ~1e28 leave every parameter finite (float32 reaches 3e38); logits through two such layers do not
    const o = { ...c!.hp, learningRate: 1e30, frames: 0, totalFrames: 1e9, gradClip: 0 };
    const weights = await agent.getWeights();
    const m = await trainStep(agent, optimizer, unrollOf(c!), o);
    expect(Number.isFinite(m.loss)).toBe(true);
    expect(m.skipped).toBe(true);
    expect(await agent.getWeights()).toEqual(weights);
    optimizer.dispose();
    agent.dispose();
  });
});

describe('loss terms (agents/losses.ts) on hand-computed values', () => {
  // T = 1, B = 2, A = 2. Column 0: logits (0, ln 3), pi = (1/4, 3/4), action 1.
  // Column 1: logits (ln 2, ln 2), pi = (1/2, 1/2), action 0.
  const logits = () => tf.tensor3d([0, Math.log(3), Math.log(2), Math.log(2)], [1, 2, 2]);
  const actions = () => tf.tensor2d([1, 0], [1, 2], 'int32');

  it('actionLogProbs is log pi(a_t)', async () => {
    const out = Array.from(await actionLogProbs(logits(), actions()).data());
    expect(out[0]).toBeCloseTo(Math.log(3 / 4), 6);
    expect(out[1]).toBeCloseTo(Math.log(1 / 2), 6);
  });

  it('policyGradientLoss is -sum log pi(a_t) A_t', async () => {
    // advantages 2 and -1: -(2 ln 3/4 - ln 1/2) = 0.575364 - 0.693147 = -0.117783
    const loss = policyGradientLoss(logits(), actions(), tf.tensor2d([2, -1], [1, 2]));
    expect((await loss.data())[0]).toBeCloseTo(-0.117783, 5);
  });

  it('baselineLoss is 0.5 sum (v_s - V)^2', async () => {
    // 0.5 ((1 - 2)^2 + (3 - 0.5)^2) = 0.5 (1 + 6.25) = 3.625
    const loss = baselineLoss(tf.tensor2d([1, 3], [1, 2]), tf.tensor2d([2, 0.5], [1, 2]));
    expect((await loss.data())[0]).toBeCloseTo(3.625, 6);
  });

  it('entropyLoss is sum pi log pi (the negative entropy)', async () => {
    // 1/4 ln 1/4 + 3/4 ln 3/4 + ln 1/2 = -0.346574 - 0.215762 - 0.693147 = -1.255482
    expect((await entropyLoss(logits()).data())[0]).toBeCloseTo(-1.255482, 5);
  });

  it('the policy gradient moves log pi(a) along the advantage; the baseline gradient is V - v_s', async () => {
    // d/dlogits of -A log softmax(l)[a] = -A (onehot(a) - pi): column 0, A = 2: -2 ((0, 1) - (1/4, 3/4)) = (0.5, -0.5)
    const g = tf.grad((l: tf.Tensor) => policyGradientLoss(l, actions(), tf.tensor2d([2, -1], [1, 2])))(logits());
    const gv = Array.from(await g.data());
    expect(gv[0]).toBeCloseTo(0.5, 6);
    expect(gv[1]).toBeCloseTo(-0.5, 6);
    const gb = tf.grad((v: tf.Tensor) => baselineLoss(tf.tensor2d([1, 3], [1, 2]), v))(tf.tensor2d([2, 0.5], [1, 2]));
    expect(Array.from(await gb.data())).toEqual([1, -2.5]);
  });
});

describe('clipReward', () => {
  it('abs_one clips to [-1, 1]', () => {
    expect([3, -2, 0.4, -0.4, 1, -1].map((r) => clipReward(r, 'abs_one'))).toEqual([1, -1, 0.4, -0.4, 1, -1]);
  });

  it('soft_asymmetric is 5 tanh(r / 5), negatives scaled by 0.3', () => {
    // 5 tanh(1) = 3.807971; -0.3 * 5 tanh(1) = -1.142391; 5 tanh(0.1) = 0.498340
    expect(clipReward(5, 'soft_asymmetric')).toBeCloseTo(3.807971, 6);
    expect(clipReward(-5, 'soft_asymmetric')).toBeCloseTo(-1.142391, 6);
    expect(clipReward(0.5, 'soft_asymmetric')).toBeCloseTo(0.49834, 6);
    expect(clipReward(-0.5, 'soft_asymmetric')).toBeCloseTo(-0.149502, 6);
    expect(clipReward(0, 'soft_asymmetric')).toBe(0);
  });

  it('none passes the reward through', () => {
    expect(clipReward(-7.5, 'none')).toBe(-7.5);
  });
});

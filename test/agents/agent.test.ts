import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { createAgent, trainStep, type Agent, type Unroll } from '../../agents/agent.js';
import { forward } from '../../agents/network.js';
import { rmsprop } from '../../agents/rmsprop.js';
import { makeMockEnv, MOCK_OBS_SHAPE } from '../../envs/mock/index.js';
import { Actor } from '../../src/actor.js';
import { vectorOf } from '../../envs/vector.js';
import { Rng } from '../../src/rng.js';
import { HP, TINY } from '../helpers/agent.js';


beforeAll(async () => {
  await tf.setBackend('cpu');
});

function tinyAgent(kind: 'baseline' | 'cpc', seed = 1): Agent {
  return createAgent({ kind, obsShape: MOCK_OBS_SHAPE, numActions: 9, seed, cpcSteps: 3, network: TINY });
}

async function collect(agent: Agent, T: number, E: number, unrolls: number, level = 'memory'): Promise<Unroll[]> {
  const actor = new Actor(Array.from({ length: E }, () => vectorOf(makeMockEnv(level))), agent, { unrollLength: T, actionRepeat: 4, seed: 3 });
  await actor.start();
  const out: Unroll[] = [];
  for (let i = 0; i < unrolls; i++) out.push((await actor.collect()).unroll);
  actor.dispose();
  return out;
}

function learnerForward(agent: Agent, u: Unroll, h = u.initialState.h, c = u.initialState.c) {
  const L = agent.spec.lstmSize;
  const initial = { h: tf.tensor2d(h, [u.B, L]), c: tf.tensor2d(c, [u.B, L]) };
  return forward(agent.spec, agent.params, u, u.T + 1, u.B, initial);
}

describe('agent', () => {
  it("the actor's step-by-step forward equals the learner's unroll in Agent.loss (log rho = 0)", async () => {
    const agent = tinyAgent('cpc');
    const [, u] = await collect(agent, 15, 3, 2);
    expect(u!.firsts.some((f) => f === 1)).toBe(true); // episodes (length 6) start inside the unroll
    const maxAbsLogRho = (x: Unroll) => tf.tidy(() => tf.max(tf.abs(agent.loss(x, HP).logRhos)).dataSync()[0]);
    expect(maxAbsLogRho(u!)).toBeLessThan(1e-5);
    // the second unroll starts from the state the first left: the loss must start from it too
    const zeroState = { h: new Float32Array(u!.initialState.h.length), c: new Float32Array(u!.initialState.c.length) };
    expect(maxAbsLogRho({ ...u!, initialState: zeroState })).toBeGreaterThan(1e-4);
  });

  it('the LSTM state resets exactly where an episode starts', async () => {
    const agent = tinyAgent('baseline');
    const [, u] = await collect(agent, 15, 3, 2);
    const rng = new Rng(9);
    const noise = () => Float32Array.from(u!.initialState.h, () => rng.normal());
    const a = await learnerForward(agent, u!).c.data();
    const b = await learnerForward(agent, u!, noise(), noise()).c.data();
    const L = agent.spec.lstmSize;
    for (let col = 0; col < u!.B; col++) {
      let started = false;
      for (let t = 0; t <= u!.T; t++) {
        started ||= u!.firsts[t * u!.B + col] === 1;
        const off = (t * u!.B + col) * L;
        const diff = Math.max(...Array.from({ length: L }, (_, i) => Math.abs(a[off + i]! - b[off + i]!)));
        // a different initial state matters until the column's first episode start, never after it
        if (started) expect(diff).toBe(0);
        else expect(diff).toBeGreaterThan(1e-4);
      }
    }
  });

  it('gradients of the full loss (with CPC) match finite differences', async () => {
    const agent = tinyAgent('cpc', 4);
    const [u] = await collect(agent, 6, 3, 1, 'predictable');
    // perturb behaviour logits so importance weights (and their clipping) are active
    const rng = new Rng(11);
    for (let i = 0; i < u!.behaviourLogits.length; i++) u!.behaviourLogits[i]! += rng.normal();
    // move off ReLU kinks: with zero biases, black pixels put pre-activations exactly at 0
    for (const [n, v] of Object.entries(agent.params)) {
      if (n.endsWith('/b')) v.assign(tf.tensor(Float32Array.from({ length: v.size }, () => 0.1 * rng.normal()), v.shape));
    }
    const hp = { ...HP, entropyCost: 0.1 };
    const base = agent.loss(u!, hp);
    const targets = { vs: tf.keep(base.vs), pgAdvantages: tf.keep(base.pgAdvantages) };
    const vars = agent.params;
    const names = Object.keys(vars);
    const { grads } = tf.variableGrads(() => agent.loss(u!, hp).total, names.map((n) => vars[n]!));
    // tfjs keys variableGrads results by the variable's engine name
    const analytic: Record<string, Float32Array> = {};
    for (const n of names) analytic[n] = (await grads[vars[n]!.name]!.data()) as Float32Array;
    // the stop-gradient targets give the same gradient as constant targets
    const fixed = tf.variableGrads(() => agent.loss(u!, hp, targets).total, names.map((n) => vars[n]!));
    for (const n of names) {
      const g = await fixed.grads[vars[n]!.name]!.data();
      g.forEach((x, i) => expect(x).toBeCloseTo(analytic[n]![i]!, 5));
    }
    const lossAt = () => tf.tidy(() => agent.loss(u!, hp, targets).total.dataSync()[0]!);
    const eps = 1e-3;
    for (const n of names) {
      const v = vars[n]!;
      const values = (await v.data()).slice() as Float32Array;
      for (let j = 0; j < 3; j++) {
        const i = rng.int(values.length);
        const orig = values[i]!;
        values[i] = orig + eps;
        v.assign(tf.tensor(values, v.shape));
        const up = lossAt();
        values[i] = orig - eps;
        v.assign(tf.tensor(values, v.shape));
        const down = lossAt();
        values[i] = orig;
        v.assign(tf.tensor(values, v.shape));
        const numeric = (up - down) / (2 * eps);
        expect(Math.abs(numeric - analytic[n]![i]!), `${n}[${i}]: numeric ${numeric} vs analytic ${analytic[n]![i]}`).toBeLessThan(
          2e-2 * Math.max(1, Math.abs(numeric)),
        );
      }
    }
    // the CPC term and the core reach their parameters (a loss that ignored them would pass the checks above)
    for (const n of ['cpc/W', 'core/wx', 'core/wh', 'encoder/conv1/w']) expect(Math.max(...analytic[n]!.map(Math.abs)), n).toBeGreaterThan(1e-4);
  });

  it('an update whose parameters are finite but make the policy non-finite is skipped: actors never get them', async () => {
    // IMPALA's network: its conv stack is wide enough to overflow float32 (the tiny one's is not)
    const agent = createAgent({ kind: 'baseline', obsShape: MOCK_OBS_SHAPE, numActions: 9, seed: 1 });
    const opt = rmsprop({ learningRate: 1 });
    const [u] = await collect(agent, 8, 2, 1);
    const before = await agent.getWeights();
    // lr 1e20: every new parameter is finite (~1e18), but conv2's activations overflow to Inf and the logits are NaN
    const m = await trainStep(agent, opt, u!, { ...HP, learningRate: 1e20, frames: 0, totalFrames: 1000, gradClip: 0 });
    expect(m.skipped).toBe(true);
    expect(await agent.getWeights()).toEqual(before);
    // a sane step on the same batch is applied, and its policy is finite
    const ok = await trainStep(agent, opt, u!, { ...HP, learningRate: 1e-3, frames: 0, totalFrames: 1000, gradClip: 0 });
    expect(ok.skipped).toBeUndefined();
    expect(await agent.getWeights()).not.toEqual(before);
    opt.dispose();
    agent.dispose();
  });

  it('tf.memory().numTensors does not grow over 100 training steps', async () => {
    const agent = tinyAgent('cpc');
    const opt = rmsprop({ learningRate: 1e-3 });
    const actor = new Actor([vectorOf(makeMockEnv('memory')), vectorOf(makeMockEnv('memory'))], agent, { unrollLength: 8, actionRepeat: 4, seed: 5 });
    await actor.start();
    const step = async (i: number) => {
      const { unroll } = await actor.collect();
      await trainStep(agent, opt, unroll, { ...HP, learningRate: 1e-3, frames: i, totalFrames: 1000, gradClip: 40 });
    };
    await step(0); // optimizer slots are created on the first step
    const before = tf.memory().numTensors;
    for (let i = 1; i <= 100; i++) await step(i);
    expect(tf.memory().numTensors).toBe(before);
    actor.dispose();
  });
});

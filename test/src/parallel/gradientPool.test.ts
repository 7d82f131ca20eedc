import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAgent, type Agent, type AgentOptions, type LossHyperparameters, type Unroll } from '../../../agents/agent.js';
import { makeMockEnv, MOCK_OBS_SHAPE } from '../../../envs/mock/index.js';
import { vectorOf } from '../../../envs/vector.js';
import { Actor } from '../../../src/actor.js';
import { initBackend } from '../../../src/backend/index.js';
import { columnShares, sliceColumns } from '../../../src/parallel/columns.js';
import { GradientPool } from '../../../src/parallel/gradientPool.js';
import { concatUnrolls } from '../../../src/runtime/wire.js';
import { HP, TINY } from '../../helpers/agent.js';

const options = (kind: 'baseline' | 'cpc'): AgentOptions => ({ kind, obsShape: MOCK_OBS_SHAPE, numActions: 9, seed: 4, cpcSteps: 3, network: TINY });

/**
 * A batch of 5 columns, T = 12: mock:predictable (its frames keep the tiny encoder's z alive) and
 * mock:memory (episodes of 6 steps end inside the unroll, so the InfoNCE mask matters).
 */
async function playBatch(agent: Agent, unrollLength = 12, seed = 3): Promise<Unroll> {
  const actor = new Actor(Array.from({ length: 5 }, (_, i) => vectorOf(makeMockEnv(i % 2 ? 'memory' : 'predictable'))), agent, { unrollLength, actionRepeat: 4, seed });
  await actor.start();
  await actor.collect();
  const { unroll } = await actor.collect(); // the second: its initial LSTM state is not zero
  actor.dispose();
  return unroll;
}

/** The one-thread gradient of the whole batch, by variable name. */
async function wholeBatchGradients(agent: Agent, batch: Unroll, hp: LossHyperparameters) {
  const { value, grads } = tf.variableGrads(() => agent.loss(batch, hp).total, Object.values(agent.params));
  const out: Record<string, Float32Array> = {};
  for (const [name, v] of Object.entries(agent.params)) out[name] = (await grads[v.name]!.data()) as Float32Array;
  const loss = (await value.data())[0]!;
  tf.dispose([value, ...Object.values(grads)]);
  return { grads: out, loss };
}

/** max over variables of |a - b| / |b| (Euclidean norms). */
function maxRelativeError(a: Record<string, Float32Array>, b: Record<string, Float32Array>): number {
  expect(Object.keys(a).sort()).toEqual(Object.keys(b).sort());
  let worst = 0;
  for (const name of Object.keys(b)) {
    let diff = 0;
    let norm = 0;
    const [x, y] = [a[name]!, b[name]!];
    for (let i = 0; i < y.length; i++) {
      diff += (x[i]! - y[i]!) ** 2;
      norm += y[i]! ** 2;
    }
    expect(norm).toBeGreaterThan(0);
    worst = Math.max(worst, Math.sqrt(diff / norm));
  }
  return worst;
}

beforeAll(async () => {
  await initBackend('wasm');
});

describe('columns', () => {
  it('splits a batch into contiguous shares whose concatenation is the batch', async () => {
    expect(columnShares(5, 2)).toEqual([{ start: 0, count: 3 }, { start: 3, count: 2 }]);
    expect(columnShares(4, 4).map((s) => s.count)).toEqual([1, 1, 1, 1]);
    expect(() => columnShares(2, 3)).toThrow(/cannot split a batch of 2 columns into 3/);
    const agent = createAgent(options('baseline'));
    const batch = await playBatch(agent);
    const parts = columnShares(5, 3).map((s) => sliceColumns(batch, s));
    expect(concatUnrolls(parts)).toEqual(batch);
    agent.dispose();
  });
});

describe('data-parallel gradients', () => {
  // one pool per agent kind and thread count (a worker takes seconds to start): later tests reuse it
  const pools = new Map<string, GradientPool>();
  const poolFor = async (kind: 'baseline' | 'cpc', threads: number, agent: Agent) => {
    const key = `${kind}/${threads}`;
    if (!pools.has(key)) pools.set(key, await GradientPool.start(threads, 'wasm', options(kind), agent));
    return pools.get(key)!;
  };
  afterAll(async () => {
    await Promise.all([...pools.values()].map((p) => p.close()));
  });

  const cases: { kind: 'baseline' | 'cpc'; threads: number; hp: Partial<LossHyperparameters>; what: string }[] = [
    { kind: 'baseline', threads: 2, hp: {}, what: 'baseline' },
    { kind: 'cpc', threads: 2, hp: { cpcNegatives: 'batch' }, what: 'cpc (negatives batch)' },
    { kind: 'cpc', threads: 2, hp: { cpcStopGradient: true }, what: 'cpc with stop-gradient targets' },
    { kind: 'cpc', threads: 3, hp: { cpcNegatives: 'batch-time' }, what: 'cpc (negatives batch-time, uneven shares)' },
  ];
  for (const c of cases) {
    it(`${c.what}: ${c.threads} threads' summed gradient equals the one-thread gradient of the whole batch, at each request's parameters; every thread's tensor count stays constant`, async () => {
      const agent = createAgent(options(c.kind));
      const batch = await playBatch(agent);
      expect(batch.firsts.some((f) => f === 1)).toBe(true);
      const hp = { ...HP, ...c.hp };
      const pool = await poolFor(c.kind, c.threads, agent);
      const counts: number[][] = [];
      for (let i = 0; i < 3; i++) {
        if (i === 2) {
          // other parameters: the workers start from what this request sends, not from what they had
          const w = await agent.getWeights();
          agent.setWeights(Object.fromEntries(Object.entries(w).map(([k, v]) => [k, v.map((x, j) => x * (1 + 0.1 * Math.sin(j)))])));
        }
        const want = await wholeBatchGradients(agent, batch, hp);
        const got = await pool.gradients(await agent.getWeights(), batch, hp);
        expect(maxRelativeError(got.grads, want.grads)).toBeLessThan(1e-5);
        expect(got.sums.loss).toBeCloseTo(want.loss, 3);
        counts.push(got.numTensors);
      }
      expect(counts[1]).toEqual(counts[0]);
      expect(counts[2]).toEqual(counts[0]);
      agent.dispose();
    }, 120_000);
  }

  it("each request's gradient comes from its own batch: the columns and parameters the workers keep from one request (reused arrays) carry nothing into the next, of the same or another shape", async () => {
    const agent = createAgent(options('cpc'));
    const batches = [await playBatch(agent, 12, 3), await playBatch(agent, 12, 7), await playBatch(agent, 6, 9), await playBatch(agent, 12, 3)];
    expect(batches[1]!.observations).not.toEqual(batches[0]!.observations);
    const pool = await poolFor('cpc', 2, agent);
    for (const [i, batch] of batches.entries()) {
      if (i === 3) agent.setWeights(Object.fromEntries(Object.entries(await agent.getWeights()).map(([k, v]) => [k, v.map((x, j) => x * (1 - 0.1 * Math.cos(j)))])));
      const want = await wholeBatchGradients(agent, batch, HP);
      const got = await pool.gradients(await agent.getWeights(), batch, HP);
      expect(maxRelativeError(got.grads, want.grads), `request ${i}`).toBeLessThan(1e-5);
    }
    agent.dispose();
  }, 120_000);

  it('a thread that dies fails the pending request and every later one at once, naming the thread', async () => {
    const agent = createAgent(options('cpc'));
    const batch = await playBatch(agent);
    const pool = await poolFor('cpc', 3, agent);
    const weights = await agent.getWeights();
    const pending = pool.gradients(weights, batch, HP);
    await pool.workers[1]!.terminate();
    await expect(pending).rejects.toThrow(/learner thread 1 exited/);
    await expect(pool.gradients(weights, batch, HP)).rejects.toThrow(/learner thread 1 exited/);
    agent.dispose();
  });
});

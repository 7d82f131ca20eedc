import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadLatestCheckpoint } from '../../../src/checkpoint.js';
import { resolveConfig } from '../../../src/config.js';
import { learnerThreads, learnsInWorkers, overlapsActing } from '../../../src/parallel/threads.js';
import { train } from '../../../src/train.js';
import { readUpdates } from '../../helpers/metrics.js';

const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'cpc-lab-overlap-'));
const quiet = { log: () => {} };
/** 5 updates of 4 columns x 10 steps on mock:memory. */
const SMALL = { env: 'mock:memory', agent: 'cpc', cpcSteps: 3, batch: 4, unroll: 10, frames: 5 * 4 * 10 * 4, seed: 3, backend: 'wasm' } as const;

type Loss = { loss: number; cpcLoss: number };
const losses = (runDir: string) => readUpdates(runDir).map((r) => [(r as unknown as Loss).loss, (r as unknown as Loss).cpcLoss]);

describe('the single-process loop', () => {
  it('async: the next batch is played during the update by the parameters before it, so every batch after the first has policy lag exactly 1; the schedule is the same whenever updates land', async () => {
    const a = tmp();
    const lines: string[] = [];
    const summary = await train({ ...SMALL, mode: 'async', learnerThreads: 2, runDir: a, progressEvery: 1e-3 }, { log: (l) => lines.push(l) });
    expect(summary.updates).toBe(5);
    expect(readUpdates(a).map((r) => r.policyLag)).toEqual([0, 1, 1, 1, 1]);
    expect(summary.meanPolicyLag).toBeCloseTo(0.8, 10);
    expect(lines.some((l) => /lag 1 \(mean 0\.80\)/.test(l))).toBe(true);
    // nothing is played after the last update: the final checkpoint holds no pending batch
    expect(loadLatestCheckpoint(a)!.pending).toBeUndefined();
    // same seed, same schedule: the same losses (thread timing differs between the runs)
    const b = tmp();
    await train({ ...SMALL, mode: 'async', learnerThreads: 2, runDir: b }, quiet);
    expect(losses(b)).toEqual(losses(a));
  }, 240_000);

  it('sync with learner threads: acting and learning alternate, every batch is played by the latest parameters (lag 0)', async () => {
    const runDir = tmp();
    const summary = await train({ ...SMALL, mode: 'sync', learnerThreads: 2, runDir }, quiet);
    expect(readUpdates(runDir).map((r) => r.policyLag)).toEqual([0, 0, 0, 0, 0]);
    expect(summary.meanPolicyLag).toBe(0);
  }, 120_000);

  it('learning rate 1e20 with gradients from worker threads: every update is skipped (its policy is not finite), none is applied, the run stops', async () => {
    const runDir = tmp();
    const lines: string[] = [];
    const run = train({ ...SMALL, agent: 'baseline', mode: 'async', learnerThreads: 2, learningRate: 1e20, maxSkippedUpdates: 2, runDir }, { log: (l) => lines.push(l) });
    await expect(run).rejects.toThrow(/training diverged: 2 updates in a row had a non-finite loss, gradient or policy/);
    const records = readUpdates(runDir) as unknown as { skipped?: boolean }[];
    expect(records.map((r) => r.skipped)).toEqual([true, true]);
    expect(lines.filter((l) => /learner: update \d+ skipped/.test(l))).toHaveLength(2);
  }, 120_000);
});

describe('learner threads', () => {
  const config = (c: object) => resolveConfig({ ...SMALL, batch: 16, learnerThreads: 'auto', ...c });
  it("the default is 'auto': the cores actors and environments leave free, at most one per column; native and GPU backends run one", () => {
    expect(resolveConfig({})).toMatchObject({ mode: 'async', maxPolicyLag: 1, learnerThreads: 'auto' });
    expect(learnerThreads(resolveConfig(SMALL), 'wasm', 16)).toBe(4);
    expect(learnerThreads(resolveConfig(SMALL), 'wasm', 1)).toBe(1);
    expect(learnerThreads(config({}), 'wasm', 2)).toBe(2);
    expect(learnerThreads(config({}), 'wasm', 64)).toBe(16);
    expect(learnerThreads(config({ actors: 2 }), 'wasm', 8)).toBe(6);
    expect(learnerThreads(config({ actors: 2 }), 'wasm', 2)).toBe(1);
    expect(learnerThreads(config({ env: 'dmlab:rooms_watermaze', actors: 2 }), 'wasm', 32)).toBe(14);
    expect(learnerThreads(config({}), 'webgpu', 16)).toBe(1);
    expect(learnerThreads(config({}), 'tensorflow', 16)).toBe(1);
  });

  it('an explicit count is kept, refused beyond the batch or on a backend that cannot be split', () => {
    expect(learnerThreads(config({ learnerThreads: 3 }), 'wasm', 2)).toBe(3);
    expect(() => learnerThreads(config({ learnerThreads: 2 }), 'webgpu', 2)).toThrow(/--learner-threads 2 needs the wasm or cpu backend/);
    expect(() => resolveConfig({ ...SMALL, learnerThreads: 5 })).toThrow(/learnerThreads: 5 threads cannot share a batch of 4 columns/);
  });

  it('one process learns in a worker thread when acting overlaps, on this thread in sync mode with one thread (the sequential loop)', () => {
    expect(overlapsActing(config({ mode: 'async' }))).toBe(true);
    expect(overlapsActing(config({}))).toBe(true);
    expect(overlapsActing(config({ mode: 'async', maxPolicyLag: 0 }))).toBe(false);
    expect(overlapsActing(config({ mode: 'sync' }))).toBe(false);
    expect(learnsInWorkers(resolveConfig({ ...SMALL, mode: 'async' }), 'wasm', 1)).toBe(true);
    expect(learnsInWorkers(resolveConfig(SMALL), 'wasm', 1)).toBe(true);
    expect(learnsInWorkers(resolveConfig({ ...SMALL, mode: 'sync' }), 'wasm', 1)).toBe(false);
    expect(learnsInWorkers(config({ mode: 'async' }), 'wasm', 1)).toBe(true);
    expect(learnsInWorkers(config({ mode: 'sync' }), 'wasm', 1)).toBe(false);
    expect(learnsInWorkers(config({ mode: 'sync' }), 'wasm', 2)).toBe(true);
    expect(learnsInWorkers(config({ actors: 2 }), 'wasm', 1)).toBe(false);
    expect(learnsInWorkers(config({ mode: 'async' }), 'webgpu', 1)).toBe(false);
  });
});

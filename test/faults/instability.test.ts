import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { rmsprop } from '../../agents/rmsprop.js';
import { listCheckpoints, loadCheckpoint, loadLatestCheckpoint } from '../../src/checkpoint.js';
import { resumeRun, train } from '../../src/train.js';

const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'cpc-lab-unstable-'));
const small = { env: 'mock:memory', agent: 'baseline' as const, batch: 2, unroll: 5, backend: 'cpu' as const, seed: 3 };
const UPDATE_FRAMES = 2 * 5 * 4;

interface UpdateLine {
  kind: string;
  update: number;
  loss: number | null;
  baselineLoss: number | null;
  skipped?: boolean;
  skippedUpdates: number;
}
const updates = (runDir: string): UpdateLine[] =>
  fs
    .readFileSync(path.join(runDir, 'metrics.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as UpdateLine)
    .filter((r) => r.kind === 'update');

describe('non-finite updates are skipped, never applied', () => {
  it('RMSProp: a NaN gradient, a NaN guard (the loss) or an overflowing step leaves variables and slots untouched', async () => {
    await tf.setBackend('cpu');
    const w = tf.variable(tf.tensor1d([1, 2]));
    const opt = rmsprop({ learningRate: 0.1 });
    expect(await opt.applyGradientsIfFinite({ w }, { w: tf.tensor1d([0.5, -0.5]) })).toBe(true);
    const good = Array.from(await w.data());
    const goodState = await opt.getState();
    const before = tf.memory().numTensors;
    const refused = [
      () => opt.applyGradientsIfFinite({ w }, { w: tf.tensor1d([Number.NaN, 1]) }),
      () => opt.applyGradientsIfFinite({ w }, { w: tf.tensor1d([1, 1]) }, 0.1, [tf.scalar(Number.POSITIVE_INFINITY)]),
      () => opt.applyGradientsIfFinite({ w }, { w: tf.tensor1d([1, 1]) }, 1e39), // finite gradient, infinite result
    ];
    for (const attempt of refused) {
      expect(await attempt()).toBe(false);
      expect(Array.from(await w.data())).toEqual(good);
      expect((await opt.getState()).ms.w).toEqual(goodState.ms.w);
    }
    // the refused attempts left only the 3 gradients and the guard this test made
    expect(tf.memory().numTensors - before).toBe(4);
    opt.dispose();
    w.dispose();
  });

  it('learning rate 1e20: non-finite updates are skipped and logged, the run stops with a clear error, every checkpoint is finite', async () => {
    const runDir = tmp();
    // a good stretch first, with a checkpoint
    await train({ ...small, runDir, frames: 2 * UPDATE_FRAMES }, { log: () => {} });
    const good = loadLatestCheckpoint(runDir)!;
    const lines: string[] = [];
    await expect(resumeRun(runDir, { frames: 40 * UPDATE_FRAMES, learningRate: 1e20, maxSkippedUpdates: 3, keepCheckpoints: 1 }, { log: (l) => lines.push(l) })).rejects.toThrow(
      /training diverged: 3 updates in a row had a non-finite loss, gradient or policy \(none was applied\)\. The newest checkpoint \(.*ckpt-000000000080\.msgpack\) is kept as it was; lower --learning-rate/,
    );
    expect(lines.filter((l) => /learner: update \d+ skipped: non-finite loss, gradient or policy/.test(l))).toHaveLength(3);
    const u = updates(runDir);
    const last = u.slice(-3);
    expect(last.every((r) => r.skipped === true)).toBe(true);
    expect(last.map((r) => r.skippedUpdates)).toEqual([1, 2, 3]);
    // the good checkpoint was not rotated away, and nothing non-finite was written
    expect(listCheckpoints(runDir)).toHaveLength(1);
    const kept = loadCheckpoint(listCheckpoints(runDir)[0]!);
    expect(kept.frames).toBe(good.frames);
    expect(Object.values(kept.params).every((p) => p.every(Number.isFinite))).toBe(true);
  });

  it('a value loss that explodes (learning rate 10) is warned about', async () => {
    const lines: string[] = [];
    await train({ ...small, runDir: tmp(), frames: 4 * UPDATE_FRAMES, learningRate: 10 }, { log: (l) => lines.push(l) });
    expect(lines.some((l) => /learner: warning: the value loss is exploding \(.* at update \d\); the learning rate \(10\) is probably too high/.test(l))).toBe(true);
  });
});

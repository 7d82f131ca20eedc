import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { listCheckpoints, loadCheckpoint, loadLatestCheckpoint, saveCheckpoint } from '../../src/checkpoint.js';
import { resumeRun, train } from '../../src/train.js';
import { readUpdates } from '../helpers/metrics.js';

const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'cpc-lab-ckpt-'));
const quiet = { log: () => {} };
const small = { env: 'mock:memory', agent: 'cpc' as const, batch: 4, unroll: 10, cpcSteps: 3, backend: 'cpu' as const, seed: 3 };
const BATCH_FRAMES = 4 * 10 * 4;

describe('checkpoints', () => {
  it('round-trip parameters, optimizer state, frames and generator state exactly, keeping the newest K', () => {
    const dir = tmp();
    const state = (frames: number) => ({
      frames,
      updates: frames / 10,
      paramsVersion: frames / 10,
      params: { 'core/wx': Float32Array.from([1.5, -2, 3e-8]), 'policy/b': Float32Array.from([0]) },
      optimizer: { ms: { 'core/wx': Float32Array.from([0.9, 1, 1.1]) }, mom: {} },
      rng: { actor: [1, 2, 3, 4] as [number, number, number, number] },
    });
    for (const f of [10, 20, 30, 40]) saveCheckpoint(dir, state(f), 3);
    expect(listCheckpoints(dir).map((f) => path.basename(f))).toEqual(['ckpt-000000000020.msgpack', 'ckpt-000000000030.msgpack', 'ckpt-000000000040.msgpack']);
    const c = loadCheckpoint(listCheckpoints(dir)[2]!);
    expect(c.frames).toBe(40);
    expect(c.params['core/wx']).toEqual(Float32Array.from([1.5, -2, 3e-8]));
    expect(c.optimizer.ms['core/wx']).toEqual(Float32Array.from([0.9, 1, 1.1]));
    expect(c.rng.actor).toEqual([1, 2, 3, 4]);
  });

  it('a torn newest checkpoint falls back to the one before, with a warning', () => {
    const dir = tmp();
    const base = { updates: 1, paramsVersion: 1, params: { w: Float32Array.from([1]) }, optimizer: { ms: {}, mom: {} }, rng: {} };
    saveCheckpoint(dir, { ...base, frames: 1 });
    const newest = saveCheckpoint(dir, { ...base, frames: 2 });
    fs.writeFileSync(newest, fs.readFileSync(newest).subarray(0, 10));
    const warnings: string[] = [];
    expect(loadLatestCheckpoint(dir, (w) => warnings.push(w))?.frames).toBe(1);
    expect(warnings[0]).toMatch(/unreadable.*trying an older one/);
  });

  it('resume continues frames, updates and parameters from the last checkpoint', async () => {
    const runDir = tmp();
    const first = await train({ ...small, frames: 2 * BATCH_FRAMES, runDir }, quiet);
    expect(first.frames).toBe(2 * BATCH_FRAMES);
    const saved = loadLatestCheckpoint(runDir)!;
    expect(saved).toMatchObject({ frames: 2 * BATCH_FRAMES, updates: 2 });
    await expect(train({ ...small, frames: 4 * BATCH_FRAMES, runDir }, quiet)).rejects.toThrow(/already holds a run: continue it with --resume/);

    const seen: number[] = [];
    const second = await resumeRun(runDir, { frames: 4 * BATCH_FRAMES }, { ...quiet, onUpdate: (u) => seen.push(u.frames) });
    expect(seen).toEqual([3 * BATCH_FRAMES, 4 * BATCH_FRAMES]);
    expect(second.updates).toBe(4);
    const after = loadLatestCheckpoint(runDir)!;
    expect(after).toMatchObject({ frames: 4 * BATCH_FRAMES, updates: 4 });
    // trained further from the restored parameters: changed, but by small steps
    const w0 = saved.params['policy/w'];
    const w1 = after.params['policy/w'];
    const change = Math.max(...w0!.map((x, i) => Math.abs(x - w1![i]!)));
    expect(change).toBeGreaterThan(0);
    expect(change).toBeLessThan(0.1);
    expect(readUpdates(runDir).map((r) => r.frames)).toEqual([1, 2, 3, 4].map((i) => i * BATCH_FRAMES));
  });

  it('refuses to resume a folder that is not a run, saying why', async () => {
    await expect(resumeRun(tmp())).rejects.toThrow(/config.json does not exist/);
  });
});

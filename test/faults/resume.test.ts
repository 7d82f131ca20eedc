import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadLatestCheckpoint } from '../../src/checkpoint.js';
import type { ConfigInput } from '../../src/config.js';
import { resumeRun, train } from '../../src/train.js';

/**
 * Single-process resume is bit-exact: N updates in one go, and k updates, a stop, and a resume to N,
 * end with the same parameters bit for bit and write the same metrics records (but time and fps).
 */
const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'cpc-lab-resume-'));
const quiet = { log: () => {} };

function records(runDir: string): unknown[] {
  return fs
    .readFileSync(path.join(runDir, 'metrics.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => {
      const { time: _t, fps: _f, ...r } = JSON.parse(l) as Record<string, unknown>;
      return r;
    });
}

async function uninterruptedVsResumed(settings: ConfigInput, updates: number, stopAfter: number) {
  const batchFrames = settings.batch! * settings.unroll! * 4;
  const config = { ...settings, frames: updates * batchFrames };
  const whole = tmp();
  await train({ ...config, runDir: whole }, quiet);

  const split = tmp();
  const stop = new AbortController();
  await train({ ...config, runDir: split }, { ...quiet, signal: stop.signal, onUpdate: (u) => u.frames >= stopAfter * batchFrames && stop.abort() });
  const stopped = loadLatestCheckpoint(split)!;
  expect(stopped.updates).toBe(stopAfter);
  expect(stopped.pending?.paramsVersion).toBe(settings.mode === 'async' ? stopAfter - 1 : undefined);
  const resumed = await resumeRun(split, {}, quiet);
  expect(resumed.updates).toBe(updates);

  const a = loadLatestCheckpoint(whole)!;
  const b = loadLatestCheckpoint(split)!;
  for (const [name, w] of Object.entries(a.params)) expect(Buffer.compare(Buffer.from(b.params[name]!.buffer), Buffer.from(w.buffer)), name).toBe(0);
  for (const [name, m] of Object.entries(a.optimizer.ms)) expect(Buffer.compare(Buffer.from(b.optimizer.ms[name]!.buffer), Buffer.from(m.buffer)), name).toBe(0);
  expect(records(split)).toEqual(records(whole));
  expect(b.actor!.envs).toEqual(a.actor!.envs);
}

describe('bit-exact resume (single process)', () => {
  it('sync (the sequential loop), mock:memory, cpc agent: stop after 3 of 6 updates, resume: identical parameters and metrics', async () => {
    await uninterruptedVsResumed({ env: 'mock:memory', agent: 'cpc', batch: 4, unroll: 10, cpcSteps: 3, backend: 'cpu', seed: 5, mode: 'sync', learnerThreads: 1 }, 6, 3);
  }, 300_000); // took 62 s (past the default 60) with two training runs on the machine's two cores

  it('async (acting overlapped with learning, 2 learner threads), mock:memory, cpc: stop after 3 of 6 updates, resume: identical parameters and metrics', async () => {
    // the checkpoint holds the batch played during update 3; the resumed run trains on it first (lag 1)
    await uninterruptedVsResumed({ env: 'mock:memory', agent: 'cpc', batch: 4, unroll: 10, cpcSteps: 3, backend: 'wasm', seed: 5, mode: 'async', learnerThreads: 2 }, 6, 3);
  }, 300_000);

  it('sync, builtin:seekavoid_arena_01 with episodes ending inside unrolls: identical parameters and metrics', async () => {
    await uninterruptedVsResumed({ env: 'builtin:seekavoid_arena_01', episodeLength: 7, agent: 'baseline', batch: 2, unroll: 5, backend: 'cpu', seed: 2, mode: 'sync', learnerThreads: 1 }, 4, 1);
  }, 300_000); // ~10 s on an idle machine; the cpu backend slows most when it is busy
});

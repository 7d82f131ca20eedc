/**
 * The two task kinds of a Slurm training (`train --launcher slurm`), run here without Slurm: the learner
 * task and an actor task find each other through the run folder, as on a cluster. srun never restarts a
 * task, so the actor task must restart its actor process itself.
 */
import type { ChildProcess } from 'node:child_process';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { resolveConfig } from '../../../src/config.js';
import { runActorTask, runLearnerTask, submitTraining } from '../../../src/runtime/slurmTrain.js';
import { readUpdates, updatesWritten } from '../../helpers/metrics.js';
import { tmp } from '../experiments/fixtures.js';

const UPDATE_FRAMES = 4 * 10 * 4; // batch 4 x unroll 10 x repeat 4
const until = async (check: () => boolean) => {
  while (!check()) await new Promise((r) => setTimeout(r, 50));
};

describe('a Slurm training\'s tasks', { timeout: 300_000 }, () => {
  let jobId: string | undefined;
  beforeEach(() => {
    jobId = process.env.SLURM_JOB_ID;
    delete process.env.SLURM_JOB_ID; // both tasks use the endpoint file of job "local"
  });
  afterEach(() => {
    if (jobId !== undefined) process.env.SLURM_JOB_ID = jobId;
  });

  it('an actor process that is killed is restarted within its task, and the training finishes with every batch once', async () => {
    const runDir = tmp('cpc-lab-slurm-tasks-');
    const updates = 10;
    const config = resolveConfig({ env: 'mock:memory', agent: 'baseline', batch: 4, unroll: 10, actors: 1, frames: updates * UPDATE_FRAMES, backend: 'wasm', runDir });
    submitTraining(config, 1, {}, { printOnly: true }); // writes the tasks' settings and CURVE keys
    const lines: string[] = [];
    const log = (l: string) => lines.push(l);
    const actors: ChildProcess[] = [];
    const stop = new AbortController();
    const learner = runLearnerTask(runDir, stop.signal, log);
    const actorTask = runActorTask(runDir, stop.signal, log, (c) => actors.push(c));
    await until(() => updatesWritten(runDir) >= 2);
    actors[0]!.kill('SIGKILL');
    const finished = await learner;
    await actorTask;
    const said = lines.join('\n');
    expect(said).toMatch(/\[slurm\] actor-1\.0\.[0-9a-f]+ exited \(SIGKILL\); restart 1 in 250 ms/);
    expect(said).toMatch(/actor-1\.1\.[0-9a-f]+: 4 x mock:memory connected to tcp:\/\/127\.0\.0\.1:\d+/);
    expect(said).toMatch(/\[slurm\] actor task 1: the learner has ended/);
    expect(actors.length).toBeGreaterThanOrEqual(2);
    expect(actors.every((c) => c.exitCode !== null || c.signalCode !== null)).toBe(true);
    expect(finished.frames).toBe(updates * UPDATE_FRAMES);
    expect(readUpdates(runDir).map((u) => u.frames)).toEqual(Array.from({ length: updates }, (_, i) => (i + 1) * UPDATE_FRAMES));
  });
});

/**
 * cpc-lab on a real (one-node) Slurm: a study submitted as one array job, each task training its run,
 * a requeued task resuming from its checkpoint; one training as a learner task and an actor task. Skipped, with the reason, where Slurm cannot
 * start (CI installs it best-effort with scripts/install-slurm.sh).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { runState } from '../../src/experiments/search.js';
import { studyStatus, submitSearch } from '../../src/experiments/slurm.js';
import { planRuns, readStudy, SearchConfigSchema } from '../../src/experiments/study.js';
import { readUpdates, updatesWritten } from '../helpers/metrics.js';
import { queued, startLocalSlurm, waitUntil } from '../helpers/slurm.js';
import { tmp } from '../src/experiments/fixtures.js';

const BATCH_FRAMES = 4 * 10 * 4;
const CLI = path.resolve('src/cli.ts');
const TSX = import.meta.resolve('tsx');

const slurm = startLocalSlurm();
if (!slurm.ok) console.warn(`the Slurm tests: skipped: ${slurm.why}`);

/** The study's task logs and the queue, for a failure message. */
function explain(out: string, jobId: string): string {
  const logs = path.join(out, 'slurm', 'logs');
  const tails = fs.existsSync(logs) ? fs.readdirSync(logs).map((f) => `--- ${f}\n${fs.readFileSync(path.join(logs, f), 'utf8').slice(-2000)}`) : [];
  return [`squeue -j ${jobId}: ${queued(jobId).join(' ') || '(gone)'}`, ...tails].join('\n');
}

const logsOf = (out: string): string => fs.readdirSync(path.join(out, 'slurm', 'logs')).map((f) => fs.readFileSync(path.join(out, 'slurm', 'logs', f), 'utf8')).join('\n');
const cli = (args: string[]): string => execFileSync(process.execPath, ['--import', TSX, CLI, ...args], { encoding: 'utf8', timeout: 120_000 });
/**
 * The processes of the job that run as `role` (the learner, an actor task's actor), not their own
 * children (an actor's environment servers inherit its environment).
 */
function processesOf(jobId: string, role: 'learner' | 'actor'): number[] {
  const matching = fs.readdirSync('/proc').filter((d) => /^\d+$/.test(d)).map(Number).filter((pid) => {
    try {
      const env = fs.readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0');
      return env.includes(`SLURM_JOB_ID=${jobId}`) && env.some((e) => e.startsWith('CPC_LAB_CHILD=') && e.includes(`"role":"${role}"`));
    } catch {
      return false; // gone, or not ours to read
    }
  });
  const parentOf = (pid: number) => Number(fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')[1]);
  return matching.filter((pid) => !matching.includes(parentOf(pid)));
}
/** Jobs a test submitted; cancelled after it, so a failed test leaves nothing running. */
const submitted: string[] = [];
const jobOf = (out: string): string => {
  const id = fs.readFileSync(path.join(out, 'slurm', 'jobs'), 'utf8').trim().split('\n').pop()!;
  submitted.push(id);
  return id;
};

describe.skipIf(!slurm.ok)('a study on a one-node Slurm', () => {
  afterEach(() => {
    if (submitted.length) spawnSync('scancel', submitted.splice(0), { timeout: 20_000 });
  });
  afterAll(() => {
    if (slurm.ok) slurm.stop();
  });

  it('cpc-lab search --launcher slurm trains every run once as an array task; resubmitting submits nothing', { timeout: 300_000 }, async () => {
    const out = tmp('cpc-lab-slurm-');
    const args = ['search', '--levels', 'mock:memory', '--agents', 'baseline', '--trials', '2', '--frames', String(2 * BATCH_FRAMES), '--batch', '4', '--unroll', '10', '--backend', 'wasm', '--out', out];
    expect(cli([...args, '--launcher', 'slurm', '--max-concurrent', '2', '--cpus-per-task', '1'])).toMatch(/^submitted job \d+: 2 of 2 runs as array tasks/);
    const jobId = jobOf(out);
    await waitUntil(`array job ${jobId}`, () => queued(jobId).length === 0, 240_000, () => explain(out, jobId));

    const runs = planRuns(readStudy(out)!, out);
    expect(runs.map((r) => runState(r).state), explain(out, jobId)).toEqual(['finished', 'finished']);
    for (const r of runs) expect(readUpdates(r.runDir).map((u) => u.frames)).toEqual([BATCH_FRAMES, 2 * BATCH_FRAMES]);
    const logs = logsOf(out);
    for (const r of runs) expect(logs.split(`${r.key} (run `).length - 1).toBe(1); // one task per run, started once
    expect(cli(['search', '--status', out])).toMatch(/2\/2 runs finished/);
    expect(cli([...args, '--launcher', 'slurm'])).toMatch(/all 2 runs finished; nothing to submit/);
    expect(fs.readFileSync(path.join(out, 'slurm', 'jobs'), 'utf8').trim().split('\n')).toEqual([jobId]);
  });

  it('cpc-lab train --launcher slurm runs the learner and an actor as two tasks of one job, over CURVE, to the end; a killed actor process is restarted in its task', { timeout: 300_000 }, async () => {
    const runDir = tmp('cpc-lab-slurm-train-');
    const updates = 10;
    const said = cli(['train', '--env', 'mock:memory', '--frames', String(updates * BATCH_FRAMES), '--batch', '4', '--unroll', '10', '--cpc-steps', '3', '--actors', '1', '--mode', 'sync', '--backend', 'wasm', '--run-dir', runDir, '--launcher', 'slurm', '--nodes', '1']);
    const jobId = /^submitted job (\d+)/.exec(said)?.[1] ?? '';
    expect(jobId, said).not.toBe('');
    submitted.push(jobId);
    const output = () => {
      const f = path.join(runDir, 'slurm', `${jobId}.out`);
      return fs.existsSync(f) ? fs.readFileSync(f, 'utf8') : '(no output yet)';
    };
    // sync with one actor: the learner cannot finish without a new actor process
    await waitUntil('2 updates', () => updatesWritten(runDir) >= 2, 120_000, () => output().slice(-3000));
    const [actor, ...others] = processesOf(jobId, 'actor');
    expect(others).toEqual([]);
    process.kill(actor!, 'SIGKILL');
    await waitUntil(`train job ${jobId}`, () => queued(jobId).length === 0, 240_000, () => `squeue: ${queued(jobId).join(' ')}\n${output().slice(-3000)}`);
    const log = output();
    expect(log).toMatch(/\[slurm\] actor-1\.0\.\w+ exited \(SIGKILL\); restart 1/);
    expect(log, log).toMatch(/learner \+ 1 remote actors/);
    expect(log).toMatch(/listening on tcp:\/\/0\.0\.0\.0:\d+ \(sync, batch 4, CURVE\)/);
    expect(log).toMatch(/actor-1\.0\.\w+: 4 x mock:memory connected to tcp:\/\/[^:]+:\d+/);
    expect(log).toMatch(new RegExp(`done: ${updates * BATCH_FRAMES} frames, ${updates} updates`));
    expect(log).toMatch(/\[slurm\] actor task 1: the learner has ended/); // not stopped by srun's --wait
    expect(log).not.toMatch(/First task exited/);
    expect(readUpdates(runDir).map((u) => u.frames)).toEqual(Array.from({ length: updates }, (_, i) => (i + 1) * BATCH_FRAMES));
  });

  it('a requeued (preempted) task resumes its run from the checkpoint it wrote when stopped; every update is recorded once', { timeout: 300_000 }, async () => {
    const out = tmp('cpc-lab-slurm-');
    const updates = 100;
    const config = SearchConfigSchema.parse({ levels: ['mock:memory'], agents: ['baseline'], trials: 1, out, train: { frames: updates * BATCH_FRAMES, batch: 4, unroll: 10, backend: 'wasm' } });
    submitSearch(config, {});
    const jobId = jobOf(out);
    const [run] = planRuns(readStudy(out)!, out);
    await waitUntil('3 updates of the run', () => updatesWritten(run!.runDir) >= 3, 120_000, () => explain(out, jobId));
    expect(spawnSync('scontrol', ['requeue', `${jobId}_0`], { timeout: 20_000 }).status).toBe(0);
    await waitUntil('the requeued task pending', () => queued(jobId).includes('PENDING'), 60_000, () => explain(out, jobId));
    // Slurm holds a requeued job back for a while; start it now
    spawnSync('scontrol', ['update', `JobId=${jobId}_0`, 'StartTime=now'], { timeout: 20_000 });
    await waitUntil(`requeued job ${jobId}`, () => queued(jobId).length === 0, 240_000, () => explain(out, jobId));

    const logs = logsOf(out);
    const resumedFrom = Number(/resuming from (\d+) frames/.exec(logs)?.[1]);
    expect(resumedFrom, explain(out, jobId)).toBeGreaterThan(0);
    expect(logs).toMatch(/stopped at \d+ frames/);
    expect(studyStatus(out).runs.map((r) => [r.state, r.frames])).toEqual([['finished', updates * BATCH_FRAMES]]);
    expect(readUpdates(run!.runDir).map((u) => u.frames)).toEqual(Array.from({ length: updates }, (_, i) => (i + 1) * BATCH_FRAMES));
  });
});

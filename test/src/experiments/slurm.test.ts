import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { listCheckpoints } from '../../../src/checkpoint.js';
import { runState } from '../../../src/experiments/search.js';
import { arraySpec, formatStatus, runArrayTask, sbatchScript, shellQuote, studyStatus, submitSearch, unfinishedIndices, verifySlurmOptions } from '../../../src/experiments/slurm.js';
import { planRuns, readStudy, SearchConfigSchema, type PlannedRun } from '../../../src/experiments/study.js';
import { resolveConfig } from '../../../src/config.js';
import { refuseWhileQueued } from '../../../src/experiments/squeue.js';
import { submitTraining, trainScripts } from '../../../src/runtime/slurmTrain.js';
import { tmp } from './fixtures.js';

const BATCH_FRAMES = 4 * 10 * 4;

/** An executable that prints `stdout` and appends its arguments to `<file>.args`. */
function fakeCommand(dir: string, name: string, stdout: string): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, `#!/bin/sh\necho "$@" >> ${shellQuote(file + '.args')}\nprintf '%s\\n' ${shellQuote(stdout)}\n`, { mode: 0o755 });
  return file;
}

describe('Slurm array jobs of a study', () => {
  it('arraySpec compresses plan indices into sbatch ranges, with the concurrency limit', () => {
    expect(arraySpec([0, 1, 2, 3])).toBe('0-3');
    expect(arraySpec([7, 0, 1, 2, 3, 5, 8], 4)).toBe('0-3,5,7-8%4');
    expect(arraySpec([4])).toBe('4');
    expect(arraySpec([2, 2, 3])).toBe('2-3');
    expect(() => arraySpec([])).toThrow(/no array indices/);
  });

  it('unfinishedIndices keeps the plan index of every run not finished', () => {
    const runs = ['a', 'b', 'c', 'd'].map((key) => ({ key }) as PlannedRun);
    const states = { a: { state: 'finished', frames: 10 }, b: { state: 'resume', frames: 5 }, c: { state: 'start' }, d: { state: 'finished', frames: 10 } } as const;
    expect(unfinishedIndices(runs, (r) => states[r.key as keyof typeof states])).toEqual([1, 2]);
  });

  it('the sbatch script holds the array, the asked resources, requeue, and the task command with the study folder', () => {
    const script = sbatchScript({
      outDir: '/shared/my study',
      indices: [0, 1, 3],
      options: { partition: 'gpu', time: '2:00:00', cpusPerTask: 2, mem: '8G', gres: 'gpu:1', maxConcurrent: 2, sbatchArgs: ['--account=rl', '--qos=low'] },
      command: ['/usr/bin/node', "/opt/it's/cli.js"],
    });
    const lines = script.split('\n');
    expect(lines[0]).toBe('#!/bin/bash');
    for (const l of ['--array=0-1,3%2', '--partition=gpu', '--time=2:00:00', '--cpus-per-task=2', '--mem=8G', '--gres=gpu:1', '--account=rl', '--qos=low', '--requeue', '--open-mode=append', '--output=/shared/my study/slurm/logs/%A_%a.out', '--job-name=cpc-lab-my_study']) {
      expect(lines).toContain(`#SBATCH ${l}`);
    }
    expect(lines).toContain(`exec '/usr/bin/node' '/opt/it'\\''s/cli.js' 'search' '--array-task' '/shared/my study'`);
    // sbatch reads #SBATCH lines only before the first command
    expect(lines.findLastIndex((l) => l.startsWith('#SBATCH'))).toBeLessThan(lines.findIndex((l) => l.startsWith('exec ')));
    const bare = sbatchScript({ outDir: '/s', indices: [2], options: {}, command: ['node'] });
    expect(bare.split('\n').filter((l) => l.startsWith('#SBATCH')).map((l) => l.split('=')[0])).toEqual(['#SBATCH --job-name', '#SBATCH --array', '#SBATCH --output', '#SBATCH --open-mode', '#SBATCH --requeue']);
    expect(bare).toContain('#SBATCH --array=2\n');
  });

  it('bad Slurm options are reported with the flag to fix', () => {
    expect(verifySlurmOptions({ partition: 'a b', cpusPerTask: 0, maxConcurrent: 1.5, sbatchArgs: ['account=rl', '--array=0-3', '--qos=low'] })).toEqual([
      "--partition: 'a b' must be one word without spaces",
      '--cpus-per-task: expected a positive integer, got 0',
      '--max-concurrent: expected a positive integer, got 1.5',
      "--sbatch-arg: 'account=rl' must be one sbatch option, e.g. --sbatch-arg=--account=rl",
      "--sbatch-arg: '--array=0-3': the array is the study's unfinished runs; limit it with --max-concurrent",
    ]);
    expect(verifySlurmOptions({ partition: 'gpu', time: '1:00', sbatchArgs: ['--exclusive'] })).toEqual([]);
  });

  it('an array task trains exactly its run; a resubmission asks only for the unfinished runs; a finished task is skipped', async () => {
    const out = tmp('cpc-lab-slurm-');
    const bin = tmp('cpc-lab-slurm-bin-');
    const config = SearchConfigSchema.parse({ levels: ['mock:memory'], agents: ['baseline'], trials: 3, out, train: { frames: 2 * BATCH_FRAMES, batch: 4, unroll: 10, backend: 'wasm' } });
    const sbatch = fakeCommand(bin, 'sbatch', '4242');

    const first = submitSearch(config, { maxConcurrent: 2 }, { sbatch });
    expect(first).toMatchObject({ indices: [0, 1, 2], runs: 3, jobId: '4242' });
    expect(fs.readFileSync(first.script, 'utf8')).toContain('#SBATCH --array=0-2%2\n');
    expect(fs.readFileSync(sbatch + '.args', 'utf8')).toBe(`--parsable ${first.script}\n`);
    expect(fs.readFileSync(path.join(out, 'slurm', 'jobs'), 'utf8')).toBe('4242\n');

    const lines: string[] = [];
    const outcome = await runArrayTask(out, 1, (l) => lines.push(l));
    expect(outcome).toMatchObject({ status: 'finished', frames: 2 * BATCH_FRAMES });
    const runs = planRuns(readStudy(out)!, out);
    expect(runs.map((r) => runState(r).state)).toEqual(['start', 'finished', 'start']);
    expect(listCheckpoints(runs[1]!.runDir).length).toBeGreaterThan(0);

    const again = submitSearch(config, {}, { printOnly: true });
    expect(again.indices).toEqual([0, 2]);
    expect(again.jobId).toBeUndefined();
    expect(fs.readFileSync(again.script, 'utf8')).toContain('#SBATCH --array=0,2\n');
    expect(fs.readFileSync(sbatch + '.args', 'utf8').split('\n').filter(Boolean)).toHaveLength(1); // print-only submitted nothing

    const checkpoints = listCheckpoints(runs[1]!.runDir);
    expect(await runArrayTask(out, 1, () => {})).toEqual({ status: 'skipped', frames: 2 * BATCH_FRAMES });
    expect(listCheckpoints(runs[1]!.runDir)).toEqual(checkpoints);
    await expect(runArrayTask(out, 3, () => {})).rejects.toThrow(/array task 3: the study in .* has runs 0-2/);

    // a second job was submitted by hand for run 2; squeue answers per job
    fs.appendFileSync(path.join(out, 'slurm', 'jobs'), '4343\n');
    const squeue = path.join(bin, 'squeue');
    fs.writeFileSync(squeue, `#!/bin/sh\necho "$@" >> ${shellQuote(squeue + '.args')}\ncase "$4" in 4242) printf '0 RUNNING\\n2 PENDING\\n';; 4343) printf '2 RUNNING\\n';; esac\n`, { mode: 0o755 });
    const status = studyStatus(out, squeue);
    expect(fs.readFileSync(squeue + '.args', 'utf8')).toBe('-h -r -j 4242 -o %K %T\n-h -r -j 4343 -o %K %T\n');
    expect(status.jobs).toEqual(['4242', '4343']);
    expect(status.runs.map((r) => [r.index, r.state, r.frames, r.slurm])).toEqual([
      [0, 'start', 0, { jobId: '4242', state: 'RUNNING' }],
      [1, 'finished', 2 * BATCH_FRAMES, undefined],
      [2, 'start', 0, { jobId: '4343', state: 'RUNNING' }],
    ]);
    const table = formatStatus(status);
    expect(table).toMatch(/^run\s+key\s+state\s+frames\s+slurm \(jobs 4242, 4343\)\n/);
    expect(table).toMatch(/\n0\s+mock-memory\/baseline-t00\s+no checkpoint\s+0\/320\s+RUNNING \(job 4242\)\n/);
    expect(table).toMatch(/1\s+mock-memory\/baseline-t01\s+finished\s+320\/320\n[^]*1\/3 runs finished$/);
    // without squeue the folder alone tells
    expect(studyStatus(out, path.join(bin, 'no-such-squeue')).runs.map((r) => r.slurm)).toEqual([undefined, undefined, undefined]);

    // runs still queued are never submitted twice; a local search refuses while any is queued
    expect(submitSearch(config, {}, { printOnly: true, squeue })).toMatchObject({ indices: [], queued: new Map([[0, { jobId: '4242', state: 'RUNNING' }], [2, { jobId: '4343', state: 'RUNNING' }]]) });
    fs.writeFileSync(squeue, '#!/bin/sh\ncase "$4" in 4242) printf \'2 PENDING\\n\';; esac\n', { mode: 0o755 });
    expect(submitSearch(config, {}, { printOnly: true, squeue }).indices).toEqual([0]);
    expect(() => refuseWhileQueued(out, squeue)).toThrow(/runs 2 of the study in .* are queued or running in Slurm job 4242 \(squeue\); a local search would train them a second time\. .*scancel 4242/);
    expect(() => refuseWhileQueued(out, path.join(bin, 'no-such-squeue'))).not.toThrow();
  });

  it('refuses to submit while a local search holds the study', () => {
    const out = tmp('cpc-lab-slurm-');
    fs.writeFileSync(path.join(out, 'search.lock'), String(process.pid));
    const config = SearchConfigSchema.parse({ levels: ['mock:memory'], trials: 1, out, train: { frames: BATCH_FRAMES, batch: 4, unroll: 10 } });
    expect(() => submitSearch(config, {}, { printOnly: true })).toThrow(new RegExp(`another search \\(pid ${process.pid}\\) is running`));
  });
});

describe('one training on Slurm', () => {
  it('the sbatch script asks for the nodes and one task per process; the multi-prog file puts the learner on task 0, actors on the rest', () => {
    const { sbatch, multiProg } = trainScripts({ runDir: '/shared/run', nodes: 3, actors: 8, options: { partition: 'cpu', time: '1:00:00' }, command: ['/usr/bin/node', '/opt/cli.js'] });
    const lines = sbatch.split('\n');
    for (const l of ['--nodes=3', '--ntasks=9', '--partition=cpu', '--time=1:00:00', '--requeue', '--output=/shared/run/slurm/%j.out']) expect(lines).toContain(`#SBATCH ${l}`);
    expect(lines.at(-2)).toBe("exec srun --wait=30 --kill-on-bad-exit=0 --multi-prog '/shared/run/slurm/train.multi-prog'");
    expect(sbatch).toContain('CPC_LAB_LEARNER_HOST="$(scontrol show hostnames "$SLURM_JOB_NODELIST" | head -n 1)"');
    expect(multiProg.split('\n')).toEqual([
      "0 '/usr/bin/node' '/opt/cli.js' 'train' '--slurm-task' 'learner' '--run-dir' '/shared/run'",
      "1-8 '/usr/bin/node' '/opt/cli.js' 'train' '--slurm-task' 'actor' '--run-dir' '/shared/run'",
      '',
    ]);
    expect(trainScripts({ runDir: '/r', nodes: 1, actors: 1, options: {}, command: ['node'] }).multiProg.split('\n')[1]).toMatch(/^1 /);
  });

  it('submitTraining writes the settings with an all-interfaces endpoint and keys in the run folder, and refuses what cannot work', () => {
    const runDir = tmp('cpc-lab-slurm-train-');
    const bin = tmp('cpc-lab-slurm-bin-');
    const config = resolveConfig({ env: 'mock:memory', batch: 4, unroll: 10, cpcSteps: 3, actors: 2, runDir });
    const sub = submitTraining(config, 2, {}, { sbatch: fakeCommand(bin, 'sbatch', '77') });
    expect(sub).toEqual({ script: path.join(runDir, 'slurm', 'train.sbatch'), jobId: '77' });
    const written = JSON.parse(fs.readFileSync(path.join(runDir, 'slurm', 'train.json'), 'utf8')) as Record<string, unknown>;
    expect(written).toMatchObject({ learnerEndpoint: 'tcp://0.0.0.0:*', curveKeys: path.join(runDir, 'slurm', 'curve-keys.json'), actors: 2, runDir });
    expect(fs.statSync(path.join(runDir, 'slurm', 'curve-keys.json')).mode & 0o077).toBe(0);
    expect(() => submitTraining({ ...config, actors: 0 }, 1, {}, { printOnly: true })).toThrow(/--actors: a training on Slurm needs at least one actor/);
    expect(() => submitTraining(config, 0, {}, { printOnly: true })).toThrow(/--nodes: expected a positive integer, got 0/);
    expect(() => submitTraining({ ...config, learnerEndpoint: 'tcp://0.0.0.0:5555' }, 1, {}, { printOnly: true })).toThrow(/leave them out/);
  });
});

/**
 * A study on a Slurm cluster: one `sbatch --array` job, one array task per unfinished run (its index
 * in the study's plan). Each task trains its run through the local search's own path (`startRun`):
 * a finished run is skipped, a started one resumes from its checkpoint, so a resubmitted or requeued
 * (preempted) task continues where its run stopped. The study folder must be on a filesystem every
 * node shares.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { lockStudy, runState, startRun, stopRun, type RunOutcome, type RunState } from './search.js';
import { JOBS_FILE, queuedTasks, SLURM_DIR, studyJobs, type QueuedTask } from './squeue.js';
import { openStudy, planRuns, readStudy, STUDY_FILE, verifyPlan, type PlannedRun, type SearchConfig } from './study.js';

/** What `cpc-lab search --launcher slurm` asks of Slurm; absent ones are the cluster's defaults. */
export interface SlurmOptions {
  partition?: string;
  /** Per array task, in any sbatch format (e.g. `2:00:00`, `1-00:00:00`). */
  time?: string;
  cpusPerTask?: number;
  /** Per node, in sbatch format (e.g. `8G`). */
  mem?: string;
  gres?: string;
  /** Array tasks running at once (sbatch's `%N`). */
  maxConcurrent?: number;
  /** More sbatch options, each one whole option (e.g. `--account=rl`, `--qos=low`). */
  sbatchArgs?: string[];
}

export { SLURM_DIR, JOBS_FILE } from './squeue.js';
export const SBATCH_FILE = 'search.sbatch';

/** `[0,1,2,3,5,7,8]` -> `0-3,5,7-8`, with `%max` when given: sbatch's `--array` value. */
export function arraySpec(indices: number[], maxConcurrent?: number): string {
  if (!indices.length) throw new Error('arraySpec: no array indices');
  const sorted = [...new Set(indices)].sort((a, b) => a - b);
  const ranges: string[] = [];
  let lo = sorted[0];
  for (let i = 1; i <= sorted.length; i++) {
    if (i < sorted.length && sorted[i] === sorted[i - 1]! + 1) continue;
    const hi = sorted[i - 1];
    ranges.push(lo === hi ? `${lo}` : `${lo}-${hi}`);
    lo = sorted[i];
  }
  return ranges.join(',') + (maxConcurrent ? `%${maxConcurrent}` : '');
}

/** Indices (in the plan) of the runs not finished yet: the array a (re)submission asks for. */
export function unfinishedIndices(runs: PlannedRun[], stateOf: (run: PlannedRun) => RunState = (r) => runState(r)): number[] {
  return runs.flatMap((r, i) => (stateOf(r).state === 'finished' ? [] : [i]));
}

/** Every invalid Slurm option, as actionable messages (values go into `#SBATCH` lines, so no whitespace). */
export function verifySlurmOptions(o: SlurmOptions): string[] {
  const errors: string[] = [];
  for (const key of ['partition', 'time', 'mem', 'gres'] as const) {
    const v = o[key];
    if (v !== undefined && (v === '' || /\s/.test(v))) errors.push(`--${key}: '${v}' must be one word without spaces`);
  }
  for (const key of ['cpusPerTask', 'maxConcurrent'] as const) {
    const v = o[key];
    const flag = key === 'cpusPerTask' ? '--cpus-per-task' : '--max-concurrent';
    if (v !== undefined && !(Number.isInteger(v) && v > 0)) errors.push(`${flag}: expected a positive integer, got ${String(v)}`);
  }
  for (const arg of o.sbatchArgs ?? []) {
    if (!arg.startsWith('-') || /[\n\r]/.test(arg)) errors.push(`--sbatch-arg: '${arg}' must be one sbatch option, e.g. --sbatch-arg=--account=rl`);
    else if (/^--?(array|a)(=|$)/.test(arg)) errors.push(`--sbatch-arg: '${arg}': the array is the study's unfinished runs; limit it with --max-concurrent`);
  }
  return errors;
}

/** `it's` -> `'it'\''s'`: one shell word. */
export function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/** The command that runs this cpc-lab (node, tsx's loader from source, the CLI), absolute paths so a node of the cluster finds it. */
export function cliCommand(): string[] {
  const fromSource = import.meta.url.endsWith('.ts');
  const cli = fileURLToPath(new URL(fromSource ? '../cli.ts' : '../cli.js', import.meta.url));
  return [process.execPath, ...(fromSource ? ['--import', import.meta.resolve('tsx')] : []), cli];
}

/** The directives every cpc-lab job shares: appended logs, requeueable, and the user's resources. */
export function commonDirectives(o: SlurmOptions): string[] {
  return [
    '#SBATCH --open-mode=append',
    '#SBATCH --requeue',
    ...(o.partition ? [`#SBATCH --partition=${o.partition}`] : []),
    ...(o.time ? [`#SBATCH --time=${o.time}`] : []),
    ...(o.cpusPerTask ? [`#SBATCH --cpus-per-task=${o.cpusPerTask}`] : []),
    ...(o.mem ? [`#SBATCH --mem=${o.mem}`] : []),
    ...(o.gres ? [`#SBATCH --gres=${o.gres}`] : []),
    ...(o.sbatchArgs ?? []).map((a) => `#SBATCH ${a}`),
  ];
}

/**
 * The sbatch script of a study: an array of `indices`, each task running `command ... search
 * --array-task <outDir>`. Logs go to `<outDir>/slurm/logs/<job>_<task>.out`, appended to when a task
 * is requeued.
 */
export function sbatchScript(p: { outDir: string; indices: number[]; options: SlurmOptions; command: string[] }): string {
  const o = p.options;
  const out = path.resolve(p.outDir);
  const lines = [
    '#!/bin/bash',
    `#SBATCH --job-name=cpc-lab-${path.basename(out).replace(/[^\w.-]/g, '_')}`,
    `#SBATCH --array=${arraySpec(p.indices, o.maxConcurrent)}`,
    `#SBATCH --output=${path.join(out, SLURM_DIR, 'logs', '%A_%a.out')}`,
    ...commonDirectives(o),
    `# written by cpc-lab: one array task per unfinished run of the study in ${out} (its index in the plan).`,
    '# A task skips a finished run and resumes a started one from its checkpoint; resubmit with the same',
    '# `cpc-lab search --launcher slurm` command (or `sbatch` this file after editing --array) to continue.',
    `exec ${[...p.command, 'search', '--array-task', out].map(shellQuote).join(' ')}`,
    '',
  ];
  return lines.join('\n');
}

export interface Submission {
  script: string;
  /** Plan indices in the array (the unfinished runs not queued in an earlier job). */
  indices: number[];
  runs: number;
  /** Unfinished runs left out because an earlier job still queues or runs them. */
  queued: Map<number, QueuedTask>;
  /** Absent with `printOnly` or when no run is left to submit. */
  jobId?: string;
}

/**
 * Writes (and unless `printOnly`, submits) the study's array job for the unfinished runs that no
 * earlier job of the study still queues or runs. Refuses while a local search holds the study, and
 * submits nothing when no run is left.
 */
export function submitSearch(config: SearchConfig, options: SlurmOptions, p: { printOnly?: boolean; sbatch?: string; squeue?: string } = {}): Submission {
  const errors = verifySlurmOptions(options);
  if (errors.length) throw new Error(`invalid Slurm options:\n  ${errors.join('\n  ')}`);
  const outDir = path.resolve(config.out);
  lockStudy(outDir)(); // a local search running on this study would train the same runs
  const study = openStudy({ ...config, out: outDir });
  const runs = planRuns(study, outDir);
  const planErrors = verifyPlan(runs);
  if (planErrors.length) throw new Error(`invalid search settings:\n  ${planErrors.join('\n  ')}`);
  const inQueue = queuedTasks(outDir, p.squeue);
  const unfinished = unfinishedIndices(runs);
  const indices = unfinished.filter((i) => !inQueue.has(i));
  const queued = new Map(unfinished.filter((i) => inQueue.has(i)).map((i) => [i, inQueue.get(i)!]));
  const dir = path.join(outDir, SLURM_DIR);
  fs.mkdirSync(path.join(dir, 'logs'), { recursive: true });
  const script = path.join(dir, SBATCH_FILE);
  const plan = { script, indices, runs: runs.length, queued };
  if (!indices.length) return plan;
  fs.writeFileSync(script, sbatchScript({ outDir, indices, options, command: cliCommand() }));
  if (p.printOnly) return plan;
  const jobId = submitScript(script, p.sbatch);
  fs.appendFileSync(path.join(dir, JOBS_FILE), jobId + '\n');
  return { ...plan, jobId };
}

/** `sbatch --parsable script`: the job id, or an error saying what sbatch said. */
export function submitScript(script: string, sbatch = 'sbatch'): string {
  try {
    return execFileSync(sbatch, ['--parsable', script], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim().split(';')[0]!; // split gives at least one part
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { stderr?: string };
    if (e.code === 'ENOENT') throw new Error(`sbatch not found: is this a Slurm login node? The script is ${script} (submit it with sbatch where Slurm is)`);
    throw new Error(`sbatch refused ${script}: ${(e.stderr ?? e.message).trim()}`);
  }
}

/** The runs of the study stored in `outDir`, in plan order (the array's indices). */
function storedPlan(outDir: string): PlannedRun[] {
  const study = readStudy(outDir);
  if (!study) throw new Error(`${path.join(outDir, STUDY_FILE)} does not exist (is ${outDir} a study folder?)`);
  return planRuns(study, outDir);
}

/**
 * One array task: trains run `index` of the study in `outDir` (or skips it when finished). SIGTERM
 * (scancel, preemption, the time limit) stops it after the current update with a checkpoint.
 */
export async function runArrayTask(outDir: string, index: number, log: (line: string) => void = console.log): Promise<RunOutcome | { status: 'skipped'; frames: number }> {
  const runs = storedPlan(path.resolve(outDir));
  const run = runs[index];
  if (!Number.isInteger(index) || !run) throw new Error(`array task ${index}: the study in ${outDir} has runs 0-${runs.length - 1}`);
  const state = runState(run, (w) => log(`${run.key}: ${w}`));
  if (state.state === 'finished') {
    log(`[slurm] ${run.key} (run ${index}) is finished already (${state.frames} frames); nothing to do`);
    return { status: 'skipped', frames: state.frames };
  }
  log(`[slurm] ${run.key} (run ${index}): ${state.state === 'resume' ? `resuming from ${state.frames} frames` : 'starting'}; log ${path.join(run.runDir, 'train.log')}`);
  const { child, outcome } = startRun(run, state, () => {});
  const stop = () => stopRun(run, child);
  for (const s of ['SIGTERM', 'SIGINT'] as const) process.on(s, stop);
  try {
    const o = await outcome;
    log(`[slurm] ${run.key}: ${o.status === 'failed' ? `FAILED: ${o.error}` : `${o.status} at ${o.frames} frames`}`);
    return o;
  } finally {
    for (const s of ['SIGTERM', 'SIGINT'] as const) process.off(s, stop);
  }
}

export interface RunStatus {
  index: number;
  key: string;
  state: RunState['state'];
  frames: number;
  target: number;
  /** squeue's state of this run's array task and its job (the newest of the study's jobs holding it), when squeue answers. */
  slurm?: QueuedTask;
}

/** Each run's state from the study folder, with squeue's where the study was submitted to Slurm. */
export function studyStatus(outDir: string, squeue = 'squeue'): { runs: RunStatus[]; jobs: string[] } {
  const runs = storedPlan(path.resolve(outDir));
  const queued = queuedTasks(outDir, squeue);
  return {
    jobs: studyJobs(outDir),
    runs: runs.map((r, index) => {
      const s = runState(r);
      const slurm = queued.get(index);
      return { index, key: r.key, state: s.state, frames: s.state === 'start' ? 0 : s.frames, target: r.config.frames ?? 0, ...(slurm ? { slurm } : {}) };
    }),
  };
}

/** `studyStatus` as a table. */
export function formatStatus(s: { runs: RunStatus[]; jobs: string[] }): string {
  const words = { finished: 'finished', resume: 'checkpointed', start: 'no checkpoint' } as const;
  const rows = s.runs.map((r) => [String(r.index), r.key, words[r.state], `${r.frames}/${r.target}`, r.slurm ? `${r.slurm.state} (job ${r.slurm.jobId})` : '']);
  const header = ['run', 'key', 'state', 'frames', s.jobs.length ? `slurm (jobs ${s.jobs.join(', ')})` : ''];
  const widths = header.map((h, c) => Math.max(h.length, ...rows.map((r) => r[c]!.length)));
  const done = s.runs.filter((r) => r.state === 'finished').length;
  return [header, ...rows].map((r) => r.map((v, c) => v.padEnd(widths[c]!)).join('  ').trimEnd()).join('\n') + `\n${done}/${s.runs.length} runs finished`;
}

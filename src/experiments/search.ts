/**
 * Runs a study's plan: every (trial, level, agent) run, up to `parallel` at once, each in its own
 * process (`runWorker.ts`). A restarted search skips finished runs (final checkpoint at the target
 * frames), resumes started ones from their checkpoints and starts the rest.
 */
import { fork, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadLatestCheckpoint } from '../checkpoint.js';
import { formatCount, formatDuration } from '../metrics.js';
import { lockFolder } from '../run.js';
import type { RunJob, WorkerMessage } from './runWorker.js';
import { refuseWhileQueued } from './squeue.js';
import { openStudy, planRuns, SearchConfigSchema, verifyPlan, type PlannedRun, type SearchConfig, type SearchConfigInput, type Study } from './study.js';

export interface SearchHooks {
  /** Progress lines (default: stdout). */
  log?: (line: string) => void;
  /** Stops the search: running runs checkpoint and exit, no new ones start. */
  signal?: AbortSignal;
  /** Seconds between progress lines (default 30). */
  progressEvery?: number;
  /** Every start, update and end of a run (tests watch the search through it). */
  onEvent?: (e: SearchEvent) => void;
}

export type SearchEvent =
  | { type: 'start'; run: PlannedRun; pid: number; resumeFrom: number }
  | { type: 'update'; run: PlannedRun; frames: number }
  | { type: 'end'; run: PlannedRun; outcome: RunOutcome };

export type RunOutcome = { status: 'finished'; frames: number; meanReturn: number } | { status: 'stopped'; frames: number } | { status: 'failed'; error: string };

export interface SearchSummary {
  study: Study;
  runs: PlannedRun[];
  /** Finished before this search started (not run again). */
  skipped: string[];
  /** Finished by this search. */
  finished: string[];
  /** Resumed from a checkpoint by this search (and finished, stopped or failed). */
  resumed: string[];
  /** Crashed, with why; a restarted search retries them. */
  failed: { key: string; error: string }[];
  /** Not finished because the search was stopped. */
  unfinished: string[];
  seconds: number;
}

/** Created in a run folder to stop its worker after the current update. */
const STOP_FILE = 'stop-requested';
/** Held by the search running on a study folder (its pid), so two never train the same runs. */
export const LOCK_FILE = 'search.lock';

/** Takes the study folder's lock (a stale one, of a dead process, is taken over); returns its release. */
export function lockStudy(outDir: string): () => void {
  return lockFolder(outDir, LOCK_FILE, 'search');
}

/** Where a run stands: finished, resumable from a checkpoint, or to be started afresh. */
export type RunState = { state: 'finished'; frames: number } | { state: 'resume'; frames: number } | { state: 'start' };

/** A run is finished when its newest readable checkpoint has reached the target frames. */
export function runState(run: PlannedRun, warn: (msg: string) => void = () => {}): RunState {
  const checkpoint = loadLatestCheckpoint(run.runDir, warn);
  if (!checkpoint) return { state: 'start' };
  return checkpoint.frames >= (run.config.frames ?? Infinity) ? { state: 'finished', frames: checkpoint.frames } : { state: 'resume', frames: checkpoint.frames };
}


/** From source the worker needs tsx's loader; from the build it is plain JavaScript. */
function workerEntry(): { file: string; execArgv: string[] } {
  const url = new URL('./runWorker' + (import.meta.url.endsWith('.ts') ? '.ts' : '.js'), import.meta.url);
  return { file: fileURLToPath(url), execArgv: url.pathname.endsWith('.ts') ? ['--import', 'tsx'] : [] };
}

/** Trains one run in a child process whose output goes to `<runDir>/train.log`. */
function runInChild(run: PlannedRun, resume: boolean, cores: number, onFrames: (frames: number) => void): { child: ChildProcess; outcome: Promise<RunOutcome> } {
  fs.mkdirSync(run.runDir, { recursive: true });
  const logFile = path.join(run.runDir, 'train.log');
  const log = fs.openSync(logFile, 'a');
  const { file, execArgv } = workerEntry();
  const child = fork(file, [], { execArgv, stdio: ['ignore', log, log, 'ipc'] });
  fs.closeSync(log);
  let result: RunOutcome | undefined;
  let frames = 0;
  child.on('message', (m: WorkerMessage) => {
    if (m.type === 'update') onFrames((frames = m.frames));
    else if (m.type === 'done') {
      const s = m.summary;
      result = s.frames >= (run.config.frames ?? Infinity) ? { status: 'finished', frames: s.frames, meanReturn: s.meanReturn } : { status: 'stopped', frames: s.frames };
    }
  });
  const stopFile = path.join(run.runDir, STOP_FILE);
  fs.rmSync(stopFile, { force: true });
  const job: RunJob = { type: 'job', name: run.key, runDir: run.runDir, config: run.config, resume, stopFile, cores };
  child.send(job);
  const outcome = new Promise<RunOutcome>((resolve) => {
    child.on('error', (err) => (result ??= { status: 'failed', error: err.message }));
    child.on('exit', (code, signal) => {
      // a worker still starting up has no SIGINT handler yet: asked to stop, it dies of the signal instead
      if (!result && signal === 'SIGINT' && fs.existsSync(stopFile)) result = { status: 'stopped', frames };
      const why = signal ? `killed by ${signal}` : `exit code ${code}`;
      resolve(result ?? { status: 'failed', error: `${why} at ${frames} frames; see ${logFile}` });
    });
  });
  return { child, outcome };
}

/**
 * Trains one run of a study in its own process: from scratch (clearing a folder that never
 * checkpointed) or from its checkpoint. The one path of the local search and of a Slurm array task.
 */
export function startRun(run: PlannedRun, state: RunState, onFrames: (frames: number) => void, cores = os.availableParallelism()): { child: ChildProcess; outcome: Promise<RunOutcome> } {
  if (state.state === 'finished') throw new Error(`${run.key} is finished already (${state.frames} frames)`);
  if (state.state === 'start') fs.rmSync(run.runDir, { recursive: true, force: true }); // started but never checkpointed: nothing to keep
  return runInChild(run, state.state === 'resume', cores, onFrames);
}

/** Asks a run started by `startRun` to stop after its current update, with a checkpoint. */
export function stopRun(run: PlannedRun, child: ChildProcess): void {
  fs.writeFileSync(path.join(run.runDir, STOP_FILE), '');
  child.kill('SIGINT');
}

/**
 * Runs a paired random search (or continues the one stored in `out`). Writes `study.json` and one
 * run folder per (level, agent, trial); returns what happened to every run.
 */
export async function runSearch(input: SearchConfigInput, hooks: SearchHooks = {}): Promise<SearchSummary> {
  const config = SearchConfigSchema.parse(input);
  const log = hooks.log ?? ((line: string) => console.log(line));
  const unlock = lockStudy(config.out);
  try {
    refuseWhileQueued(config.out);
    return await search(config, log, hooks);
  } finally {
    unlock();
  }
}

async function search(config: SearchConfig, log: (line: string) => void, hooks: SearchHooks): Promise<SearchSummary> {
  const study = openStudy(config);
  const runs = planRuns(study, config.out);
  const errors = verifyPlan(runs);
  if (errors.length) throw new Error(`invalid search settings:\n  ${errors.join('\n  ')}`);
  const start = Date.now();
  const seconds = () => (Date.now() - start) / 1000;

  const states = new Map(runs.map((r) => [r.key, runState(r, (w) => log(`${r.key}: ${w}`))]));
  const frames = new Map(runs.map((r) => {
    const s = states.get(r.key)!;
    return [r.key, s.state === 'start' ? 0 : s.frames];
  }));
  const framesAtStart = [...frames.values()].reduce((a, b) => a + b, 0);
  const totalFrames = runs.reduce((a, r) => a + (r.config.frames ?? 0), 0);
  const summary: SearchSummary = { study, runs, skipped: [], finished: [], resumed: [], failed: [], unfinished: [], seconds: 0 };
  const queue = runs.filter((r) => {
    if (states.get(r.key)!.state !== 'finished') return true;
    summary.skipped.push(r.key);
    return false;
  });
  if (config.parallel > os.availableParallelism()) log(`search: --parallel ${config.parallel} is more than the ${os.availableParallelism()} cores here; runs will slow each other down`);
  log(`search: ${runs.length} runs (${study.trials.length} trials x ${study.levels.length} levels x ${study.agents.length} agents) in ${config.out}; ` +
      `${summary.skipped.length} finished already, ${queue.length} to run, ${config.parallel} at a time`);

  // each run's share of the cores: its learner threads (auto) and bridges count from it
  const share = Math.max(1, Math.floor(os.availableParallelism() / config.parallel));
  const children = new Map<ChildProcess, PlannedRun>();
  const onAbort = () => children.forEach((run, child) => stopRun(run, child));
  hooks.signal?.addEventListener('abort', onAbort, { once: true });
  let lastProgress = seconds();
  const progress = () => {
    const done = summary.skipped.length + summary.finished.length;
    const now = [...frames.values()].reduce((a, b) => a + b, 0);
    const fps = (now - framesAtStart) / Math.max(seconds(), 1e-9);
    log(`[search] runs ${done}/${runs.length} done, ${children.size} running, ${summary.failed.length} failed | frames ${formatCount(now)}/${formatCount(totalFrames)} | ` +
        `${formatCount(fps)} fps | ETA ${formatDuration((totalFrames - now) / Math.max(fps, 1e-9))}`);
  };

  const worker = async () => {
    while (queue.length && !hooks.signal?.aborted) {
      const run = queue.shift()!;
      const state = states.get(run.key)!;
      if (state.state === 'resume') summary.resumed.push(run.key); // the resumed learner drops the records after its checkpoint
      const { child, outcome: running } = startRun(run, state, (f) => {
        frames.set(run.key, f);
        hooks.onEvent?.({ type: 'update', run, frames: f });
        if (seconds() - lastProgress >= (hooks.progressEvery ?? 30)) {
          lastProgress = seconds();
          progress();
        }
      }, share);
      children.set(child, run);
      hooks.onEvent?.({ type: 'start', run, pid: child.pid ?? -1, resumeFrom: state.state === 'resume' ? state.frames : 0 });
      const outcome = await running;
      children.delete(child);
      hooks.onEvent?.({ type: 'end', run, outcome });
      if (outcome.status === 'finished') {
        summary.finished.push(run.key);
        log(`[search] finished ${run.key}: ${formatCount(outcome.frames)} frames, return ${outcome.meanReturn.toFixed(3)}`);
      } else if (outcome.status === 'failed') {
        summary.failed.push({ key: run.key, error: outcome.error });
        log(`[search] FAILED ${run.key}: ${outcome.error}`);
      } else {
        summary.unfinished.push(run.key);
      }
      progress();
    }
  };
  try {
    await Promise.all(Array.from({ length: config.parallel }, worker));
  } finally {
    hooks.signal?.removeEventListener('abort', onAbort);
  }
  summary.unfinished.push(...queue.map((r) => r.key));
  summary.seconds = seconds();
  return summary;
}

/**
 * What Slurm's queue holds of a study's array jobs: the job ids submitted for it (`<out>/slurm/jobs`)
 * and squeue's state of each of their array tasks. A study's runs must never train twice at once: a
 * resubmission leaves out the runs still queued, a local search refuses while any is.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

/** The folder, under the study, holding the sbatch script, the submitted job ids and the task logs. */
export const SLURM_DIR = 'slurm';
/** One submitted array job id per line, newest last. */
export const JOBS_FILE = 'jobs';

/** The ids of the array jobs submitted for the study in `outDir`, oldest first. */
export function studyJobs(outDir: string): string[] {
  const file = path.join(outDir, SLURM_DIR, JOBS_FILE);
  return fs.existsSync(file) ? fs.readFileSync(file, 'utf8').split('\n').map((l) => l.trim()).filter(Boolean) : [];
}

/** squeue's state per array index of `jobId` (empty when squeue is missing or knows nothing of it). */
export function squeueStates(jobId: string, squeue = 'squeue'): Map<number, string> {
  const states = new Map<number, string>();
  try {
    const out = execFileSync(squeue, ['-h', '-r', '-j', jobId, '-o', '%K %T'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    for (const line of out.split('\n')) {
      const [task, state] = line.trim().split(/\s+/);
      if (task && state && /^\d+$/.test(task)) states.set(Number(task), state);
    }
  } catch {
    // no squeue here, or the job has left the queue: the folder alone tells
  }
  return states;
}

export interface QueuedTask {
  jobId: string;
  /** squeue's state, e.g. PENDING, RUNNING. */
  state: string;
}

/** The study's runs (plan indices) that squeue still holds in any of its jobs; the newest job's entry wins. */
export function queuedTasks(outDir: string, squeue = 'squeue'): Map<number, QueuedTask> {
  const queued = new Map<number, QueuedTask>();
  for (const jobId of studyJobs(outDir)) for (const [index, state] of squeueStates(jobId, squeue)) queued.set(index, { jobId, state });
  return queued;
}

/** Throws unless no run of the study is queued or running on Slurm (a local search would train it too). */
export function refuseWhileQueued(outDir: string, squeue = 'squeue'): void {
  const queued = queuedTasks(outDir, squeue);
  if (!queued.size) return;
  const jobs = [...new Set([...queued.values()].map((q) => q.jobId))];
  throw new Error(
    `runs ${[...queued.keys()].sort((a, b) => a - b).join(', ')} of the study in ${outDir} are queued or running in Slurm job${jobs.length > 1 ? 's' : ''} ${jobs.join(', ')} ` +
      `(squeue); a local search would train them a second time. Wait for them (cpc-lab search --status ${outDir}) or cancel them (scancel ${jobs.join(' ')}), then run it again`,
  );
}

import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const SCRIPT = path.join(path.dirname(fileURLToPath(import.meta.url)), '../../scripts/install-slurm.sh');

/** A command's stdout, or null when it is missing, fails or takes over `timeoutMs`. */
export function sh(cmd: string, args: string[], timeoutMs = 20_000): string | null {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: timeoutMs });
  return r.status === 0 ? r.stdout : null;
}

/** True when a Slurm answers here with a node ready for jobs. */
const slurmUp = (): boolean => /idle|mixed|allocated/.test(sh('sinfo', ['-h', '-N', '-o', '%T'], 10_000) ?? '');

export type LocalSlurm = { ok: true; stop: () => void } | { ok: false; why: string };

/**
 * A Slurm to submit test jobs to: the one already running here, or a one-node one started by
 * `scripts/install-slurm.sh start` (stopped again by `stop`). Never throws: where Slurm cannot
 * start it says why, and the tests skip.
 */
export function startLocalSlurm(): LocalSlurm {
  if (sh('sbatch', ['--version']) === null) return { ok: false, why: 'no sbatch here (bash scripts/install-slurm.sh installs and starts a one-node Slurm)' };
  if (slurmUp()) return { ok: true, stop: () => {} };
  if (sh('which', ['slurmctld']) === null) return { ok: false, why: 'sbatch found but no slurmctld to start a local Slurm; start one, or run bash scripts/install-slurm.sh' };
  const r = spawnSync('bash', [SCRIPT, 'start'], { encoding: 'utf8', timeout: 90_000 });
  if (r.status !== 0 || !slurmUp()) {
    spawnSync('bash', [SCRIPT, 'stop'], { timeout: 30_000 });
    const said = `${r.stdout ?? ''}${r.stderr ?? ''}`.trim().split('\n').pop();
    return { ok: false, why: `the local Slurm did not start (${said || (r.error?.message ?? `exit ${r.status}`)})` };
  }
  return { ok: true, stop: () => void spawnSync('bash', [SCRIPT, 'stop'], { timeout: 30_000 }) };
}

/** squeue's states of a job's array tasks, e.g. `['RUNNING', 'PENDING']` (empty once it left the queue). */
export function queued(jobId: string): string[] {
  return (sh('squeue', ['-h', '-r', '-j', jobId, '-o', '%T']) ?? '').split('\n').filter(Boolean);
}

/** Polls every second until `done()`; past `limitMs` throws with `explain()` (what the queue and logs say). */
export async function waitUntil(what: string, done: () => boolean, limitMs: number, explain: () => string): Promise<void> {
  const end = Date.now() + limitMs;
  while (!done()) {
    if (Date.now() > end) throw new Error(`${what}: not within ${limitMs / 1000} s\n${explain()}`);
    await new Promise((r) => setTimeout(r, 1000));
  }
}

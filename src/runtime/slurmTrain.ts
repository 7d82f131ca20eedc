/**
 * One training across the nodes of a Slurm allocation: `srun --multi-prog` runs the learner as task 0
 * and one actor per other task. The learner binds every interface on a free port with CURVE keys
 * generated into the run folder (on the shared filesystem); it writes its port to
 * `<runDir>/slurm/endpoint-<job>`, where the actors, on the allocation's first host, find it. An
 * actor that fails is restarted within its task, as the local supervisor restarts it.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { actorSeed, runName, verifyConfig, type Config } from '../config.js';
import { loadLatestCheckpoint } from '../checkpoint.js';
import { cliCommand, commonDirectives, shellQuote, submitScript, verifySlurmOptions, SLURM_DIR, type SlurmOptions } from '../experiments/slurm.js';
import { writeFileAtomic } from '../run.js';
import { writeCurveKeys } from './curve.js';
import { superviseTraining } from './supervisor.js';

/** The verified settings every task of the job reads. */
export const TRAIN_FILE = 'train.json';
export const TRAIN_SBATCH = 'train.sbatch';
export const MULTI_PROG = 'train.multi-prog';
/** Seconds the other tasks may run on once the learner's task ended (then srun stops them). */
const WAIT_AFTER_LEARNER = 30;
const RESTART_MS = [1000, 5000, 30_000];

export const endpointFile = (runDir: string, jobId: string): string => path.join(runDir, SLURM_DIR, `endpoint-${jobId}`);

/** The sbatch script and the `--multi-prog` file of a training of `nodes` nodes, a learner and `actors` actors. */
export function trainScripts(p: { runDir: string; nodes: number; actors: number; options: SlurmOptions; command: string[] }): { sbatch: string; multiProg: string } {
  const dir = path.join(p.runDir, SLURM_DIR);
  const o = p.options;
  const task = (role: string) => [...p.command, 'train', '--slurm-task', role, '--run-dir', p.runDir].map(shellQuote).join(' ');
  const sbatch = [
    '#!/bin/bash',
    `#SBATCH --job-name=cpc-lab-${path.basename(p.runDir).replace(/[^\w.-]/g, '_')}`,
    `#SBATCH --nodes=${p.nodes}`,
    `#SBATCH --ntasks=${p.actors + 1}`,
    `#SBATCH --output=${path.join(dir, '%j.out')}`,
    ...commonDirectives(o),
    `# written by cpc-lab: the learner (task 0) and ${p.actors} actors of the run in ${p.runDir}; requeued or resubmitted, the learner resumes from its checkpoint`,
    'export CPC_LAB_LEARNER_HOST="$(scontrol show hostnames "$SLURM_JOB_NODELIST" | head -n 1)"',
    `exec srun --wait=${WAIT_AFTER_LEARNER} --kill-on-bad-exit=0 --multi-prog ${shellQuote(path.join(dir, MULTI_PROG))}`,
    '',
  ].join('\n');
  const multiProg = [`0 ${task('learner')}`, `${p.actors === 1 ? '1' : `1-${p.actors}`} ${task('actor')}`, ''].join('\n');
  return { sbatch, multiProg };
}

/**
 * Writes the run's Slurm files (settings, CURVE keys, scripts) and unless `printOnly` submits the job.
 * Returns the sbatch script and the job id.
 */
export function submitTraining(config: Config, nodes: number, options: SlurmOptions, p: { printOnly?: boolean; sbatch?: string } = {}): { script: string; jobId?: string } {
  const errors = verifySlurmOptions(options);
  if (!(Number.isInteger(nodes) && nodes > 0)) errors.push(`--nodes: expected a positive integer, got ${nodes}`);
  if (config.actors < 1) errors.push('--actors: a training on Slurm needs at least one actor (one task each, the learner on its own task)');
  if (config.curveKeys || config.learnerEndpoint !== 'tcp://127.0.0.1:*') errors.push('--learner-endpoint, --curve-keys: on Slurm the learner binds every interface with keys generated into the run folder; leave them out');
  if (errors.length) throw new Error(`invalid Slurm settings:\n  ${errors.join('\n  ')}`);
  const runDir = path.resolve(config.runDir ?? `runs/${runName(config)}`);
  const dir = path.join(runDir, SLURM_DIR);
  fs.mkdirSync(dir, { recursive: true });
  const curveKeys = path.join(dir, 'curve-keys.json');
  if (!fs.existsSync(curveKeys)) writeCurveKeys(curveKeys);
  const taskConfig: Config = { ...config, runDir, curveKeys, learnerEndpoint: 'tcp://0.0.0.0:*' };
  writeFileAtomic(path.join(dir, TRAIN_FILE), JSON.stringify(taskConfig, null, 2) + '\n');
  const { sbatch, multiProg } = trainScripts({ runDir, nodes, actors: config.actors, options, command: cliCommand() });
  fs.writeFileSync(path.join(dir, MULTI_PROG), multiProg);
  const script = path.join(dir, TRAIN_SBATCH);
  fs.writeFileSync(script, sbatch);
  return p.printOnly ? { script } : { script, jobId: submitScript(script, p.sbatch) };
}

/** The settings of the training in `runDir`, as its tasks read them. */
function taskConfig(runDir: string): Config {
  const file = path.join(runDir, SLURM_DIR, TRAIN_FILE);
  const v = verifyConfig(JSON.parse(fs.readFileSync(file, 'utf8')));
  if (!v.ok) throw new Error(`${file}: ${v.errors.join('; ')}`);
  return v.config;
}

const sleep = (ms: number, signal: AbortSignal) => new Promise<void>((r) => {
  const t = setTimeout(r, ms);
  signal.addEventListener('abort', () => (clearTimeout(t), r()), { once: true });
});

/** Task 0: the learner, with the actors of the other tasks; resumes from the run's checkpoint when it has one. */
export async function runLearnerTask(runDir: string, signal: AbortSignal, log: (line: string) => void = console.log) {
  const config = taskConfig(runDir);
  const jobId = process.env.SLURM_JOB_ID ?? 'local';
  const resumeDir = loadLatestCheckpoint(runDir) ? runDir : undefined;
  const onReady = (endpoint: string) => {
    writeFileAtomic(endpointFile(runDir, jobId), endpoint.replace('0.0.0.0', process.env.CPC_LAB_LEARNER_HOST ?? '127.0.0.1') + '\n');
    log(`[slurm] learner ready on ${endpoint}${resumeDir ? ', resumed from its checkpoint' : ''}`);
  };
  try {
    return await superviseTraining(config, { remoteActors: true, resumeDir, signal, log, onReady });
  } finally {
    // the endpoint file gone tells the actors the learner has ended
    fs.rmSync(endpointFile(runDir, jobId), { force: true });
  }
}

/**
 * Tasks 1..N: an actor of the learner of task 0, restarted (with backoff) whenever it fails, until
 * stopped or the learner has ended (its endpoint file is gone).
 */
export async function runActorTask(runDir: string, stopSignal: AbortSignal, log: (line: string) => void = console.log): Promise<void> {
  const config = taskConfig(runDir);
  const jobId = process.env.SLURM_JOB_ID ?? 'local';
  const task = Number(process.env.SLURM_PROCID ?? 1);
  const file = endpointFile(runDir, jobId);
  while (!fs.existsSync(file) && !stopSignal.aborted) await sleep(1000, stopSignal);
  const stop = new AbortController();
  stopSignal.addEventListener('abort', () => stop.abort(), { once: true });
  const learnerGone = setInterval(() => fs.existsSync(file) || stop.abort(), 1000);
  const signal = stop.signal;
  const { runActor } = await import('./actorProcess.js');
  for (let incarnation = 0; !signal.aborted; incarnation++) {
    const learner = fs.readFileSync(file, 'utf8').trim(); // a restarted learner may have a new port
    const actorId = `actor-${task}.${incarnation}.${randomBytes(6).toString('hex')}`;
    try {
      await runActor(config, { learner, actorId, token: '', seed: actorSeed(config, task * 1_000_003 + incarnation), signal, log });
    } catch (err) {
      const wait = RESTART_MS[Math.min(incarnation, RESTART_MS.length - 1)]!;
      log(`[slurm] ${actorId} failed (${err instanceof Error ? err.message : String(err)}); restart in ${wait} ms`);
      await sleep(wait, signal);
    }
  }
  clearInterval(learnerGone);
  log(`[slurm] actor task ${task}: ${stopSignal.aborted ? 'stopped' : 'the learner has ended'}`);
}

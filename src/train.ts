import fs from 'node:fs';
import path from 'node:path';
import type { TrainStepMetrics } from '../agents/agent.js';
import { makeEnvs } from '../envs/index.js';
import type { Environment } from '../envs/types.js';
import { Actor } from './actor.js';
import { loadLatestCheckpoint, type Checkpoint } from './checkpoint.js';
import { ConfigSchema, envOptions, localActorSeed, type Config, type ConfigInput } from './config.js';
import { Learner, openRun } from './learner.js';
import type { RunRecord } from './run.js';

export interface TrainHooks {
  /** Where progress lines go (default: stdout). */
  log?: (line: string) => void;
  /** Stops training after the current update (a checkpoint is written). */
  signal?: AbortSignal;
  /** Called after every update (tests watch learning through it). */
  onUpdate?: (u: { frames: number; metrics: TrainStepMetrics; meanReturn: number }) => void;
  /** Continue from this checkpoint (see `resumeRun`). */
  resumeFrom?: Checkpoint;
}

export interface TrainSummary {
  runDir: string;
  frames: number;
  updates: number;
  episodes: number;
  /** Mean return of the last `returnWindow` episodes. */
  meanReturn: number;
  seconds: number;
  backend: string;
  /** The last checkpoint written. */
  checkpoint: string;
  /** The last update's per-k CPC accuracy (cpc agent). */
  cpcAccuracy?: number[];
}

export { envOptions } from './config.js';

/**
 * Trains one agent on one environment with actor and learner in this process (synchronous batched
 * A2C: every batch is played by the latest parameters, so the policy lag is 0). Writes the run
 * directory: `config.json`, `metrics.jsonl` and checkpoints.
 */
export async function train(input: ConfigInput | Config, hooks: TrainHooks = {}): Promise<TrainSummary> {
  const log = hooks.log ?? ((line: string) => console.log(line));
  const { config, runDir, backend, unlock } = await openRun(input, !!hooks.resumeFrom, log);
  let envs: Environment[];
  try {
    envs = await makeEnvs(config.env, config.batch, envOptions(config, log));
  } catch (err) {
    unlock();
    throw err;
  }
  const learner = new Learner(config, runDir, envs[0]!.spec, log, hooks.resumeFrom);
  const actor = new Actor(envs, learner.agent, { unrollLength: config.unroll, actionRepeat: config.actionRepeat, seed: localActorSeed(config) });
  const checkpoint = async () => learner.checkpoint({ actor: actor.getRngState() }, false, actor.canSaveState ? await actor.getState() : undefined);
  try {
    await startActor(actor, hooks.resumeFrom, log);
    while (!learner.done && !hooks.signal?.aborted) {
      const collected = await actor.collect();
      const metrics = await learner.update(collected.unroll, collected.episodes, { policyLag: 0 });
      hooks.onUpdate?.({ frames: learner.frames, metrics, meanReturn: learner.returns.mean() });
      learner.progress();
      if (learner.checkpointDue) await checkpoint();
      // in-process environments never wait on I/O: yield so Ctrl-C and other events get through
      await new Promise((r) => setImmediate(r));
    }
    await checkpoint();
    if (hooks.signal?.aborted) log(`stopped at ${learner.frames} frames; checkpoint ${learner.checkpointFile}; continue with: cpc-lab train --resume ${runDir}`);
  } finally {
    learner.close();
    actor.dispose();
    await Promise.all(envs.map((e) => e.close()));
    unlock();
  }
  return {
    runDir,
    frames: learner.frames,
    updates: learner.updates,
    episodes: learner.returns.count,
    meanReturn: learner.returns.mean(),
    seconds: learner.seconds(),
    backend: backend.name,
    checkpoint: learner.checkpointFile,
    cpcAccuracy: learner.last?.cpcAccuracy,
  };
}

/**
 * Starts the actor, or continues it from a checkpoint: exactly where it was when the checkpoint holds
 * its whole state (built-in and mock levels); otherwise its generator is restored and the
 * environments start new episodes with the seeds the saved run would have drawn next.
 */
async function startActor(actor: Actor, resume: Checkpoint | undefined, log: (line: string) => void): Promise<void> {
  if (resume?.actor && actor.canSaveState) {
    try {
      actor.setState(resume.actor);
      return;
    } catch (err) {
      log(`cannot continue the saved episodes (${err instanceof Error ? err.message : String(err)}); the environments start new ones`);
    }
  }
  if (resume?.rng.actor) actor.setRngState(resume.rng.actor);
  await actor.start();
}

/**
 * Continues a run from its newest checkpoint with the configuration it was started with
 * (`overrides`, e.g. more `frames`, take precedence). Frames, parameters, optimizer state and
 * generators continue exactly; on built-in and mock levels so do the environments' episodes and
 * the LSTM state, so the resumed run is bit-exact with one that never stopped.
 */
export async function resumeRun(runDir: string, overrides: Partial<ConfigInput> = {}, hooks: TrainHooks = {}): Promise<TrainSummary> {
  const { config, checkpoint } = readRunForResume(runDir);
  return train({ ...config, ...overrides, runDir }, { ...hooks, resumeFrom: checkpoint });
}

/** The saved configuration and newest checkpoint of a run, or a specific error naming the file. */
export function readRunForResume(runDir: string): { config: Config; checkpoint: Checkpoint } {
  const file = path.join(runDir, 'config.json');
  if (!fs.existsSync(file)) throw new Error(`cannot resume: ${file} does not exist (is ${runDir} a run directory?)`);
  let record: Partial<RunRecord>;
  try {
    record = JSON.parse(fs.readFileSync(file, 'utf8')) as Partial<RunRecord>;
  } catch (err) {
    throw new Error(`cannot resume: ${file} is not readable JSON (${err instanceof Error ? err.message : String(err)}); it should hold the run's settings as cpc-lab wrote them`);
  }
  const saved = ConfigSchema.safeParse(record?.config);
  if (!saved.success) {
    const why = record?.config === undefined ? 'it has no "config" field' : saved.error.issues.map((i) => `${i.path.join('.') || 'config'}: ${i.message}`).join('; ');
    throw new Error(`cannot resume: ${file} does not hold a run's settings (${why}); it is left as it is`);
  }
  const checkpoint = loadLatestCheckpoint(runDir);
  if (!checkpoint) throw new Error(`cannot resume: ${runDir} has no readable checkpoint in ${path.join(runDir, 'checkpoints')}`);
  return { config: saved.data, checkpoint };
}

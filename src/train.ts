import fs from 'node:fs';
import path from 'node:path';
import { availableParallelism } from 'node:os';
import { createAgent, type TrainStepMetrics } from '../agents/agent.js';
import { makeEnvVectors } from '../envs/index.js';
import type { VectorEnv } from '../envs/types.js';
import { Actor } from './actor.js';
import { loadLatestCheckpoint, type Checkpoint, type PendingBatch } from './checkpoint.js';
import { ConfigSchema, envOptions, localActorSeed, type Config, type ConfigInput } from './config.js';
import { Learner, openRun } from './learner.js';
import { overlapsActing } from './parallel/threads.js';
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
  /**
   * The cores this run may use (default: every core of the machine). `--learner-threads auto` and
   * DeepMind Lab's bridges per run count from it; a search running P runs at once gives each 1/P.
   */
  cores?: number;
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
  /** Mean policy lag (parameter versions) of the batches this call trained on. */
  meanPolicyLag: number;
}

export { envOptions } from './config.js';

/**
 * Trains one agent on one environment with actor and learner in this process. Writes the run
 * directory: `config.json`, `metrics.jsonl` and checkpoints.
 *
 * The schedule depends only on the configuration, never on timing. `sync` (synchronous batched
 * A2C): batch u is played by the parameters after update u - 1 (policy lag 0; acting and learning
 * alternate). `async` with `maxPolicyLag` >= 1: batch u + 1 is played by the parameters before
 * update u while worker threads train on batch u (policy lag exactly 1; the main thread acts while
 * the workers learn). Overlapped, the actor has its own copy of the acting parameters, replaced
 * after every update, so nothing it plays depends on when an update lands; a checkpoint holds the batch played
 * during the last update, so a resumed run continues bit-exactly.
 */
export async function train(input: ConfigInput | Config, hooks: TrainHooks = {}): Promise<TrainSummary> {
  const log = hooks.log ?? ((line: string) => console.log(line));
  const { config, runDir, backend, unlock } = await openRun(input, !!hooks.resumeFrom, log);
  const cores = hooks.cores ?? availableParallelism();
  let envs: VectorEnv[];
  try {
    // dmlab: one bridge per core, each stepping its share of the levels per message
    envs = await makeEnvVectors(config.env, config.batch, { ...envOptions(config, log), bridges: cores });
  } catch (err) {
    unlock();
    throw err;
  }
  const learner = new Learner(config, runDir, envs[0]!.spec, log, hooks.resumeFrom, cores);
  const overlap = overlapsActing(config);
  // acting alternates with learning unless overlapped, so it can play the learner's own parameters;
  // overlapped, it plays a copy that an update landing mid-batch cannot change
  const copy = overlap ? createAgent({ ...learner.agentOptions, actingOnly: true }) : undefined;
  const policy = copy ?? learner.agent;
  const actor = new Actor(envs, policy, { unrollLength: config.unroll, actionRepeat: config.actionRepeat, seed: localActorSeed(config) });
  /** The batch played during the last update, trained on next (overlap only). */
  let pending: PendingBatch | undefined;
  const checkpoint = async () => learner.checkpoint({ actor: actor.getRngState() }, false, actor.canSaveState ? await actor.getState() : undefined, pending);
  const syncPolicy = async () => copy?.setWeights(await learner.agent.getWeights(learner.agent.actingParamNames));
  let lagSum = 0;
  let trained = 0;
  try {
    await syncPolicy();
    const exact = await startActor(actor, hooks.resumeFrom, log);
    pending = resumedBatch(hooks.resumeFrom, overlap, exact, log);
    while (!learner.done && !hooks.signal?.aborted) {
      const version = learner.version;
      const batch = pending ?? { ...(await actor.collect()), paramsVersion: version };
      pending = undefined;
      const policyLag = version - batch.paramsVersion;
      const training = learner.update(batch.unroll, batch.episodes, { policyLag });
      // meanwhile, the next batch is played by the parameters this update starts from (none after the last update)
      const next = overlap && !learner.done ? actor.collect() : undefined;
      const [metrics, played] = await Promise.all([training, next]);
      if (played) pending = { ...played, paramsVersion: version };
      lagSum += policyLag;
      trained++;
      await syncPolicy();
      hooks.onUpdate?.({ frames: learner.frames, metrics, meanReturn: learner.returns.mean() });
      learner.progress(overlap ? { lag: `${policyLag} (mean ${(lagSum / trained).toFixed(2)})` } : {});
      if (learner.checkpointDue) await checkpoint();
      // in-process environments never wait on I/O: yield so Ctrl-C and other events get through
      await new Promise((r) => setImmediate(r));
    }
    await checkpoint();
    if (hooks.signal?.aborted) log(`stopped at ${learner.frames} frames; checkpoint ${learner.checkpointFile}; continue with: cpc-lab train --resume ${runDir}`);
  } finally {
    await learner.close();
    actor.dispose();
    copy?.dispose();
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
    meanPolicyLag: trained ? lagSum / trained : 0,
  };
}

/**
 * The batch a checkpoint saved as played but not yet trained on, when this run trains it next: with
 * acting overlapped and the actor continuing exactly where it was. Otherwise it is dropped (said so).
 */
function resumedBatch(resume: Checkpoint | undefined, overlap: boolean, exact: boolean, log: (line: string) => void): PendingBatch | undefined {
  if (!resume?.pending) return undefined;
  if (overlap && exact) return resume.pending;
  log(`the checkpoint's batch played during its last update is not trained on (${overlap ? 'the environments start new episodes' : 'this run does not overlap acting with learning'})`);
  return undefined;
}

/**
 * Starts the actor, or continues it from a checkpoint: exactly where it was when the checkpoint holds
 * its whole state (built-in and mock levels); otherwise its generator is restored and the
 * environments start new episodes with the seeds the saved run would have drawn next. Resolves
 * whether it continued exactly.
 */
async function startActor(actor: Actor, resume: Checkpoint | undefined, log: (line: string) => void): Promise<boolean> {
  if (resume?.actor && actor.canSaveState) {
    try {
      actor.setState(resume.actor);
      return true;
    } catch (err) {
      log(`cannot continue the saved episodes (${err instanceof Error ? err.message : String(err)}); the environments start new ones`);
    }
  }
  if (resume?.rng.actor) actor.setRngState(resume.rng.actor);
  await actor.start();
  return false;
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

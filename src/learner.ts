import fs from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { applyGradientStep, createAgent, trainStep, type Agent, type AgentOptions, type TrainStepMetrics, type TrainStepOptions, type Unroll } from '../agents/agent.js';
import { perStepAccuracy } from '../agents/infonce.js';
import { rmsprop, type RMSProp } from '../agents/rmsprop.js';
import type { EnvSpec } from '../envs/types.js';
import type { ActorState, EpisodeStat } from './actor.js';
import { initBackend, type BackendInfo, type BackendName } from './backend/index.js';
import { saveCheckpoint, type Checkpoint, type PendingBatch } from './checkpoint.js';
import { resolveConfig, runName, type Config, type ConfigInput } from './config.js';
import { formatProgress, MetricsWriter, ReturnWindow } from './metrics.js';
import { GradientPool } from './parallel/gradientPool.js';
import { learnerThreads, learnsInWorkers } from './parallel/threads.js';
import type { RngState } from './rng.js';
import { createRunDir, gitCommit, lockFolder, preflight, RUN_LOCK } from './run.js';

export interface OpenedRun {
  config: Config;
  runDir: string;
  backend: BackendInfo;
  /** Releases the run folder's lock (a no-op when `lock` was false). */
  unlock: () => void;
}

/**
 * Resolves the configuration, checks what can be checked (`preflight`), picks the tensor backend,
 * locks the run directory (`lock`: the supervisor holds it for its learner) and creates (or,
 * resuming, reopens) it with its `config.json`. Refuses to start a fresh run over an existing one.
 */
export async function openRun(input: ConfigInput | Config, resuming: boolean, log: (line: string) => void, { lock = true } = {}): Promise<OpenedRun> {
  const config = resolveConfig(input);
  await preflight(config);
  const backend = await initBackend(config.backend);
  const name = runName(config);
  const runDir = config.runDir ?? path.join('runs', name);
  const unlock = lock ? lockFolder(runDir, RUN_LOCK, 'cpc-lab train') : () => {};
  try {
    if (!resuming && fs.existsSync(path.join(runDir, 'metrics.jsonl'))) {
      throw new Error(`${runDir} already holds a run: continue it with --resume ${runDir}, or choose another --name / --run-dir`);
    }
    createRunDir(runDir, {
      config: { ...config, runDir },
      name,
      seed: config.seed,
      gitCommit: gitCommit(),
      backend: { name: backend.name, detail: backend.detail },
      createdAt: new Date().toISOString(),
      node: process.version,
    });
  } catch (err) {
    unlock();
    throw err;
  }
  log(`cpc-lab: ${config.agent} agent on ${config.env}, ${config.frames} frames, backend ${backend.name} (${backend.detail}), run dir ${runDir}`);
  return { config, runDir, backend, unlock };
}

/**
 * Training diverged: `maxSkippedUpdates` updates in a row were non-finite. Not worth a restart (it
 * would diverge again from the same checkpoint): the supervisor stops the run with this message.
 */
export class TrainingDivergedError extends Error {
  override readonly name = 'TrainingDivergedError';
  readonly fatal = true;
}

/**
 * Value loss per (t, b) (0.25 x error²) above which the value estimates are off by ~2000: with
 * rewards clipped to [-1, 1] returns stay within 1 / (1 - discount) = 100, so this is divergence.
 */
const EXPLODING_VALUE_LOSS = 1e6;

/** Extra fields of the progress line and the update metrics (distributed runs). */
export interface RuntimeStats {
  policyLag: number;
  policyLagMax?: number;
  queueDepth?: number;
  actorsAlive?: number;
  /** Messages and unrolls dropped so far, by reason. */
  dropped?: Record<string, number>;
}

/**
 * The learner's state and bookkeeping, shared by the single-process loop and the learner process:
 * agent + TF1 RMSProp, frame and update counters, metrics.jsonl, progress lines, checkpoints.
 */
export class Learner {
  readonly agent: Agent;
  readonly optimizer: RMSProp;
  readonly returns: ReturnWindow;
  frames = 0;
  updates = 0;
  last: TrainStepMetrics | undefined;
  checkpointFile = '';
  /** Non-finite updates skipped in all, and in a row. */
  skippedUpdates = 0;
  /** Worker threads computing the gradient, each of its share of the batch's columns. */
  readonly threads: number;
  /** What the agent (and every copy of it: worker threads, the single-process actor's policy) is made from. */
  readonly agentOptions: AgentOptions;
  private readonly inWorkers: boolean;
  private pool: Promise<GradientPool> | undefined;
  private skippedInARow = 0;
  private lastExplosionWarning = -Infinity;
  private readonly metrics: MetricsWriter;
  private readonly start = Date.now();
  private readonly framesAtStart: number;
  private lastProgress = 0;
  private lastCheckpointAt = 0;
  private lastImageAt = -Infinity;
  private readonly spec: EnvSpec;

  constructor(
    readonly config: Config,
    readonly runDir: string,
    spec: EnvSpec,
    private readonly log: (line: string) => void,
    resume?: Checkpoint,
    /** The cores the run may use (`--learner-threads auto` counts from them). */
    cores?: number,
  ) {
    this.agentOptions = { kind: config.agent, obsShape: spec.observationShape, numActions: spec.numActions, seed: config.seed, cpcSteps: config.cpcSteps };
    this.agent = createAgent(this.agentOptions);
    this.threads = learnerThreads(config, tf.getBackend(), cores);
    this.inWorkers = learnsInWorkers(config, tf.getBackend(), this.threads);
    this.optimizer = rmsprop({ learningRate: config.learningRate, decay: config.rmspropDecay, epsilon: config.rmspropEpsilon, momentum: config.rmspropMomentum });
    this.returns = new ReturnWindow(config.returnWindow);
    // updates after the checkpoint are trained again: their first records must go
    this.metrics = new MetricsWriter(runDir, resume?.frames);
    this.spec = spec;
    if (resume) {
      this.agent.setWeights(resume.params);
      this.optimizer.setState(resume.optimizer, this.agent.params);
      ({ frames: this.frames, updates: this.updates } = resume);
      if (resume.returns) this.returns.setState(resume.returns);
      this.checkpointFile = resume.file ?? '';
      log(`resumed from the checkpoint at ${this.frames} frames (update ${this.updates}, saved ${resume.savedAt})`);
    }
    this.framesAtStart = this.frames;
    this.metrics.config(this.frames, config);
    log(`learner: ${this.inWorkers ? `${this.threads} worker thread${this.threads > 1 ? 's' : ''}, each the gradient of its share of the batch's columns` : 'on this thread'}`);
  }

  /** Parameter version: one per update, so a resumed run continues the numbering. */
  get version(): number {
    return this.updates;
  }

  get done(): boolean {
    return this.frames >= this.config.frames;
  }

  seconds(): number {
    return (Date.now() - this.start) / 1000;
  }

  /** Frames/s since this process started. */
  fps(): number {
    return (this.frames - this.framesAtStart) / Math.max(this.seconds(), 1e-9);
  }

  /**
   * One update on a batch of B unrolls; `episodes` ended inside it. Frames count the batch's agent
   * steps x action repeat; the learning rate anneals with the frames seen before this batch.
   */
  async update(batch: Unroll, episodes: EpisodeStat[], stats: RuntimeStats): Promise<TrainStepMetrics> {
    const framesBefore = this.frames;
    this.frames += batch.T * batch.B * this.config.actionRepeat;
    this.recordEpisodes(episodes);
    if (this.config.imageEvery > 0 && this.seconds() - this.lastImageAt >= this.config.imageEvery) {
      this.lastImageAt = this.seconds();
      this.metrics.observations(this.frames, batch, this.spec.observationShape);
    }
    const o = { ...this.config, frames: framesBefore, totalFrames: this.config.frames };
    this.last = this.inWorkers ? await this.pooledStep(batch, o) : await trainStep(this.agent, this.optimizer, batch, o);
    this.updates++;
    this.watchStability(this.last, batch.T * batch.B);
    this.metrics.write({ kind: 'update', frames: this.frames, time: this.seconds(), update: this.updates, fps: this.fps(), ...stats, ...this.last, skippedUpdates: this.skippedUpdates });
    if (this.skippedInARow >= this.config.maxSkippedUpdates) {
      throw new TrainingDivergedError(
        `training diverged: ${this.skippedInARow} updates in a row had a non-finite loss, gradient or policy (none was applied). ` +
          `The newest checkpoint (${this.checkpointFile || 'none was written yet'}) is kept as it was; lower --learning-rate (now ${this.config.learningRate}) or set --grad-clip 40` +
          (this.checkpointFile ? `, then continue with --resume ${this.runDir}` : ', then start again with another --name'),
      );
    }
    return this.last;
  }

  /** Episodes that ended: the return window and metrics (also those of unrolls dropped untrained as stale). */
  recordEpisodes(episodes: readonly EpisodeStat[]): void {
    for (const e of episodes) {
      this.returns.push(e.episodeReturn);
      this.metrics.write({ kind: 'episode', frames: this.frames, time: this.seconds(), episodeReturn: e.episodeReturn, episodeLength: e.episodeLength });
    }
  }

  /** `trainStep` with the gradient summed from the worker threads' shares of the batch (same finite-update checks). */
  private async pooledStep(batch: Unroll, o: TrainStepOptions): Promise<TrainStepMetrics> {
    this.pool ??= GradientPool.start(this.threads, tf.getBackend() as BackendName, this.agentOptions, this.agent);
    const pool = await this.pool;
    const { grads, sums } = await pool.gradients(await this.agent.getWeights(), batch, o);
    const tensors: Record<string, tf.Tensor> = {};
    for (const [name, v] of Object.entries(this.agent.params)) tensors[name] = tf.tensor(grads[name]!, v.shape);
    const loss = tf.scalar(sums.loss);
    const step = await applyGradientStep(this.agent, this.optimizer, batch, tensors, [loss], o);
    loss.dispose();
    const metrics: TrainStepMetrics = { loss: sums.loss, policyGradientLoss: sums.policyGradient, baselineLoss: sums.baseline, entropyLoss: sums.entropy, ...step };
    if (sums.cpcSum !== undefined && sums.cpcCounted && sums.cpcCorrect) {
      metrics.cpcLoss = sums.cpcSum / Math.max(sums.cpcCounted.reduce((a, b) => a + b, 0), 1);
      metrics.cpcAccuracy = perStepAccuracy(sums.cpcCounted, sums.cpcCorrect);
    }
    return metrics;
  }

  /** Counts skipped (non-finite) updates and warns about a value loss that is exploding. */
  private watchStability(m: TrainStepMetrics, columns: number): void {
    if (m.skipped) {
      this.skippedUpdates++;
      this.skippedInARow++;
      this.log(`learner: update ${this.updates} skipped: non-finite loss, gradient or policy (${this.skippedInARow} in a row, ${this.skippedUpdates} in all; the run stops at ${this.config.maxSkippedUpdates} in a row)`);
      return;
    }
    this.skippedInARow = 0;
    if (m.baselineLoss / columns > EXPLODING_VALUE_LOSS && this.updates - this.lastExplosionWarning >= 100) {
      this.lastExplosionWarning = this.updates;
      this.log(`learner: warning: the value loss is exploding (${m.baselineLoss.toExponential(2)} at update ${this.updates}); the learning rate (${this.config.learningRate}) is probably too high`);
    }
  }

  /** Prints the progress line when `progressEvery` seconds have passed (or `force`). */
  progress(extra: Record<string, string | number> = {}, force = false): void {
    if (!force && this.seconds() - this.lastProgress < this.config.progressEvery && !this.done) return;
    this.lastProgress = this.seconds();
    const label = `${this.config.agent} ${this.config.env}`;
    this.log(formatProgress({ label, frames: this.frames, totalFrames: this.config.frames, fps: this.fps(), returns: this.returns, last: this.last, costs: this.config, extra }));
  }

  /** Whether `checkpointEvery` seconds have passed since the last checkpoint. */
  get checkpointDue(): boolean {
    return this.seconds() - this.lastCheckpointAt >= this.config.checkpointEvery;
  }

  /**
   * Writes a checkpoint now, or only when it is due (`due`). `actor` is the single-process actor's
   * whole state, and `pending` the batch it played during the last update (acting overlapped with
   * learning), for a bit-exact resume.
   */
  async checkpoint(rng: Record<string, RngState>, due = false, actor?: ActorState, pending?: PendingBatch): Promise<void> {
    if (due && !this.checkpointDue) return;
    const state = {
      frames: this.frames,
      updates: this.updates,
      paramsVersion: this.version,
      params: await this.agent.getWeights(),
      optimizer: await this.optimizer.getState(),
      rng,
      returns: this.returns.getState(),
      ...(actor ? { actor } : {}),
      ...(pending ? { pending } : {}),
    };
    this.checkpointFile = saveCheckpoint(this.runDir, state, this.config.keepCheckpoints);
    this.lastCheckpointAt = this.seconds();
  }

  async close(): Promise<void> {
    this.metrics.close();
    this.agent.dispose();
    this.optimizer.dispose();
    // a pool that failed to start has nothing to close
    await this.pool?.then((p) => p.close(), () => {});
  }
}

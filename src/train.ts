import fs from 'node:fs';
import path from 'node:path';
import { createAgent, trainStep, type TrainStepMetrics } from '../agents/agent.js';
import { rmsprop } from '../agents/rmsprop.js';
import { makeEnv } from '../envs/index.js';
import { Actor } from './actor.js';
import { loadLatestCheckpoint, saveCheckpoint, type Checkpoint } from './checkpoint.js';
import { initBackend } from './backend/index.js';
import { resolveConfig, runName, type Config, type ConfigInput } from './config.js';
import { formatProgress, MetricsWriter, ReturnWindow } from './metrics.js';
import { createRunDir, gitCommit, type RunRecord } from './run.js';

export interface TrainHooks {
  /** Where progress lines go (default: stdout). */
  log?: (line: string) => void;
  /** Stops training after the current update. */
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

/**
 * Trains one agent on one environment with actor and learner in this process (synchronous batched
 * A2C: every batch is played by the latest parameters, so the policy lag is 0). Writes the run
 * directory: `config.json` and `metrics.jsonl`.
 */
export async function train(input: ConfigInput | Config, hooks: TrainHooks = {}): Promise<TrainSummary> {
  const config = resolveConfig(input);
  const log = hooks.log ?? ((line: string) => console.log(line));
  const backend = await initBackend(config.backend);
  const name = runName(config);
  const runDir = config.runDir ?? path.join('runs', name);
  if (!hooks.resumeFrom && fs.existsSync(path.join(runDir, 'metrics.jsonl'))) {
    throw new Error(`${runDir} already holds a run: continue it with --resume ${runDir}, or choose another --name / --run-dir`);
  }
  createRunDir(runDir, {
    config,
    name,
    seed: config.seed,
    gitCommit: gitCommit(),
    backend: { name: backend.name, detail: backend.detail },
    createdAt: new Date().toISOString(),
    node: process.version,
  });
  log(`cpc-lab: ${config.agent} agent on ${config.env}, ${config.frames} frames, backend ${backend.name} (${backend.detail}), run dir ${runDir}`);

  const envOptions = { episodeLength: config.episodeLength, dmlab: { python: config.python, dmlabPath: config.dmlabPath, actionRepeat: config.actionRepeat } };
  const envs = await Promise.all(Array.from({ length: config.batch }, () => makeEnv(config.env, envOptions)));
  const spec = envs[0].spec;
  const agent = createAgent({
    kind: config.agent,
    obsShape: spec.observationShape,
    numActions: spec.numActions,
    seed: config.seed,
    cpcSteps: config.cpcSteps,
  });
  const actor = new Actor(envs, agent, { unrollLength: config.unroll, actionRepeat: config.actionRepeat, seed: config.seed + 1 });
  const optimizer = rmsprop({ learningRate: config.learningRate, decay: config.rmspropDecay, epsilon: config.rmspropEpsilon, momentum: config.rmspropMomentum });
  const metrics = new MetricsWriter(path.join(runDir, 'metrics.jsonl'));
  const returns = new ReturnWindow(config.returnWindow);
  const label = `${config.agent} ${config.env}`;
  const start = Date.now();
  let frames = 0;
  let updates = 0;
  const resume = hooks.resumeFrom;
  if (resume) {
    agent.setWeights(resume.params);
    optimizer.setState(resume.optimizer, agent.params);
    actor.setRngState(resume.rng.actor);
    ({ frames, updates } = resume);
    log(`resumed from the checkpoint at ${frames} frames (update ${updates}, saved ${resume.savedAt})`);
  }
  const framesAtStart = frames;
  let last: TrainStepMetrics | undefined;
  let lastProgress = 0;
  let lastCheckpointAt = 0;
  let checkpoint = '';
  const seconds = () => (Date.now() - start) / 1000;
  const writeCheckpoint = async () => {
    const params = await agent.getWeights();
    const state = { frames, updates, paramsVersion: updates, params, optimizer: await optimizer.getState(), rng: { actor: actor.getRngState() } };
    checkpoint = saveCheckpoint(runDir, state, config.keepCheckpoints);
    lastCheckpointAt = seconds();
  };
  try {
    // the actor's generator is restored before start(), so a resumed run reseeds its episodes as it would have
    await actor.start();
    while (frames < config.frames && !hooks.signal?.aborted) {
      const collected = await actor.collect();
      const framesBefore = frames;
      frames += collected.steps * config.actionRepeat;
      for (const e of collected.episodes) {
        returns.push(e.episodeReturn);
        metrics.write({ kind: 'episode', frames, time: seconds(), episodeReturn: e.episodeReturn, episodeLength: e.episodeLength });
      }
      last = await trainStep(agent, optimizer, collected.unroll, { ...config, frames: framesBefore, totalFrames: config.frames });
      updates++;
      const fps = (frames - framesAtStart) / Math.max(seconds(), 1e-9);
      metrics.write({ kind: 'update', frames, time: seconds(), update: updates, fps, policyLag: 0, ...last });
      hooks.onUpdate?.({ frames, metrics: last, meanReturn: returns.mean() });
      if (seconds() - lastProgress >= config.progressEvery || frames >= config.frames) {
        lastProgress = seconds();
        log(formatProgress({ label, frames, totalFrames: config.frames, fps, returns, last }));
      }
      if (seconds() - lastCheckpointAt >= config.checkpointEvery) await writeCheckpoint();
    }
    await writeCheckpoint();
    if (hooks.signal?.aborted) log(`stopped at ${frames} frames; checkpoint ${checkpoint}; continue with: cpc-lab train --resume ${runDir}`);
  } finally {
    metrics.close();
    actor.dispose();
    agent.dispose();
    optimizer.dispose();
    await Promise.all(envs.map((e) => e.close()));
  }
  return {
    runDir,
    frames,
    updates,
    episodes: returns.count,
    meanReturn: returns.mean(),
    seconds: seconds(),
    backend: backend.name,
    checkpoint,
    cpcAccuracy: last?.cpcAccuracy,
  };
}

/**
 * Continues a run from its newest checkpoint with the configuration it was started with
 * (`overrides`, e.g. more `frames`, take precedence). Frames, parameters, optimizer state and the
 * actor's generator continue exactly; environments start new episodes.
 */
export async function resumeRun(runDir: string, overrides: Partial<ConfigInput> = {}, hooks: TrainHooks = {}): Promise<TrainSummary> {
  const file = path.join(runDir, 'config.json');
  if (!fs.existsSync(file)) throw new Error(`cannot resume: ${file} does not exist (is ${runDir} a run directory?)`);
  const record = JSON.parse(fs.readFileSync(file, 'utf8')) as RunRecord;
  const checkpoint = loadLatestCheckpoint(runDir);
  if (!checkpoint) throw new Error(`cannot resume: ${runDir} has no readable checkpoint in ${path.join(runDir, 'checkpoints')}`);
  return train({ ...record.config, ...overrides, runDir }, { ...hooks, resumeFrom: checkpoint });
}

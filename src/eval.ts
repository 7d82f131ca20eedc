/**
 * `cpc-lab eval`: runs a trained policy without learning (scalable_agent's `--mode test`) and
 * reports the mean and spread of its episode returns, the human-normalised score where the level
 * has DMLab-30 scores, and optionally a GIF of what the agent saw.
 */
import fs from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { createAgent } from '../agents/agent.js';
import { greedyActions, sampleActions } from '../agents/policy.js';
import { humanNormalizedScore } from '../envs/dmlab/levels.js';
import { encodeGif, stepDelayMs, upscale } from '../envs/image.js';
import { makeEnv } from '../envs/index.js';
import { initBackend, type BackendName } from './backend/index.js';
import { loadLatestCheckpoint } from './checkpoint.js';
import { EVAL_FILE, readRunRecord, type EvalRecord } from './experiments/results.js';
import { Rng } from './rng.js';
import { writeFileAtomic } from './run.js';

export interface EvalOptions {
  /** The run folder whose newest checkpoint is evaluated. */
  runDir: string;
  /** Environment (default: the run's). */
  env?: string;
  episodes: number;
  /** Most probable action instead of sampling from the policy. */
  greedy?: boolean;
  /** Seeds the environments and the action sampling (default 0). */
  seed?: number;
  /** Environments played at once, with one batched inference per step (default min(episodes, 8)). */
  parallel?: number;
  /** Write what the first environment's agent saw in its first episode as a GIF here. */
  video?: string;
  /** Longest video in agent steps (default 2000). */
  videoSteps?: number;
  backend?: BackendName | 'auto';
  /** Store the result as `eval.json` in the run folder (default true), where the results table finds it. */
  save?: boolean;
  log?: (line: string) => void;
}

export interface EvalResult extends EvalRecord {
  runDir: string;
  video?: string;
}

function meanStd(xs: number[]): { mean: number; std: number } {
  const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
  return { mean, std: Math.sqrt(xs.reduce((a, b) => a + (b - mean) ** 2, 0) / xs.length) };
}

/**
 * Plays `episodes` whole episodes with the run's newest parameters. Environment i of P plays
 * episodes i, i + P, ..., so which episodes count does not depend on how long each one lasts.
 */
export async function evaluate(o: EvalOptions): Promise<EvalResult> {
  if (!Number.isInteger(o.episodes) || o.episodes < 1) throw new RangeError(`eval: episodes must be a positive integer, got ${o.episodes}`);
  if (o.parallel !== undefined && !(Number.isInteger(o.parallel) && o.parallel >= 1)) throw new RangeError(`eval: parallel must be a positive integer, got ${o.parallel}`);
  const { config } = readRunRecord(o.runDir);
  const checkpoint = loadLatestCheckpoint(o.runDir, o.log);
  if (!checkpoint) throw new Error(`eval: ${o.runDir} has no readable checkpoint`);
  await initBackend(o.backend ?? 'auto');
  const env = o.env ?? config.env;
  const seed = o.seed ?? 0;
  const P = Math.min(o.parallel ?? 8, o.episodes);
  const envOptions = { episodeLength: config.episodeLength, dmlab: { python: config.python, dmlabPath: config.dmlabPath, actionRepeat: config.actionRepeat } };
  const envs = await Promise.all(Array.from({ length: P }, () => makeEnv(env, envOptions)));
  const spec = envs[0]!.spec; // P >= 1: checked above
  const agent = createAgent({ kind: config.agent, obsShape: spec.observationShape, numActions: spec.numActions, seed, cpcSteps: config.cpcSteps });
  const rng = new Rng(seed);
  const [H, W, C] = spec.observationShape;
  const obsSize = H * W * C;
  const quota = Array.from({ length: P }, (_, i) => Math.floor((o.episodes - 1 - i) / P) + 1);
  const returns: number[][] = envs.map(() => []);
  const frames: Uint8Array[] = [];
  const recording = () => o.video !== undefined && returns[0]!.length === 0 && frames.length <= (o.videoSteps ?? 2000);
  let state = agent.initialState(P);
  try {
    agent.setWeights(checkpoint.params);
    const observations = new Uint8Array(P * obsSize);
    (await Promise.all(envs.map((e) => e.reset(rng.seed())))).forEach((obs, i) => observations.set(obs, i * obsSize));
    const prevActions = new Int32Array(P);
    const prevRewards = new Float32Array(P);
    const firsts = new Uint8Array(P).fill(1);
    while (returns.some((r, i) => r.length < quota[i]!)) {
      if (recording()) frames.push(observations.slice(0, obsSize));
      const out = await agent.step({ observations, prevActions, prevRewards, firsts }, P, state);
      tf.dispose([state.h, state.c]);
      state = out.state;
      const actions = o.greedy ? greedyActions(out.logits, spec.numActions) : sampleActions(out.logits, spec.numActions, rng);
      const results = await Promise.all(envs.map((e, i) => e.step(actions[i]!, config.actionRepeat)));
      results.forEach((r, i) => {
        observations.set(r.obs, i * obsSize);
        prevActions[i] = actions[i]!;
        prevRewards[i] = r.reward;
        firsts[i] = r.done ? 1 : 0;
        if (r.done && returns[i]!.length < quota[i]!) returns[i]!.push(r.episodeReturn ?? Number.NaN);
      });
    }
  } finally {
    tf.dispose([state.h, state.c]);
    agent.dispose();
    await Promise.all(envs.map((e) => e.close()));
  }
  // episode order i, i + P, ...: environment-major within each round
  const ordered = Array.from({ length: o.episodes }, (_, n) => returns[n % P]![Math.floor(n / P)]!); // every environment reached its quota
  const { mean, std } = meanStd(ordered);
  const record: EvalRecord = {
    env,
    episodes: o.episodes,
    greedy: o.greedy ?? false,
    seed,
    returns: ordered,
    mean,
    std,
    checkpointFrames: checkpoint.frames,
    humanNormalized: humanNormalizedScore(env, mean),
  };
  if (o.save ?? true) writeFileAtomic(path.join(o.runDir, EVAL_FILE), JSON.stringify(record, null, 2) + '\n');
  if (o.video !== undefined) {
    // shown at least 288 pixels wide, one GIF frame per agent step in real time
    const scale = Math.max(1, Math.round(288 / W));
    const images = frames.map((rgb) => upscale({ width: W, height: H, rgb }, scale));
    fs.mkdirSync(path.dirname(o.video), { recursive: true });
    fs.writeFileSync(o.video, encodeGif(images, stepDelayMs(config.actionRepeat)));
  }
  return { ...record, runDir: o.runDir, video: o.video };
}

/** One line: mean ± std (min..max) over N episodes, human-normalised where defined. */
export function formatEval(r: EvalResult): string {
  const human = r.humanNormalized === undefined ? '' : `, human-normalised ${r.humanNormalized.toFixed(1)}%`;
  return (
    `eval ${r.runDir} (checkpoint at ${r.checkpointFrames} frames) on ${r.env}, ${r.greedy ? 'greedy' : 'sampled'} actions, seed ${r.seed}: ` +
    `${r.episodes} episodes, return ${r.mean.toFixed(3)} ± ${r.std.toFixed(3)} (min ${Math.min(...r.returns).toFixed(3)}, max ${Math.max(...r.returns).toFixed(3)})${human}` +
    (r.video ? `; video ${r.video}` : '')
  );
}

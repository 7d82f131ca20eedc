/**
 * The data-parallel learner and acting overlapped with learning, measured side by side:
 *   learner alone  CPC, B = 16, T = 100: the one-thread update, then 1, 2, ... worker threads
 *   end to end     `cpc-lab train` on builtin:rooms_watermaze (cpc, B = 16, T = 100): today's sequential
 *                  loop (`--mode sync --learner-threads 1`) against the default (async, lag 1, auto threads),
 *                  and with `--before DIR` the same command run from another checkout (e.g. main)
 * Run alone: `npx tsx scripts/bench-threads.ts [--before DIR] [--updates N] [--rounds N] [--end-to-end-only]`.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { applyGradientStep, createAgent, trainStep, type AgentKind } from '../agents/agent.js';
import { rmsprop } from '../agents/rmsprop.js';
import { initBackend } from '../src/backend/index.js';
import { GradientPool } from '../src/parallel/gradientPool.js';
import { HP, OBS_SHAPE, randomUnroll } from './bench-agent.js';
import { steadyFps, type EndToEndRow } from './bench-runtime.js';
import { formatTable } from './table.js';

const A = 9;
const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

export interface ScalingRow {
  learner: string;
  threads: number;
  framesPerSec: number;
  'vs 1 thread': string;
}

/** Learner updates/s alone (random batch, no environments): on this thread, then through `threads` workers each. */
export async function benchLearnerScaling(kind: AgentKind = 'cpc', B = 16, threadCounts = [1, 2], { T = 100, updates = 2 } = {}): Promise<ScalingRow[]> {
  await initBackend('wasm');
  const agent = createAgent({ kind, obsShape: OBS_SHAPE, numActions: A, seed: 1 });
  const opt = rmsprop({ learningRate: HP.learningRate });
  const batch = randomUnroll(T, B, agent.spec.lstmSize);
  const time = async (step: () => Promise<unknown>) => {
    await step(); // warm-up
    const start = performance.now();
    for (let i = 0; i < updates; i++) await step();
    return (4 * B * T * updates) / ((performance.now() - start) / 1000);
  };
  const rows: { learner: string; threads: number; framesPerSec: number }[] = [];
  rows.push({ learner: 'this thread (trainStep)', threads: 1, framesPerSec: await time(() => trainStep(agent, opt, batch, HP)) });
  for (const n of threadCounts) {
    const pool = await GradientPool.start(n, 'wasm', { kind, obsShape: OBS_SHAPE, numActions: A, seed: 1 }, agent.spec.latentSize);
    const step = async () => {
      const { grads } = await pool.gradients(await agent.getWeights(), batch, HP);
      const tensors: Record<string, tf.Tensor> = {};
      for (const [name, v] of Object.entries(agent.params)) tensors[name] = tf.tensor(grads[name], v.shape);
      await applyGradientStep(agent, opt, tensors, HP);
    };
    rows.push({ learner: 'worker threads (GradientPool)', threads: n, framesPerSec: await time(step) });
    await pool.close();
  }
  agent.dispose();
  opt.dispose();
  const one = rows[0].framesPerSec;
  return rows.map((r) => ({ ...r, 'vs 1 thread': `${(r.framesPerSec / one).toFixed(2)}x` }));
}

/** `cpc-lab train` from checkout `repo` (its TypeScript sources through tsx) in a process of its own. */
function trainFps(repo: string, flags: string[], B: number, updates: number): number {
  const runDir = fs.mkdtempSync(path.join(os.tmpdir(), 'cpc-lab-bench-'));
  const args = ['train', '--env', 'builtin:rooms_watermaze', '--agent', 'cpc', '--batch', String(B), '--unroll', '100', '--frames', String(B * 100 * 4 * updates), '--backend', 'wasm', '--progress-every', '1000000', '--run-dir', runDir, ...flags];
  execFileSync(process.execPath, ['--import', 'tsx', path.join(repo, 'src/cli.ts'), ...args], { cwd: REPO, stdio: ['ignore', 'ignore', 'inherit'] });
  const fps = steadyFps(runDir);
  fs.rmSync(runDir, { recursive: true, force: true });
  return fps;
}

/**
 * End-to-end frames/s of the sequential loop and of the default (and of `before`'s default, a
 * checkout of the code before this change), alternated `rounds` times so that load from other
 * processes hits every setting alike; the best round of each is kept.
 */
export function benchOverlap({ B = 16, updates = 6, rounds = 1, before }: { B?: number; updates?: number; rounds?: number; before?: string } = {}): EndToEndRow[] {
  const settings: { setup: string; repo: string; flags: string[] }[] = [
    ...(before ? [{ setup: `before: ${path.basename(before)} (its default: sync, one thread)`, repo: before, flags: [] }] : []),
    { setup: 'sequential (--mode sync --learner-threads 1)', repo: REPO, flags: ['--mode', 'sync', '--learner-threads', '1'] },
    { setup: 'default (sync, --learner-threads auto, no overlap)', repo: REPO, flags: [] },
    { setup: 'async (lag 1, acting overlapped, --learner-threads auto)', repo: REPO, flags: ['--mode', 'async'] },
  ];
  const best = settings.map(() => 0);
  for (let r = 0; r < rounds; r++) settings.forEach((s, i) => (best[i] = Math.max(best[i], trainFps(s.repo, s.flags, B, updates))));
  return settings.map((s, i) => ({ setup: s.setup, framesPerSec: best[i] }));
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const arg = (name: string) => {
    const i = process.argv.indexOf(name);
    return i >= 0 ? process.argv[i + 1] : undefined;
  };
  const cores = os.availableParallelism();
  const threadCounts = Array.from({ length: Math.min(cores, 16) }, (_, i) => i + 1);
  const scaling = process.argv.includes('--end-to-end-only') ? [] : await benchLearnerScaling('cpc', 16, threadCounts);
  if (scaling.length) console.log(formatTable(scaling as unknown as Record<string, unknown>[], `Learner alone (cpc, B = 16, T = 100, wasm, ${cores} cores)`));
  const e2e = benchOverlap({ before: arg('--before'), updates: Number(arg('--updates') ?? 6), rounds: Number(arg('--rounds') ?? 1) });
  const seq = e2e.find((r) => r.setup.startsWith('sequential'))!.framesPerSec;
  const alone = scaling.length ? Math.max(...scaling.map((r) => r.framesPerSec)) : Number.NaN;
  console.log(formatTable(e2e.map((r) => ({ ...r, 'vs sequential': `${(r.framesPerSec / seq).toFixed(2)}x`, 'vs best learner alone': `${((100 * r.framesPerSec) / alone).toFixed(0)}%` })), 'End to end: cpc-lab train on builtin:rooms_watermaze (cpc, B = 16, T = 100, wasm)'));
}

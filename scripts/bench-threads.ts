/**
 * The data-parallel learner and acting overlapped with learning, measured side by side in one run:
 *   learner alone  a random batch, no environments: the one-thread update (`trainStep` on this thread),
 *                  then the same update through 1, 2, ... worker threads (`GradientPool`), with the CPU
 *                  time per update of the whole process (every thread)
 *   end to end     `cpc-lab train` in a child process each: the sequential loop (`--mode sync
 *                  --learner-threads 1`), sync with learner threads (auto), and acting overlapped with
 *                  learning (`--mode async`, lag 1) with auto and with 1 learner thread; settings are
 *                  alternated `rounds` times so that load from other processes hits each alike
 *   ceiling        the same wasm matmul in 1, 2, 4, ... processes at once: what the cores give
 *                  for this kind of work, the most learner threads can reach
 * Run alone:
 *   npx tsx scripts/bench-threads.ts [--agent cpc] [--batch 16] [--unroll 100] [--env builtin:rooms_watermaze]
 *     [--updates N] [--rounds N] [--threads 1,2] [--learner-only | --end-to-end-only]
 */
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { applyGradientStep, createAgent, trainStep, type AgentKind, type AgentOptions } from '../agents/agent.js';
import { rmsprop } from '../agents/rmsprop.js';
import { initBackend } from '../src/backend/index.js';
import { GradientPool } from '../src/parallel/gradientPool.js';
import { HP, OBS_SHAPE, randomUnroll } from './bench-agent.js';
import { steadyFps } from './bench-runtime.js';
import { formatTable } from './table.js';

const A = 9;
const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

export interface ThreadsSetting {
  agent: AgentKind;
  B: number;
  T: number;
}

export interface ScalingRow {
  learner: string;
  threads: number;
  framesPerSec: number;
  /** CPU seconds of this process (all threads) per update. */
  cpuPerUpdate: number;
  'vs this thread': string;
}

/**
 * Learner updates alone (random batch, no environments): on this thread, then through `threadCounts`
 * workers, each after `warmup` untimed updates (worker threads take ~5 updates to reach their speed,
 * see `steadyFps`; the main thread about one).
 */
export async function benchLearnerScaling({ agent: kind, B, T }: ThreadsSetting, threadCounts = [1, 2], updates = 3, warmup = 4): Promise<ScalingRow[]> {
  await initBackend('wasm');
  const options: AgentOptions = { kind, obsShape: OBS_SHAPE, numActions: A, seed: 1 };
  const agent = createAgent(options);
  const opt = rmsprop({ learningRate: HP.learningRate });
  const batch = randomUnroll(T, B, agent.spec.lstmSize);
  const time = async (step: () => Promise<unknown>) => {
    for (let i = 0; i < warmup; i++) await step();
    const cpu = process.cpuUsage();
    const start = performance.now();
    for (let i = 0; i < updates; i++) await step();
    const used = process.cpuUsage(cpu);
    return { framesPerSec: (4 * B * T * updates) / ((performance.now() - start) / 1000), cpuPerUpdate: (used.user + used.system) / 1e6 / updates };
  };
  const rows: Omit<ScalingRow, 'vs this thread'>[] = [];
  rows.push({ learner: 'this thread (trainStep)', threads: 1, ...(await time(() => trainStep(agent, opt, batch, HP))) });
  for (const n of threadCounts) {
    const pool = await GradientPool.start(n, 'wasm', options, agent);
    const step = async () => {
      const { grads, sums } = await pool.gradients(await agent.getWeights(), batch, HP);
      const tensors: Record<string, tf.Tensor> = {};
      for (const [name, v] of Object.entries(agent.params)) tensors[name] = tf.tensor(grads[name]!, v.shape);
      const loss = tf.scalar(sums.loss);
      await applyGradientStep(agent, opt, batch, tensors, [loss], HP);
      loss.dispose();
    };
    rows.push({ learner: 'worker threads (GradientPool)', threads: n, ...(await time(step)) });
    await pool.close();
  }
  agent.dispose();
  opt.dispose();
  const one = rows[0]!.framesPerSec;
  return rows.map((r) => ({ ...r, 'vs this thread': `${(r.framesPerSec / one).toFixed(2)}x` }));
}

export interface OverlapRow {
  setup: string;
  framesPerSec: number;
  'vs sequential': string;
}

/** `cpc-lab train` from this checkout's sources in a process of its own; steady frames/s from its metrics. */
function trainFps({ agent, B, T }: ThreadsSetting, env: string, flags: string[], updates: number): number {
  const runDir = fs.mkdtempSync(path.join(os.tmpdir(), 'cpc-lab-bench-'));
  const args = ['train', '--env', env, '--agent', agent, '--batch', String(B), '--unroll', String(T), '--frames', String(B * T * 4 * updates), '--backend', 'wasm', '--progress-every', '1000000', '--run-dir', runDir, ...flags];
  execFileSync(process.execPath, ['--import', 'tsx', path.join(REPO, 'src/cli.ts'), ...args], { cwd: REPO, stdio: ['ignore', 'ignore', 'inherit'] });
  const fps = steadyFps(runDir);
  fs.rmSync(runDir, { recursive: true, force: true });
  return fps;
}

/** End-to-end frames/s of each single-process setting, alternated `rounds` times; the best round of each is kept. */
export function benchOverlap(setting: ThreadsSetting, { env = 'builtin:rooms_watermaze', updates = 16, rounds = 1 } = {}): OverlapRow[] {
  const settings = [
    { setup: 'sequential (--mode sync --learner-threads 1)', flags: ['--mode', 'sync', '--learner-threads', '1'] },
    { setup: 'sync, --learner-threads auto (no overlap)', flags: ['--mode', 'sync', '--learner-threads', 'auto'] },
    { setup: 'the default: async (acting overlapped, lag 1), --learner-threads auto', flags: ['--mode', 'async', '--learner-threads', 'auto'] },
    { setup: 'async (acting overlapped, lag 1), --learner-threads 1', flags: ['--mode', 'async', '--learner-threads', '1'] },
  ];
  const best = settings.map(() => 0);
  for (let r = 0; r < rounds; r++) settings.forEach((s, i) => (best[i] = Math.max(best[i]!, trainFps(setting, env, s.flags, updates))));
  return settings.map((s, i) => ({ setup: s.setup, framesPerSec: best[i]!, 'vs sequential': `${(best[i]! / best[0]!).toFixed(2)}x` }));
}

/**
 * The default end to end (async, auto threads) as a share of the learner alone at the same thread
 * count: what acting, the environments and the loop around the learner cost.
 */
export function endToEndShare(scaling: ScalingRow[], overlap: OverlapRow[], threads = Math.min(os.availableParallelism(), 16)): Record<string, string | number> {
  const alone = scaling.find((r) => r.learner.startsWith('worker') && r.threads === threads) ?? scaling[scaling.length - 1]!;
  const e2e = overlap.find((r) => r.setup.startsWith('the default'))!;
  return { 'default end to end': e2e.framesPerSec, [`learner alone, ${alone.threads} thread(s)`]: alone.framesPerSec, share: `${((100 * e2e.framesPerSec) / alone.framesPerSec).toFixed(0)}%` };
}

export interface CeilingRow {
  processes: number;
  'ms per matmul': number;
  throughput: string;
}

/** 1 and the even counts up to this machine's cores (at most 16). */
function ceilingCounts(): number[] {
  return Array.from({ length: Math.min(os.availableParallelism(), 16) }, (_, i) => i + 1).filter((n) => n === 1 || n % 2 === 0);
}

export const ceilingTitle = () => `This machine's parallel ceiling: the same wasm matmul in N processes at once (${os.availableParallelism()} cores, load average ${os.loadavg()[0]!.toFixed(1)})`;

/** `count` matmuls of the encoder's fc at T = 100, B = 16 ([1616, 2240] x [2240, 256]) on wasm; ms per matmul. */
async function fcMatmuls(count: number): Promise<number> {
  await initBackend('wasm');
  const a = tf.randomNormal([1616, 2240]);
  const b = tf.randomNormal([2240, 256]);
  const once = () => {
    // not tf.tidy(() => ...dataSync()): tidy walks a returned typed array element by element
    const c = a.matMul(b);
    c.dataSync();
    c.dispose();
  };
  once();
  const start = performance.now();
  for (let i = 0; i < count; i++) once();
  return (performance.now() - start) / count;
}

/**
 * What the cores give for the learner's kind of work: the same wasm matmul in 1, 2, ... processes
 * at once, their summed throughput against one alone. Learner threads cannot scale past it (on a VM
 * whose cores share caches or memory bandwidth it is well below the core count).
 */
export async function benchCeiling(counts = ceilingCounts(), matmuls = 20): Promise<CeilingRow[]> {
  const child = (): Promise<number> =>
    new Promise((resolve, reject) => {
      const p = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), '--fc-matmuls', String(matmuls)], { cwd: REPO, stdio: ['ignore', 'pipe', 'inherit'] });
      let out = '';
      p.stdout.on('data', (d: Buffer) => (out += d.toString()));
      p.on('error', reject);
      p.on('close', (code) => (code === 0 ? resolve(Number(out.trim())) : reject(new Error(`matmul child exited with ${code}`))));
    });
  const rows: Omit<CeilingRow, 'throughput'>[] = [];
  for (const n of counts) {
    const ms = await Promise.all(Array.from({ length: n }, child));
    rows.push({ processes: n, 'ms per matmul': Math.round(ms.reduce((x, y) => x + y, 0) / n) });
  }
  const one = rows[0]!['ms per matmul'];
  return rows.map((r) => ({ ...r, throughput: `${((r.processes * one) / r['ms per matmul']).toFixed(2)}x` }));
}

if (process.argv.includes('--fc-matmuls')) {
  console.log(await fcMatmuls(Number(process.argv[process.argv.indexOf('--fc-matmuls') + 1])));
} else if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const arg = (name: string, fallback: string) => {
    const i = process.argv.indexOf(name);
    return i >= 0 ? process.argv[i + 1]! : fallback;
  };
  const setting: ThreadsSetting = { agent: arg('--agent', 'cpc') as AgentKind, B: Number(arg('--batch', '16')), T: Number(arg('--unroll', '100')) };
  const env = arg('--env', 'builtin:rooms_watermaze');
  const label = `${setting.agent}, B = ${setting.B}, T = ${setting.T}, wasm, ${os.availableParallelism()} cores, load average ${os.loadavg()[0]!.toFixed(1)}`;
  let scaling: ScalingRow[] | undefined;
  if (!process.argv.includes('--end-to-end-only')) {
    console.log(formatTable((await benchCeiling()) as unknown as Record<string, unknown>[], ceilingTitle()));
    const threads = arg('--threads', '1,2').split(',').map(Number);
    scaling = await benchLearnerScaling(setting, threads, Number(arg('--learner-updates', '3')));
    console.log(formatTable(scaling as unknown as Record<string, unknown>[], `Learner alone (${label})`));
  }
  if (!process.argv.includes('--learner-only')) {
    const rows = benchOverlap(setting, { env, updates: Number(arg('--updates', '16')), rounds: Number(arg('--rounds', '1')) });
    console.log(formatTable(rows as unknown as Record<string, unknown>[], `End to end: cpc-lab train on ${env} (${label})`));
    if (scaling) console.log(formatTable([endToEndShare(scaling, rows)], 'The default end to end against the learner alone'));
  }
}

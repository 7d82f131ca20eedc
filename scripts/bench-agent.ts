/**
 * Learner and actor throughput of the full-size agent (72x96 observations, T = 100). `npm run bench` imports it;
 * alone it times learner updates with their kernel profile:
 *
 *   npx tsx scripts/bench-agent.ts [--agent cpc] [--batch 16,32] [--updates 2] [--backend wasm]
 */
import { pathToFileURL } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { createAgent, trainStep, type AgentKind, type Unroll } from '../agents/agent.js';
import { rmsprop } from '../agents/rmsprop.js';
import { formatKernelProfile, initBackend, profileKernels, type BackendName } from '../src/backend/index.js';
import { Rng } from '../src/rng.js';
import { formatTable } from './table.js';

export const OBS_SHAPE: [number, number, number] = [72, 96, 3];
const A = 9;
export const HP = {
  discount: 0.99,
  entropyCost: 0.00025,
  baselineCost: 0.5,
  cpcCost: 1,
  rewardClipping: 'abs_one' as const,
  cpcNegatives: 'batch' as const,
  cpcStopGradient: false,
  learningRate: 0.00048,
  frames: 0,
  totalFrames: 1e9,
  gradClip: 0,
};

/** A batch of random observations with episode ends sprinkled in (so masking is exercised). */
export function randomUnroll(T: number, B: number, L: number, seed = 1): Unroll {
  const rng = new Rng(seed);
  const [H, W, C] = OBS_SHAPE;
  const observations = new Uint8Array((T + 1) * B * H * W * C);
  for (let i = 0; i < observations.length; i += 4) observations[i] = rng.int(256);
  return {
    T,
    B,
    observations,
    prevActions: Int32Array.from({ length: (T + 1) * B }, () => rng.int(A)),
    prevRewards: Float32Array.from({ length: (T + 1) * B }, () => (rng.next() < 0.05 ? 1 : 0)),
    firsts: Uint8Array.from({ length: (T + 1) * B }, () => (rng.next() < 0.01 ? 1 : 0)),
    actions: Int32Array.from({ length: T * B }, () => rng.int(A)),
    behaviourLogits: new Float32Array(T * B * A),
    initialState: { h: new Float32Array(B * L), c: new Float32Array(B * L) },
  };
}

export interface LearnerRow {
  backend: string;
  agent: AgentKind;
  B: number;
  T: number;
  stepsPerSec: number;
  framesPerSec: number;
  secondsPerUpdate: number;
  /** wasm: the heap's size after the updates (it only grows; capped at 4096 MB); else tfjs's peak tensor bytes when profiled. */
  memoryMB: number | undefined;
  rssMB: number;
}

/** Size of the wasm heap in MB, or undefined on other backends. */
function wasmHeapMB(): number | undefined {
  const heap = (tf.backend() as { wasm?: { HEAPU8: Uint8Array } }).wasm?.HEAPU8;
  return heap ? heap.length / 2 ** 20 : undefined;
}

/**
 * Learner updates/s on the current backend: `warmup` untimed updates, then `updates` timed ones.
 * With `profile`, one more update runs under the kernel profiler (printed; peak bytes measured).
 */
export async function benchLearner(kind: AgentKind, B: number, { T = 100, updates = 2, warmup = 1, profile = true } = {}): Promise<LearnerRow> {
  const agent = createAgent({ kind, obsShape: OBS_SHAPE, numActions: A, seed: 1 });
  const opt = rmsprop({ learningRate: HP.learningRate });
  const batch = randomUnroll(T, B, agent.spec.lstmSize);
  for (let i = 0; i < warmup; i++) await trainStep(agent, opt, batch, HP);
  const start = performance.now();
  for (let i = 0; i < updates; i++) await trainStep(agent, opt, batch, HP);
  const seconds = (performance.now() - start) / 1000 / updates;
  let peakBytes = 0;
  if (profile) {
    const p = await profileKernels(() => {
      const { value, grads } = tf.variableGrads(() => agent.loss(batch, HP).total, Object.values(agent.params));
      tf.dispose(Object.values(grads));
      return value;
    });
    p.result.dispose();
    peakBytes = p.peakBytes;
    console.log(`\nkernel profile, ${tf.getBackend()} ${kind} B=${B} T=${T}:\n${formatKernelProfile(p, 12)}`);
  }
  const row: LearnerRow = {
    backend: tf.getBackend(),
    agent: kind,
    B,
    T,
    stepsPerSec: (B * T) / seconds,
    framesPerSec: (4 * B * T) / seconds,
    secondsPerUpdate: seconds,
    memoryMB: wasmHeapMB() ?? (profile ? peakBytes / 2 ** 20 : undefined),
    rssMB: process.memoryUsage().rss / 2 ** 20,
  };
  agent.dispose();
  opt.dispose();
  return row;
}

export interface ActorRow {
  backend: string;
  envs: number;
  stepsPerSec: number;
}

/** Batched inference steps/s (one forward of E environments per step, no environment cost). */
export async function benchActorInference(E: number, steps = 50): Promise<ActorRow> {
  const agent = createAgent({ kind: 'cpc', obsShape: OBS_SHAPE, numActions: A, seed: 1 });
  const u = randomUnroll(1, E, agent.spec.lstmSize);
  // the first step of the random unroll
  const inputs = {
    observations: u.observations.subarray(0, E * OBS_SHAPE[0] * OBS_SHAPE[1] * OBS_SHAPE[2]),
    prevActions: u.prevActions.subarray(0, E),
    prevRewards: u.prevRewards.subarray(0, E),
    firsts: u.firsts.subarray(0, E),
  };
  let state = agent.initialState(E);
  const run = async (n: number) => {
    for (let i = 0; i < n; i++) {
      const out = await agent.step(inputs, E, state);
      tf.dispose([state.h, state.c]);
      state = out.state;
    }
  };
  await run(3);
  const start = performance.now();
  await run(steps);
  const seconds = (performance.now() - start) / 1000;
  tf.dispose([state.h, state.c]);
  agent.dispose();
  return { backend: tf.getBackend(), envs: E, stepsPerSec: (E * steps) / seconds };
}

function argValue(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await initBackend((argValue('--backend') ?? 'wasm') as BackendName);
  const kind = (argValue('--agent') ?? 'cpc') as AgentKind;
  const updates = Number(argValue('--updates') ?? 2);
  const rows: LearnerRow[] = [];
  for (const B of (argValue('--batch') ?? '16,32').split(',').map(Number)) rows.push(await benchLearner(kind, B, { updates }));
  console.log(formatTable(rows as unknown as Record<string, unknown>[], `Learner updates (T = 100, 72x96, ${tf.getBackend()})`));
}

/**
 * `npm run bench`: every throughput figure of cpc-lab, as tables.
 *   learner  agent-steps/s and frames/s, B in {8, 32}, T = 100, baseline and cpc, 72x96, per backend
 *   actor    batched inference steps/s for 1, 8 and 32 environments
 *   envs     built-in levels, agent steps/s on one core
 *   kernels  our wasm kernels against stock tfjs-wasm
 *   transport env-protocol round trips, DMLab bridge overhead, codec, unrolls through ZeroMQ
 *   threads  the data-parallel learner alone on this thread and 1, 2, ... worker threads, and `cpc-lab train`
 *            in one process: sequential (sync, one thread) against learner threads and acting overlapped
 *            with learning; at B = 16 for cpc T = 100 (the paper's unroll) and baseline T = 20 (the small-budget protocol)
 *   end to end  `cpc-lab train` on a built-in level with 1, 2 and 4 actor processes
 * `--quick` skips the slow parts (B = 32, the cpu backend, end to end). Kernel profiles are printed on the way.
 */
import * as tf from '@tensorflow/tfjs';
import { initBackend, type BackendName } from '../src/backend/index.js';
import { benchActorInference, benchLearner, type LearnerRow } from './bench-agent.js';
import { benchMatmulAndConv } from './bench-backend.js';
import os from 'node:os';
import { benchEndToEnd, benchUnrollTransport } from './bench-runtime.js';
import { benchCeiling, benchLearnerScaling, benchOverlap, ceilingTitle, endToEndShare, type ThreadsSetting } from './bench-threads.js';
import { benchBuiltinLevels } from './bench-envs.js';
import { benchTransport, DMLAB_STEP_US } from './bench-transport.js';
import { formatTable } from './table.js';

const quick = process.argv.includes('--quick');
const tables: string[] = [];
const show = (rows: object[], title: string) => {
  const t = formatTable(rows as Record<string, unknown>[], title);
  tables.push(t);
  console.log(t);
};

const learnerRows: LearnerRow[] = [];
const backends: { name: BackendName; batches: number[]; opts: Parameters<typeof benchLearner>[2] }[] = [
  { name: 'wasm', batches: quick ? [8] : [8, 32], opts: { updates: 2 } },
  // pure-JS cpu is ~20x slower: one untimed-warm-up-free update at B = 8 gives its figure
  ...(quick ? [] : [{ name: 'cpu' as const, batches: [8], opts: { updates: 1, warmup: 0, profile: false } }]),
];
for (const b of backends) {
  await initBackend(b.name);
  for (const B of b.batches) for (const kind of ['baseline', 'cpc'] as const) learnerRows.push(await benchLearner(kind, B, b.opts));
}
show(learnerRows, 'Learner (T = 100, 72x96; frames = agent steps x 4; memory: wasm heap size, else peak tensor bytes)');

await initBackend('wasm');
show([await benchActorInference(1), await benchActorInference(8), await benchActorInference(32)], `Actor inference (${tf.getBackend()}, one batched step per agent step)`);
show(await benchBuiltinLevels(), 'Built-in levels (agent steps/s, 72x96, repeat 4, one core, random actions)');
show(await benchMatmulAndConv({ reps: quick ? 2 : 5 }), 'wasm kernels, stock vs ours (800 frames)');
show(await benchTransport(), `Transport per agent step (a real DeepMind Lab step is assumed to take ${DMLAB_STEP_US} µs)`);
show([await benchUnrollTransport()], 'Unrolls through ZeroMQ (loopback TCP)');
show(await benchCeiling(), ceilingTitle());
const cores = os.availableParallelism();
const threadCounts = Array.from({ length: Math.min(cores, 16) }, (_, i) => i + 1);
for (const [setting, updates] of [[{ agent: 'cpc', B: 16, T: 100 }, 16], [{ agent: 'baseline', B: 16, T: 20 }, 60]] as [ThreadsSetting, number][]) {
  const label = `${setting.agent}, B = ${setting.B}, T = ${setting.T}, wasm, ${cores} cores${cores < 16 ? '; the 4/8/16-thread curve needs a machine with that many cores' : ''}`;
  const scaling = await benchLearnerScaling(setting, threadCounts, quick ? 1 : 3, quick ? 1 : 4);
  show(scaling, `Learner alone, data-parallel (${label})`);
  if (quick) continue;
  const overlap = benchOverlap(setting, { updates });
  show(overlap, `One process end to end: cpc-lab train on builtin:rooms_watermaze (${label}, load average ${os.loadavg()[0]!.toFixed(1)})`);
  show([endToEndShare(scaling, overlap)], `The default end to end against the learner alone (${setting.agent}, T = ${setting.T})`);
}
if (!quick) {
  const e2e = await benchEndToEnd();
  await initBackend('wasm');
  const alone = (await benchLearner('cpc', 16, { profile: false })).framesPerSec;
  show([...e2e, { setup: 'learner alone (no environments, no actors)', framesPerSec: alone }].map((r) => ({ ...r, 'vs learner alone': `${((100 * r.framesPerSec) / alone).toFixed(0)}%` })), 'End to end with actor processes: cpc-lab train on builtin:rooms_watermaze (cpc, B = 16, T = 100, wasm)');
}

console.log('\n\n===== summary =====');
for (const t of tables) console.log(t);

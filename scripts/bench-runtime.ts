/**
 * Distributed-runtime throughput: unrolls/s through real ZeroMQ sockets, and end-to-end frames/s of
 * training on a built-in level with 1, 2 and 4 actor processes, sync and async.
 * Run alone: `npx tsx scripts/bench-runtime.ts`.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import * as zmq from 'zeromq';
import { resolveConfig, type ConfigInput } from '../src/config.js';
import { superviseTraining } from '../src/runtime/supervisor.js';
import { unrollToMessage } from '../src/runtime/wire.js';
import { decode, encode } from '../src/transport/codec.js';
import { OBS_SHAPE, randomUnroll } from './bench-agent.js';
import { formatTable } from './table.js';

/** Unroll messages (T = 100, E environments) sent Dealer -> Router over loopback TCP, encoded and decoded. */
export async function benchUnrollTransport(E = 16, count = 20): Promise<{ what: string; MBPerUnroll: number; unrollsPerSec: number; msPerUnroll: number }> {
  const router = new zmq.Router({ maxMessageSize: -1 });
  await router.bind('tcp://127.0.0.1:*');
  const dealer = new zmq.Dealer();
  dealer.connect(router.lastEndpoint!);
  const u = randomUnroll(100, E, 256);
  const message = (seq: number) => encode(unrollToMessage(u, OBS_SHAPE, { actorId: 'bench', seq, paramsVersion: 0, episodes: [] }));
  const bytes = message(0).byteLength;
  const start = performance.now();
  const sending = (async () => {
    for (let i = 0; i < count; i++) await dealer.send(message(i));
  })();
  for (let i = 0; i < count; i++) {
    const [, body] = await router.receive();
    if (!decode(body!).ok) throw new Error('bench: unroll did not decode');
  }
  await sending;
  const seconds = (performance.now() - start) / 1000;
  dealer.close();
  router.close();
  return { what: `unroll E=${E} T=100 72x96 (encode+send+receive+decode)`, MBPerUnroll: bytes / 2 ** 20, unrollsPerSec: count / seconds, msPerUnroll: (1000 * seconds) / count };
}

/**
 * Frames/s over the later half of a run's updates: what a long run gets. Start-up is excluded, and
 * so is warm-up: a learner thread's first ~5 updates are up to 2x slower than its later ones
 * (measured: 3.2 s falling to 1.7 s an update, cpc, B = 16, T = 100), which a short run would count.
 */
export function steadyFps(runDir: string): number {
  const u = fs
    .readFileSync(path.join(runDir, 'metrics.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { kind: string; frames: number; time: number })
    .filter((r) => r.kind === 'update');
  const [a, b] = [u[Math.floor((u.length - 1) / 2)]!, u[u.length - 1]!];
  return (b.frames - a.frames) / Math.max(b.time - a.time, 1e-9);
}

export interface EndToEndRow {
  setup: string;
  framesPerSec: number;
  'async vs sync'?: string;
}

/**
 * `cpc-lab train` on `env` with batch B, T = 100: 1, 2 and 4 actor processes, each in sync mode and
 * in async (acting asked one batch ahead of learning), side by side (the single-process settings are
 * compared in bench-threads.ts).
 */
export async function benchEndToEnd(env = 'builtin:rooms_watermaze', B = 16, updates = 6): Promise<EndToEndRow[]> {
  const base: ConfigInput = { env, agent: 'cpc', batch: B, unroll: 100, frames: B * 100 * 4 * updates, backend: 'wasm', progressEvery: 1e9 };
  const rows: EndToEndRow[] = [];
  for (const actors of [1, 2, 4]) {
    let sync = 0;
    for (const mode of ['sync', 'async'] as const) {
      const runDir = fs.mkdtempSync(path.join(os.tmpdir(), 'cpc-lab-bench-'));
      await superviseTraining(resolveConfig({ ...base, actors, mode, runDir }), { log: () => {} });
      const fps = steadyFps(runDir);
      fs.rmSync(runDir, { recursive: true, force: true });
      sync ||= fps;
      rows.push({ setup: `${actors} actor(s) x ${B / actors} env processes, ${mode}`, framesPerSec: fps, 'async vs sync': `${(fps / sync).toFixed(2)}x` });
    }
  }
  return rows;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  console.log(formatTable([await benchUnrollTransport()], 'Unrolls through ZeroMQ'));
  console.log(formatTable(await benchEndToEnd() as unknown as Record<string, unknown>[], 'End to end (cpc agent, T = 100, wasm)'));
}

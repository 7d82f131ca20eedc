/**
 * Transport overhead per agent step, on this machine:
 * - the env protocol through the TypeScript env server (ipc and loopback TCP) against an env whose
 *   step costs nothing but its 72x96x3 observation;
 * - the DeepMind Lab bridge against the fake `deepmind_lab` (the fake's own step, timed inside
 *   Python, is subtracted to give the bridge's overhead);
 * - the codec alone on a step reply and on a full B = 32, T = 100 unroll;
 * each in wall time (best of several rounds) and CPU time of all processes involved, the latter
 * also as a fraction of a real DeepMind Lab step (`DMLAB_STEP_US`). On a loaded machine wall time
 * mostly measures scheduling delays; CPU time is what the transport takes from the environments.
 * Run alone: `npx tsx scripts/bench-transport.ts`.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { bridgeScript, fakeDmlabPath, makeDmlabEnv } from '../envs/dmlab/index.js';
import type { EnvSpec, Environment, StepResult } from '../envs/types.js';
import { decode, encode, toWire } from '../src/transport/codec.js';
import { RemoteEnv } from '../src/transport/envClient.js';
import { serveEnv } from '../src/transport/envServer.js';
import type { Message } from '../src/transport/messages.js';
import { formatTable } from './table.js';

/**
 * Assumed cost of one real DeepMind Lab agent step (72x96, software rendering, repeat 4): about
 * 1,300 frames/s per core, i.e. ~3 ms per 4-frame step. Not measured here (no DeepMind Lab); the
 * fractions below scale with it.
 */
export const DMLAB_STEP_US = 3000;

export interface TransportRow {
  path: string;
  /** Wall time per operation, µs: the best of `ROUNDS` rounds (least disturbed by other load). */
  wallUs: number;
  /** CPU time per operation, µs, of every process involved (robust to a loaded machine). */
  cpuUs: number;
  /** `cpuUs` as a percentage of a real DeepMind Lab step. */
  pctOfDmlabStep: number;
}

const ROUNDS = 5;

const row = (path: string, wallUs: number, cpuUs: number): TransportRow => ({ path, wallUs, cpuUs, pctOfDmlabStep: (100 * cpuUs) / DMLAB_STEP_US });

/** An environment whose step is free: the cost measured is the transport's. */
class NullEnv implements Environment {
  readonly spec: EnvSpec = { observationShape: [72, 96, 3], numActions: 9, level: 'bench:null' };
  private readonly obs = new Uint8Array(72 * 96 * 3);
  reset(): Uint8Array {
    return this.obs;
  }
  step(): StepResult {
    return { obs: this.obs, reward: 0, done: false };
  }
  close(): void {}
}

/** CPU time (user + system) of another process so far, µs, from /proc (Linux). */
function childCpuUs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return ((Number(fields[11]) + Number(fields[12])) / 100) * 1e6; // utime, stime in 1/100 s
}

/** Steps `env`; returns [best wall µs per step, CPU µs per step of this process + `otherPid`]. */
async function timeSteps(env: Environment, steps: number, otherPid?: number): Promise<[number, number]> {
  await env.reset(1);
  for (let i = 0; i < Math.min(200, steps); i++) await env.step(i % 9, 4); // warm-up
  let best = Infinity;
  const cpu0 = process.cpuUsage();
  const other0 = otherPid ? childCpuUs(otherPid) : 0;
  for (let r = 0; r < ROUNDS; r++) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < steps; i++) await env.step(i % 9, 4);
    best = Math.min(best, Number(process.hrtime.bigint() - t0) / 1e3 / steps);
  }
  const cpu = process.cpuUsage(cpu0);
  const other = otherPid ? childCpuUs(otherPid) - other0 : 0;
  return [best, (cpu.user + cpu.system + other) / (ROUNDS * steps)];
}

/** Env-protocol round trip (`RemoteEnv.step` -> TS env server -> reply), µs per step. */
export async function benchEnvServer(steps = 2000): Promise<TransportRow[]> {
  const dir = mkdtempSync(join(tmpdir(), 'cpc-bench-'));
  const rows: TransportRow[] = [row('in-process NullEnv.step (baseline)', ...(await timeSteps(new NullEnv(), steps)))];
  try {
    for (const [name, endpoint] of [['ipc', `ipc://${dir}/env`], ['tcp', 'tcp://127.0.0.1:*']] as const) {
      // Client and server share this process, so its CPU time covers both ends.
      const server = await serveEnv(new NullEnv(), endpoint);
      const remote = await RemoteEnv.connect(server.endpoint);
      rows.push(row(`TS env server over ${name}, 72x96x3 obs`, ...(await timeSteps(remote, steps))));
      await remote.close();
      await server.done;
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return rows;
}

/** The Python bridge against the fake: round trip, the fake's own step, and their difference. */
export async function benchDmlabBridge(steps = 2000, python = '/usr/bin/python3'): Promise<TransportRow[]> {
  const env = await makeDmlabEnv('rooms_watermaze', { python, dmlabPath: fakeDmlabPath(), levelCacheDir: false });
  const [wall, cpu] = await timeSteps(env, steps, env.server.child.pid);
  await env.close();
  // The fake's step + observation copy, as the bridge calls them, timed inside Python.
  const script = `
import sys, time, numpy as np
sys.path[:0] = [sys.argv[1], sys.argv[2]]
import deepmind_lab, server
lab = deepmind_lab.Lab('contributed/dmlab30/rooms_watermaze', ['RGB_INTERLEAVED'], config={'width': '96', 'height': '72'})
lab.reset(seed=1)
acts = [np.array(a, dtype=np.intc) for a in server.ACTION_SET]
n = int(sys.argv[3])
def run():
    for i in range(n):
        lab.step(acts[i % 9], num_steps=4)
        if not lab.is_running():
            lab.reset(seed=i)
        server.wire_array(lab.observations()['RGB_INTERLEAVED'])
run()
w, c = time.perf_counter(), time.process_time()
run()
print((time.perf_counter() - w) / n * 1e6, (time.process_time() - c) / n * 1e6)
`;
  const out = execFileSync(python, ['-c', script, fakeDmlabPath(), join(bridgeScript(), '..'), String(steps)], { encoding: 'utf8' });
  const [fakeWall, fakeCpu] = out.trim().split(' ').map(Number);
  return [
    row('DMLab bridge round trip (fake deepmind_lab)', wall, cpu),
    row("  of which the fake's step + observation copy", fakeWall, fakeCpu),
    row('  bridge overhead per agent step', wall - fakeWall, cpu - fakeCpu),
  ];
}

function timeCodec(msg: Message, reps: number): [number, number] {
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < reps; i++) {
    const r = decode(encode(msg));
    if (!r.ok) throw new Error(r.error.message);
  }
  const cpu = process.cpuUsage(cpu0);
  return [Number(process.hrtime.bigint() - t0) / 1e3 / reps, (cpu.user + cpu.system) / reps];
}

/** `decode(encode(msg))` of a step reply and of a full-size unroll, µs. */
export function benchCodec(): TransportRow[] {
  const obs = toWire(new Uint8Array(72 * 96 * 3), [72, 96, 3]);
  const T = 100;
  const B = 32;
  const unroll: Message = {
    type: 'unroll',
    actorId: 'bench',
    seq: 0,
    paramsVersion: 0,
    observations: toWire(new Uint8Array((T + 1) * B * 72 * 96 * 3), [T + 1, B, 72, 96, 3]),
    prevActions: toWire(new Int32Array((T + 1) * B), [T + 1, B]),
    prevRewards: toWire(new Float32Array((T + 1) * B), [T + 1, B]),
    firsts: toWire(new Uint8Array((T + 1) * B), [T + 1, B]),
    actions: toWire(new Int32Array(T * B), [T, B]),
    behaviourLogits: toWire(new Float32Array(T * B * 9), [T, B, 9]),
    initialState: { h: toWire(new Float32Array(B * 256), [B, 256]), c: toWire(new Float32Array(B * 256), [B, 256]) },
    episodes: [],
  };
  timeCodec(unroll, 2);
  return [
    row('codec: step reply encode+decode', ...timeCodec({ type: 'env.step.reply', obs, reward: 1, done: false }, 20_000)),
    row(`codec: unroll B=${B} T=${T} (${(encode(unroll).byteLength / 2 ** 20).toFixed(0)} MiB) encode+decode`, ...timeCodec(unroll, 10)),
  ];
}

export async function benchTransport(): Promise<TransportRow[]> {
  return [...(await benchEnvServer()), ...(await benchDmlabBridge()), ...benchCodec()];
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const rows = await benchTransport();
  const load = loadavg()[0].toFixed(1);
  console.log(formatTable(rows as unknown as Record<string, unknown>[], `Transport per agent step (real DeepMind Lab step assumed ${DMLAB_STEP_US} µs; ${cpus().length} cores, load ${load})`));
}

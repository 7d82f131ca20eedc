/**
 * Transport overhead per agent step, on this machine:
 * - the env protocol through the TypeScript env server (ipc and loopback TCP) against an env whose
 *   step costs nothing but its 72x96x3 observation;
 * - the DeepMind Lab bridge against the fake `deepmind_lab`: bridge steps and direct Python steps of
 *   the same level alternate on the same seeds and actions; their difference is the bridge's overhead;
 * - the codec alone on a step reply and on a full B = 32, T = 100 unroll;
 * each in wall time (best of several rounds) and CPU time of all processes involved, the latter
 * also as a fraction of a real DeepMind Lab step (`DMLAB_STEP_US`). On a loaded machine wall time
 * mostly measures scheduling delays; CPU time is what the transport takes from the environments.
 * Run alone: `npx tsx scripts/bench-transport.ts`.
 *
 * Against a real DeepMind Lab build (what a user checks before a long run):
 *
 *   npx tsx scripts/bench-transport.ts --python PY --dmlab-path DIR [--level rooms_watermaze] [--steps 500] [--rounds 5]
 *
 * alternates `--steps` direct `Lab.step(action, num_steps=4)` + observation calls in a Python process with the
 * same steps through the bridge (same level settings, seeds and actions), `--rounds` times, and prints the
 * bridge's overhead per agent step, in µs and as a ratio to the direct step (wall and CPU; `--dmlab-path
 * envs/dmlab/fake` runs it against the fake).
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { bridgeArgs, bridgeEnv, bridgeScript, fakeDmlabPath, makeDmlabEnv, resolvePython } from '../envs/dmlab/index.js';
import type { EnvSpec, Environment, StepResult } from '../envs/types.js';
import { decode, encode, toWire } from '../src/transport/codec.js';
import { RemoteEnv } from '../src/transport/envClient.js';
import { serveEnv } from '../src/transport/envServer.js';
import type { Message } from '../src/transport/messages.js';
import { formatTable } from './table.js';

/**
 * Cost of one real DeepMind Lab agent step (72x96, software rendering, repeat 4): a direct
 * `env.step(a, num_steps=4)` + observation of rooms_watermaze took a median 3.5-3.7 ms on a 2-core
 * machine (seekavoid_arena_01 4.65 ms). The fractions below scale with it; `--dmlab-path` measures it.
 */
export const DMLAB_STEP_US = 3500;

export interface TransportRow {
  path: string;
  /** Wall time per operation, µs: the best of `ROUNDS` rounds (least disturbed by other load); null: not measured. */
  wallUs: number | null;
  /** CPU time per operation, µs, of every process involved (robust to a loaded machine). */
  cpuUs: number;
  /** `cpuUs` as a percentage of a real DeepMind Lab step. */
  pctOfDmlabStep: number;
}

const ROUNDS = 5;

const row = (path: string, wallUs: number | null, cpuUs: number): TransportRow => ({ path, wallUs, cpuUs, pctOfDmlabStep: (100 * cpuUs) / DMLAB_STEP_US });

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
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
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

/** The action of step i of a round with this seed; the direct Python steps compute the same. */
const actionAt = (seed: number, i: number) => (seed + 7 * i + Math.floor(i / 5)) % 9;

/**
 * Steps a `deepmind_lab.Lab` directly, opened by the bridge's own `open_lab` from the bridge's arguments: for each
 * stdin line `SEED N` it resets as the bridge does (seeded generator, fresh seed per episode), times N steps of
 * `actionAt` + observation, and prints `wallUs cpuUs` per step and, to check that both sides played the same
 * steps, the summed reward and the byte sum of the last observation.
 */
const DIRECT_SCRIPT = `
import sys, time, numpy as np
sys.path.insert(0, sys.argv[1])
import server
_, lab, _ = server.open_lab(server.parse_args(sys.argv[2:]))
acts = [np.array(a, dtype=np.intc) for a in server.ACTION_SET]
print('ready', flush=True)
for line in sys.stdin:
    seed, n = map(int, line.split())
    rng = np.random.RandomState(seed)
    lab.reset(seed=int(rng.randint(0, 2 ** 31 - 1)))
    total = 0.0
    w, c = time.perf_counter(), time.process_time()
    for i in range(n):
        total += lab.step(acts[(seed + 7 * i + i // 5) % 9], num_steps=4)
        if not lab.is_running():
            lab.reset(seed=int(rng.randint(0, 2 ** 31 - 1)))
        obs = lab.observations()['RGB_INTERLEAVED']
    w, c = (time.perf_counter() - w) / n * 1e6, (time.process_time() - c) / n * 1e6
    print(w, c, total, int(obs.sum(dtype=np.int64)), flush=True)
`;

export interface BridgeVsDirect {
  level: string;
  /** Per agent step, medians over rounds, µs. */
  directWallUs: number;
  directCpuUs: number;
  bridgeWallUs: number;
  /** CPU of this process and the bridge process together. */
  bridgeCpuUs: number;
  /** CPU of this (Node) process alone. */
  nodeCpuUs: number;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[s.length >> 1]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
}

/**
 * DeepMind Lab (or the fake, `dmlabPath: fakeDmlabPath()`) stepped directly in Python and through the bridge,
 * alternating `rounds` times on the same seeds and actions, `steps` agent steps (repeat 4) each.
 */
export async function benchBridgeVsDirect(opts: { python?: string; dmlabPath?: string; level?: string; steps?: number; rounds?: number }): Promise<BridgeVsDirect> {
  const { level = 'rooms_watermaze', steps = 500, rounds = 5 } = opts;
  const dmlab = { python: opts.python, dmlabPath: opts.dmlabPath };
  const direct = spawn(resolvePython(dmlab.python), ['-c', DIRECT_SCRIPT, join(bridgeScript(), '..'), ...bridgeArgs(level, {})], {
    env: bridgeEnv(dmlab.dmlabPath),
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const lines = createInterface({ input: direct.stdout })[Symbol.asyncIterator]();
  const nextLine = async () => {
    for (;;) {
      const r = await lines.next();
      if (r.done) throw new Error(`direct DeepMind Lab process exited (status ${direct.exitCode}); see its output above`);
      if (/^(ready|[\d.e+-]+( [\d.e+-]+){3})$/.test(r.value.trim())) return r.value.trim(); // DeepMind Lab prints too
    }
  };
  const env = await makeDmlabEnv(level, { ...dmlab, startupTimeoutMs: 300_000 });
  const pid = env.server.child.pid!;
  const rows = { directWallUs: [] as number[], directCpuUs: [] as number[], bridgeWallUs: [] as number[], bridgeCpuUs: [] as number[], nodeCpuUs: [] as number[] };
  try {
    await nextLine();
    for (let r = 0; r <= rounds; r++) {
      const seed = 1000 + r;
      direct.stdin.write(`${seed} ${steps}\n`);
      const [dw, dc, directReturn, directObsSum] = (await nextLine()).split(' ').map(Number);
      let obs = await env.reset(seed);
      let bridgeReturn = 0;
      const cpu0 = process.cpuUsage();
      const child0 = childCpuUs(pid);
      const t0 = process.hrtime.bigint();
      for (let i = 0; i < steps; i++) {
        const s = await env.step(actionAt(seed, i), 4);
        bridgeReturn += s.reward;
        obs = s.obs;
      }
      const wall = Number(process.hrtime.bigint() - t0) / 1e3 / steps;
      const cpu = process.cpuUsage(cpu0);
      const node = (cpu.user + cpu.system) / steps;
      const obsSum = obs.reduce((a, x) => a + x, 0);
      if (bridgeReturn !== directReturn || obsSum !== directObsSum) {
        throw new Error(`bridge and direct steps diverged (seed ${seed}): return ${bridgeReturn} vs ${directReturn}, last observation byte sum ${obsSum} vs ${directObsSum}`);
      }
      if (r === 0) continue; // warm-up round
      rows.directWallUs.push(dw!);
      rows.directCpuUs.push(dc!);
      rows.bridgeWallUs.push(wall);
      rows.nodeCpuUs.push(node);
      rows.bridgeCpuUs.push(node + (childCpuUs(pid) - child0) / steps);
    }
  } finally {
    direct.stdin.end();
    await env.close();
  }
  return {
    level,
    directWallUs: median(rows.directWallUs),
    directCpuUs: median(rows.directCpuUs),
    bridgeWallUs: median(rows.bridgeWallUs),
    bridgeCpuUs: median(rows.bridgeCpuUs),
    nodeCpuUs: median(rows.nodeCpuUs),
  };
}

/** The bridge against the fake: round trip, the fake's own step (stepped directly), and their difference. */
export async function benchDmlabBridge(steps = 2000, python = '/usr/bin/python3'): Promise<TransportRow[]> {
  const m = await benchBridgeVsDirect({ python, dmlabPath: fakeDmlabPath(), steps: Math.ceil(steps / 5), rounds: 5 });
  return [
    row('DMLab bridge round trip (fake deepmind_lab)', m.bridgeWallUs, m.bridgeCpuUs),
    row("  of which the fake's own step + observation", m.directWallUs, m.directCpuUs),
    row('  bridge overhead per agent step', m.bridgeWallUs - m.directWallUs, m.bridgeCpuUs - m.directCpuUs),
    row('  of which Node side', null, m.nodeCpuUs),
  ];
}

/** The real-build report: overhead per agent step in µs and as a ratio to the direct step. */
export function formatBridgeVsDirect(m: BridgeVsDirect): string {
  const pct = (x: number, of: number) => `${((100 * x) / of).toFixed(1)}%`;
  const rows = [
    { '': 'direct Lab.step + observation', wallUs: m.directWallUs, cpuUs: m.directCpuUs },
    { '': 'through the bridge', wallUs: m.bridgeWallUs, cpuUs: m.bridgeCpuUs },
    { '': 'overhead', wallUs: m.bridgeWallUs - m.directWallUs, cpuUs: m.bridgeCpuUs - m.directCpuUs },
    { '': 'overhead / direct step', wallUs: pct(m.bridgeWallUs - m.directWallUs, m.directWallUs), cpuUs: pct(m.bridgeCpuUs - m.directCpuUs, m.directCpuUs) },
    { '': '  of which Node side (CPU)', wallUs: '', cpuUs: m.nodeCpuUs },
  ];
  return formatTable(rows, `DeepMind Lab bridge vs direct steps, dmlab:${m.level} (per agent step, repeat 4, medians of alternating rounds)`);
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

function argValue(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const load = () => `${cpus().length} cores, load ${loadavg()[0]!.toFixed(1)}`;
  const dmlabPath = argValue('--dmlab-path');
  if (dmlabPath !== undefined || argValue('--python') !== undefined) {
    const m = await benchBridgeVsDirect({
      python: argValue('--python'),
      dmlabPath,
      level: argValue('--level'),
      steps: Number(argValue('--steps') ?? 500),
      rounds: Number(argValue('--rounds') ?? 5),
    });
    console.log(formatBridgeVsDirect(m), `\n(${load()})`);
  } else {
    const rows = await benchTransport();
    console.log(formatTable(rows as unknown as Record<string, unknown>[], `Transport per agent step (real DeepMind Lab step assumed ${DMLAB_STEP_US} µs; ${load()})`));
  }
}

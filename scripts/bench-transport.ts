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
 *     [--envs 1,4,16] [--per-level]
 *
 * alternates direct `Lab.step(action, num_steps=4)` + observation calls of E levels (`--envs`, stepped one after
 * another in one Python process; `--steps` level steps a round) with the same steps through one bridge hosting
 * the E levels, as an actor drives it (same level settings, seeds and actions), `--rounds` times, and prints the
 * bridge's overhead per agent step, in µs and as a ratio to the direct step (wall and CPU; `--dmlab-path
 * envs/dmlab/fake` runs it against the fake). `--per-level` measures one bridge per level too, side by side (how
 * actors drove DeepMind Lab before the batched bridge).
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { bridgeArgs, bridgeEnv, bridgeScript, fakeDmlabPath, makeDmlabVectorEnv, resolvePython, type DmlabOptions } from '../envs/dmlab/index.js';
import { vectorStepBuffers } from '../envs/vector.js';
import type { ProcessVectorEnv } from '../src/transport/envProcess.js';
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
 * Steps E `deepmind_lab.Lab`s directly, one after another in one process (as one bridge steps its levels), each
 * opened by the bridge's own `open_lab` from the bridge's arguments: for each stdin line `SEED N` it resets level
 * j as the bridge does from seed SEED + j (seeded generator, fresh seed per episode), times N agent steps of every
 * level (`actionAt(SEED + j, i)` + observation), and prints `wallUs cpuUs` per level step and, to check that both
 * sides played the same steps, the summed reward and the byte sum of the levels' last observations.
 */
const DIRECT_SCRIPT = `
import sys, time, numpy as np
sys.path.insert(0, sys.argv[1])
import server
E = int(sys.argv[2])
args = server.parse_args(sys.argv[3:])
labs = [server.open_lab(args)[1] for _ in range(E)]
acts = [np.array(a, dtype=np.intc) for a in server.ACTION_SET]
print('ready', flush=True)
for line in sys.stdin:
    seed, n = map(int, line.split())
    rngs = [np.random.RandomState(seed + j) for j in range(E)]
    for lab, rng in zip(labs, rngs):
        lab.reset(seed=int(rng.randint(0, 2 ** 31 - 1)))
    total = 0.0
    obs = [None] * E
    w, c = time.perf_counter(), time.process_time()
    for i in range(n):
        for j, lab in enumerate(labs):
            s = seed + j
            total += lab.step(acts[(s + 7 * i + i // 5) % 9], num_steps=4)
            if not lab.is_running():
                lab.reset(seed=int(rngs[j].randint(0, 2 ** 31 - 1)))
            obs[j] = lab.observations()['RGB_INTERLEAVED']
    w, c = (time.perf_counter() - w) / (n * E) * 1e6, (time.process_time() - c) / (n * E) * 1e6
    print(w, c, total, sum(int(o.sum(dtype=np.int64)) for o in obs), flush=True)
`;

/** How the bridge side hosts E levels: one bridge stepping all per message (`batched`), or one bridge per level. */
export type BridgeLayout = 'batched' | 'per-level';

export interface BridgeVsDirect {
  level: string;
  /** Levels stepped per agent step of the actor. */
  envs: number;
  layout: BridgeLayout;
  /** Per agent step (one level, repeat 4), medians over rounds, µs. */
  directWallUs: number;
  directCpuUs: number;
  bridgeWallUs: number;
  /** CPU of this process and the bridge processes together. */
  bridgeCpuUs: number;
  /** CPU of this (Node) process alone. */
  nodeCpuUs: number;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[s.length >> 1]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
}

/** E levels through the bridge as an actor drives them: `reset(seeds)`, then `step(actions)` writing into buffers. */
async function openBridges(level: string, E: number, layout: BridgeLayout, dmlab: DmlabOptions): Promise<{ vectors: ProcessVectorEnv[]; pids: number[] }> {
  const opts = { ...dmlab, startupTimeoutMs: 300_000 };
  const vectors = layout === 'batched' ? [await makeDmlabVectorEnv(level, E, opts)] : await Promise.all(Array.from({ length: E }, () => makeDmlabVectorEnv(level, 1, opts)));
  return { vectors, pids: vectors.map((v) => v.server.child.pid!) };
}

/**
 * DeepMind Lab (or the fake, `dmlabPath: fakeDmlabPath()`) stepped directly in Python and through the bridge,
 * alternating `rounds` times on the same seeds and actions, `steps` agent steps (repeat 4) of each of `envs`
 * levels each; the bridge side hosts them in one bridge (`batched`, the default) or one bridge per level.
 */
export async function benchBridgeVsDirect(opts: { python?: string; dmlabPath?: string; level?: string; steps?: number; rounds?: number; envs?: number; layout?: BridgeLayout }): Promise<BridgeVsDirect> {
  const { level = 'rooms_watermaze', steps = 500, rounds = 5, envs: E = 1, layout = 'batched' } = opts;
  const dmlab = { python: opts.python, dmlabPath: opts.dmlabPath };
  const direct = spawn(resolvePython(dmlab.python), ['-c', DIRECT_SCRIPT, join(bridgeScript(), '..'), String(E), ...bridgeArgs(level, {})], {
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
  const { vectors, pids } = await openBridges(level, E, layout, dmlab);
  const spec = vectors[0]!.spec;
  const obsSize = spec.observationShape.reduce((a, b) => a * b, 1);
  // the actor's buffers: one step writes every level's row
  const out = vectorStepBuffers(spec, E);
  const actions = new Int32Array(E);
  const at = (g: number) => {
    const o = vectors.slice(0, g).reduce((n, v) => n + v.size, 0);
    const n = vectors[g]!.size;
    return {
      actions: actions.subarray(o, o + n),
      out: { obs: out.obs.subarray(o * obsSize, (o + n) * obsSize), rewards: out.rewards.subarray(o, o + n), dones: out.dones.subarray(o, o + n), episodeReturns: out.episodeReturns.subarray(o, o + n), episodeLengths: out.episodeLengths.subarray(o, o + n) },
      seeds: (seed: number) => Array.from({ length: n }, (_, j) => seed + o + j),
    };
  };
  const views = vectors.map((_, g) => at(g));
  const childCpu = () => pids.reduce((sum, pid) => sum + childCpuUs(pid), 0);
  const rows = { directWallUs: [] as number[], directCpuUs: [] as number[], bridgeWallUs: [] as number[], bridgeCpuUs: [] as number[], nodeCpuUs: [] as number[] };
  try {
    await nextLine();
    for (let r = 0; r <= rounds; r++) {
      const seed = 1000 + r;
      direct.stdin.write(`${seed} ${steps}\n`);
      const [dw, dc, directReturn, directObsSum] = (await nextLine()).split(' ').map(Number);
      await Promise.all(vectors.map((v, g) => v.reset(views[g]!.seeds(seed), views[g]!.out.obs)));
      let bridgeReturn = 0;
      const cpu0 = process.cpuUsage();
      const child0 = childCpu();
      const t0 = process.hrtime.bigint();
      for (let i = 0; i < steps; i++) {
        for (let j = 0; j < E; j++) actions[j] = actionAt(seed + j, i);
        await Promise.all(vectors.map((v, g) => v.step(views[g]!.actions, 4, views[g]!.out)));
        for (let j = 0; j < E; j++) bridgeReturn += out.rewards[j]!;
      }
      const n = steps * E;
      const wall = Number(process.hrtime.bigint() - t0) / 1e3 / n;
      const cpu = process.cpuUsage(cpu0);
      const node = (cpu.user + cpu.system) / n;
      const obsSum = out.obs.reduce((a, x) => a + x, 0);
      if (bridgeReturn !== directReturn || obsSum !== directObsSum) {
        throw new Error(`bridge and direct steps diverged (seed ${seed}): return ${bridgeReturn} vs ${directReturn}, last observations' byte sum ${obsSum} vs ${directObsSum}`);
      }
      if (r === 0) continue; // warm-up round
      rows.directWallUs.push(dw!);
      rows.directCpuUs.push(dc!);
      rows.bridgeWallUs.push(wall);
      rows.nodeCpuUs.push(node);
      rows.bridgeCpuUs.push(node + (childCpu() - child0) / n);
    }
  } finally {
    direct.stdin.end();
    await Promise.all(vectors.map((v) => v.close()));
  }
  return {
    level,
    envs: E,
    layout,
    directWallUs: median(rows.directWallUs),
    directCpuUs: median(rows.directCpuUs),
    bridgeWallUs: median(rows.bridgeWallUs),
    bridgeCpuUs: median(rows.bridgeCpuUs),
    nodeCpuUs: median(rows.nodeCpuUs),
  };
}

/** Levels per actor the bridge rows of `npm run bench` measure. */
export const BENCH_ENVS = [1, 4, 8, 16];

/**
 * The bridge against the fake, per agent step with the fake's own step (stepped directly) subtracted, for E levels
 * per actor: one bridge per level (how actors drove DeepMind Lab before the batched bridge) next to one bridge
 * stepping all E per message.
 */
export async function benchDmlabBridge(steps = 2000, python = '/usr/bin/python3', envs = BENCH_ENVS): Promise<TransportRow[]> {
  const rows: TransportRow[] = [];
  for (const E of envs) {
    for (const layout of E === 1 ? (['batched'] as const) : (['per-level', 'batched'] as const)) {
      const m = await benchBridgeVsDirect({ python, dmlabPath: fakeDmlabPath(), steps: Math.max(20, Math.ceil(steps / 5 / E)), rounds: 5, envs: E, layout });
      const what = E === 1 ? '1 level, 1 bridge' : layout === 'batched' ? `${E} levels, 1 bridge (batched)` : `${E} levels, ${E} bridges`;
      rows.push(
        row(`DMLab bridge overhead, ${what}`, m.bridgeWallUs - m.directWallUs, m.bridgeCpuUs - m.directCpuUs),
        row('  of which Node side', null, m.nodeCpuUs),
      );
    }
  }
  return rows;
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
  const hosting = m.envs === 1 ? '1 level' : m.layout === 'batched' ? `${m.envs} levels in 1 bridge` : `${m.envs} levels, 1 bridge each`;
  return formatTable(rows, `DeepMind Lab bridge vs direct steps, dmlab:${m.level}, ${hosting} (per agent step of one level, repeat 4, medians of alternating rounds)`);
}

/** One row per measurement: the overhead per agent step of each hosting, side by side. */
export function formatBridgeSummary(ms: BridgeVsDirect[]): string {
  const rows = ms.map((m) => ({
    levels: m.envs,
    bridges: m.layout === 'batched' ? 1 : m.envs,
    directCpuUs: m.directCpuUs,
    overheadCpuUs: m.bridgeCpuUs - m.directCpuUs,
    'overhead/direct': `${((100 * (m.bridgeCpuUs - m.directCpuUs)) / m.directCpuUs).toFixed(1)}%`,
    nodeCpuUs: m.nodeCpuUs,
    overheadWallUs: m.bridgeWallUs - m.directWallUs,
  }));
  return formatTable(rows, `DeepMind Lab bridge overhead per agent step of one level (direct step subtracted), dmlab:${ms[0]!.level}`);
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
    const results: BridgeVsDirect[] = [];
    const loads: string[] = [];
    for (const E of (argValue('--envs') ?? '1').split(',').map(Number)) {
      // --per-level: one bridge per level too, side by side (how actors drove DeepMind Lab before the batched bridge)
      for (const layout of process.argv.includes('--per-level') && E > 1 ? (['per-level', 'batched'] as const) : (['batched'] as const)) {
        const m = await benchBridgeVsDirect({
          python: argValue('--python'),
          dmlabPath,
          level: argValue('--level'),
          steps: Math.ceil(Number(argValue('--steps') ?? 500) / E),
          rounds: Number(argValue('--rounds') ?? 5),
          envs: E,
          layout,
        });
        results.push(m);
        loads.push(loadavg()[0]!.toFixed(1));
        console.log(formatBridgeVsDirect(m), `\n(${load()})`);
      }
    }
    if (results.length > 1) console.log(formatBridgeSummary(results), `\n(${cpus().length} cores; load average after each row: ${loads.join(', ')})`);
  } else {
    const rows = await benchTransport();
    console.log(formatTable(rows as unknown as Record<string, unknown>[], `Transport per agent step (real DeepMind Lab step assumed ${DMLAB_STEP_US} µs; ${load()})`));
  }
}

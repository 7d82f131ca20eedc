/**
 * `dmlab:<level>`: real DeepMind Lab through the Python bridge (`server.py`). One bridge process
 * hosts E levels (an actor's environments) and steps all of them per message of the batched env
 * protocol, over a loopback socket; `makeDmlabEnv` is the same bridge with E = 1.
 *
 * Finding things: the interpreter is `opts.python`, else `$CPC_LAB_PYTHON`, else `python3`; it needs
 * pyzmq, msgpack and numpy. The directory holding the `deepmind_lab` module (a DeepMind Lab build)
 * is `opts.dmlabPath`, else `$CPC_LAB_DMLAB_PATH`, prepended to PYTHONPATH; without either, the
 * interpreter's own `deepmind_lab` (e.g. an installed wheel) is used. `cpc-lab doctor` reports
 * what is found, and tries a Lab.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { privateEndpoint } from '../../src/transport/endpoint.js';
import { COMPILE_MARKER, connectProcessVectorEnv, ERROR_MARKER, EnvServerStartError, spawnEnvServer, type ProcessVectorEnv } from '../../src/transport/envProcess.js';
import type { EnvOptions } from '../types.js';
import { SingleEnv } from '../vector.js';
import { DMLAB_FPS, episodeSteps, resolveDmlabLevel } from './levels.js';

export { DMLAB_LEVELS, humanNormalizedScore, resolveDmlabLevel, type DmlabLevel, type DmlabLevelName } from './levels.js';

export interface DmlabOptions extends EnvOptions {
  /** Python 3 interpreter (default `$CPC_LAB_PYTHON`, else `python3`). */
  python?: string;
  /** Directory holding the `deepmind_lab` module, prepended to PYTHONPATH (default `$CPC_LAB_DMLAB_PATH`). */
  dmlabPath?: string;
  /** DeepMind Lab renderer (default `software`: runs headless anywhere). */
  renderer?: 'software' | 'hardware';
  /**
   * Config `minimalUI: 'true'`: no HUD in the frames. Default false, as in deepmind/scalable_agent,
   * so observations match those the IMPALA and CPC results (and DMLab-30 scores) were obtained with.
   */
  minimalUI?: boolean;
  /** Directory of compiled maps shared by all bridges (default `$CPC_LAB_LEVEL_CACHE`, else ~/.cache/cpc-lab/dmlab-levels); false: none. */
  levelCacheDir?: string | false;
  /** Frame size (default 96 x 72, the agent's input). */
  width?: number;
  height?: number;
  /** Frames per agent step, for the spec's episode length (default 4). */
  actionRepeat?: number;
  /** DeepMind Lab's `logLevel` setting. */
  logLevel?: string;
  /** DeepMind Lab's `datasetPath` (levels that use image datasets). */
  datasetPath?: string;
  /** DeepMind Lab's `mixerSeed`: offsets every level seed, e.g. to separate train and test. */
  mixerSeed?: number;
  /** DeepMind Lab's `allowHoldOutLevels`. */
  allowHoldOutLevels?: boolean;
  /** Any other level setting, passed as is (DeepMind Lab settings are strings). */
  extraConfig?: Readonly<Record<string, string>>;
  /** Time allowed for the bridge to start (default 120 s: importing DeepMind Lab can be slow). */
  startupTimeoutMs?: number;
  /**
   * Deadline per request (default 120 s). Map compiles (procedural levels compile one at every reset, ~10 s
   * on a real build) and waits for another bridge's compile do not count: the bridge announces them.
   */
  timeoutMs?: number;
  /**
   * Longest one map compile may last (default 600 s): past it the bridge is killed and its request fails with
   * `EnvCompileTimeoutError`, so a hung compile hangs nothing. (A wait for another bridge's compile ends with it.)
   */
  compileTimeoutMs?: number;
  /** Receives the bridge's output lines (DeepMind Lab's logs); by default only kept for errors. */
  log?: (line: string) => void;
  /**
   * Receives the bridge's own notes, lines starting `[dmlab-bridge` (a wait for another bridge's map
   * compile, request errors), without DeepMind Lab's logs.
   */
  notes?: (line: string) => void;
}

/** Where the bridge script is, from source (`envs/dmlab/`) or from the build (`dist/envs/dmlab/`). */
export function bridgeScript(): string {
  const candidates = [
    fileURLToPath(new URL('./server.py', import.meta.url)),
    fileURLToPath(new URL('../../../envs/dmlab/server.py', import.meta.url)),
  ];
  const found = candidates.find((p) => existsSync(p));
  if (!found) throw new Error(`DeepMind Lab bridge not found (looked at ${candidates.join(', ')})`);
  return found;
}

/** The fake `deepmind_lab` module's directory (for tests and trying the bridge without DeepMind Lab). */
export function fakeDmlabPath(): string {
  return join(bridgeScript(), '..', 'fake');
}

export function resolvePython(python?: string): string {
  return python ?? process.env.CPC_LAB_PYTHON ?? 'python3';
}

export function resolveDmlabPath(dmlabPath?: string): string | undefined {
  return dmlabPath ?? process.env.CPC_LAB_DMLAB_PATH ?? undefined;
}

/** The child environment: PYTHONPATH with the DeepMind Lab directory first. */
export function bridgeEnv(dmlabPath: string | undefined): NodeJS.ProcessEnv {
  const env = { ...process.env };
  if (dmlabPath) env.PYTHONPATH = [dmlabPath, env.PYTHONPATH].filter(Boolean).join(delimiter);
  return env;
}

function levelCacheDir(opt: string | false | undefined): string | undefined {
  if (opt === false) return undefined;
  return opt ?? process.env.CPC_LAB_LEVEL_CACHE ?? join(homedir(), '.cache', 'cpc-lab', 'dmlab-levels');
}

/** The bridge's command-line arguments for `level` (also what scripts/bench-transport.ts opens a direct Lab with). */
export function bridgeArgs(level: string, opts: DmlabOptions): string[] {
  const { path } = resolveDmlabLevel(level);
  const args = ['--level', path, '--name', `dmlab:${level}`];
  args.push('--width', String(opts.width ?? 96), '--height', String(opts.height ?? 72), '--fps', String(DMLAB_FPS));
  args.push('--renderer', opts.renderer ?? 'software');
  if (opts.minimalUI) args.push('--minimal-ui');
  const cache = levelCacheDir(opts.levelCacheDir);
  if (cache) args.push('--level-cache', cache);
  if (opts.episodeLength !== undefined) args.push('--max-episode-steps', String(opts.episodeLength));
  const config: Record<string, string> = { ...opts.extraConfig };
  if (opts.logLevel !== undefined) config.logLevel = opts.logLevel;
  if (opts.datasetPath !== undefined) config.datasetPath = opts.datasetPath;
  if (opts.mixerSeed !== undefined) config.mixerSeed = String(opts.mixerSeed);
  if (opts.allowHoldOutLevels !== undefined) config.allowHoldOutLevels = String(opts.allowHoldOutLevels);
  for (const [k, v] of Object.entries(config)) args.push('--config', `${k}=${v}`);
  return args;
}

function bridgeLine(line: string, opts: DmlabOptions): void {
  opts.log?.(line);
  if (line.startsWith('[dmlab-bridge')) opts.notes?.(line);
}

/**
 * Starts one bridge hosting `count` levels `level` (a preset short name, or any DeepMind Lab level path)
 * and connects to it: a `VectorEnv` stepping all of them per message. The bridge steps its levels one
 * after another (DeepMind Lab holds Python's GIL), so a run spreads its levels over several bridges to
 * use several cores (one per actor process).
 */
export async function makeDmlabVectorEnv(level: string, count: number, opts: DmlabOptions = {}): Promise<ProcessVectorEnv> {
  if (!Number.isInteger(count) || count < 1) throw new RangeError(`a bridge hosts a positive integer number of levels, got ${count}`);
  const { preset } = resolveDmlabLevel(level);
  const proc = await spawnEnvServer({
    command: resolvePython(opts.python),
    // a private ipc:// endpoint: no other user's process can drive or close this environment
    args: [bridgeScript(), ...bridgeArgs(level, opts), '--envs', String(count), '--endpoint', privateEndpoint('dmlab')],
    env: bridgeEnv(resolveDmlabPath(opts.dmlabPath)),
    label: `DeepMind Lab bridge (${count} x dmlab:${level})`,
    startupTimeoutMs: opts.startupTimeoutMs ?? 120_000,
    maxCompileMs: opts.compileTimeoutMs ?? 600_000,
    log: opts.log || opts.notes ? (line) => bridgeLine(line, opts) : undefined,
  });
  const episodeLength = opts.episodeLength ?? (preset && episodeSteps(preset.episodeLengthSeconds, opts.actionRepeat ?? 4));
  const env = await connectProcessVectorEnv(proc, { timeoutMs: opts.timeoutMs ?? 120_000, episodeLength });
  if (env.size !== count) {
    await env.close();
    throw new EnvServerStartError('bad_handshake', `DeepMind Lab bridge hosts ${env.size} levels, asked for ${count}`, undefined, proc.outputTail());
  }
  return env;
}

export type DmlabEnv = SingleEnv<ProcessVectorEnv>;

/** One DeepMind Lab level: a bridge hosting one (the batched path with E = 1). `vector.server` is its process. */
export async function makeDmlabEnv(level: string, opts: DmlabOptions = {}): Promise<DmlabEnv> {
  return new SingleEnv(await makeDmlabVectorEnv(level, 1, opts));
}

export interface WarmCacheResult {
  /** Episodes started (seeds x episodes). */
  episodes: number;
  /** Maps compiled; the others were in the cache already. */
  compiled: number;
  seconds: number;
}

const WARMED_MARKER = 'CPC_LAB_WARMED ';

/**
 * Compiles into the level cache the maps of the first `episodes` episodes of each environment reset with
 * one of `seeds` (the episodes the bridge plays after `env.reset(seed)`: its auto-resets draw their seeds
 * from it), so a run with those seeds finds them there instead of compiling at its first resets. One
 * bridge process, one compile at a time.
 */
export function warmDmlabCache(level: string, seeds: readonly number[], episodes: number, opts: DmlabOptions = {}): Promise<WarmCacheResult> {
  if (!Number.isInteger(episodes) || episodes < 1) throw new Error(`episodes must be a positive integer, got ${episodes}`);
  if (!levelCacheDir(opts.levelCacheDir)) throw new Error('warming the level cache needs one: levelCacheDir is false');
  const args = [bridgeScript(), ...bridgeArgs(level, opts), '--warm-cache', String(episodes), '--seeds', seeds.join(',')];
  const label = `DeepMind Lab warm-cache (dmlab:${level})`;
  return new Promise((resolve, reject) => {
    const child = spawn(resolvePython(opts.python), args, { env: bridgeEnv(resolveDmlabPath(opts.dmlabPath)), stdio: ['ignore', 'pipe', 'pipe'] });
    const tail: string[] = [];
    const onLine = (line: string): void => {
      if (!line.trim() || line.startsWith(COMPILE_MARKER)) return; // compile marks only matter to request deadlines
      tail.push(line);
      if (tail.length > 40) tail.shift();
      opts.log?.(line);
    };
    let result: WarmCacheResult | undefined;
    let failure: { code: string; message: string; hint?: string } | undefined;
    createInterface({ input: child.stderr }).on('line', onLine);
    createInterface({ input: child.stdout }).on('line', (line) => {
      if (line.startsWith(WARMED_MARKER)) result = JSON.parse(line.slice(WARMED_MARKER.length)) as WarmCacheResult;
      else if (line.startsWith(ERROR_MARKER)) failure = JSON.parse(line.slice(ERROR_MARKER.length)) as typeof failure;
      else onLine(line);
    });
    child.once('error', (e: NodeJS.ErrnoException) =>
      reject(new EnvServerStartError('spawn_failed', `could not start ${label}: ${e.message}`, e.code === 'ENOENT' ? 'pass --python <path> or set CPC_LAB_PYTHON' : undefined, '')),
    );
    // 'close' comes after both streams are read to the end
    child.once('close', (code, signal) => {
      if (code === 0 && result) return resolve(result);
      const message = failure ? `${label} failed: ${failure.message}` : `${label} exited (${signal ? `signal ${signal}` : `status ${code}`})`;
      reject(new EnvServerStartError(failure?.code ?? 'exited', message, failure?.hint, tail.join('\n')));
    });
  });
}

/**
 * Starting an env server as a child process (the DeepMind Lab bridge, or `src/envServerMain.ts`)
 * and the start-up handshake both speak: once serving, the server prints one line
 * `CPC_LAB_READY {"endpoint", "pid", "spec"?, ...}` on stdout; if it cannot start, one line
 * `CPC_LAB_ERROR {"code", "message", "hint"?}` and exits. Other output may surround them
 * (DeepMind Lab prints to stdout), so a marker is found anywhere in a line.
 *
 * The child gets `--exit-on-stdin-close` and a stdin pipe we never write: if this process dies,
 * the pipe closes and the child exits too, so no orphaned env server outlives its actor.
 *
 * While serving, a server may announce long work with `CPC_LAB_COMPILE {"state": "waiting" |
 * "compiling" | "done", "key"?}` (the DeepMind Lab bridge around each map compile): the time between
 * `waiting`/`compiling` and `done` is `busyMs()`, which the request deadline does not count. So that a
 * hung compile cannot hang its request, one compile (`compiling` until the next state) may last at most
 * `maxCompileMs`: past it the server is killed and its calls fail with `EnvCompileTimeoutError`, as if it
 * had died. A wait for another server's compile is not bounded itself: it ends when that compile does,
 * which its own server bounds (or when that server dies: the lock is an flock).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import type { EnvSpec, Environment, StepResult, VectorEnv, VectorStepBuffers } from '../../envs/types.js';
import { RemoteEnv, RemoteVectorEnv, type RemoteEnvOptions } from './envClient.js';
import { privateEndpoint } from './endpoint.js';
import { envSpecSchema } from './messages.js';

export const READY_MARKER = 'CPC_LAB_READY ';
export const ERROR_MARKER = 'CPC_LAB_ERROR ';
export const COMPILE_MARKER = 'CPC_LAB_COMPILE ';
/** Flag every env server accepts: exit when stdin closes. */
export const EXIT_ON_STDIN_CLOSE = '--exit-on-stdin-close';

export const readyLineSchema = z.object({
  endpoint: z.string().min(1),
  pid: z.number().int(),
  spec: envSpecSchema.optional(),
  /** Environments the server hosts (the DeepMind Lab bridge's `--envs`). */
  size: z.number().int().positive().optional(),
});
export type ReadyLine = z.infer<typeof readyLineSchema>;

const errorLineSchema = z.object({ code: z.string(), message: z.string(), hint: z.string().optional() });
const compileLineSchema = z.object({ state: z.enum(['waiting', 'compiling', 'done']), key: z.string().nullable().optional() });
type CompileLine = z.infer<typeof compileLineSchema>;

/** A monotone clock of the time a server has announced itself busy (`CPC_LAB_COMPILE` lines), in ms. */
export class BusyClock {
  private total = 0;
  private since: number | undefined;

  /** Takes one `CPC_LAB_COMPILE` state. */
  mark(state: 'waiting' | 'compiling' | 'done', now = performance.now()): void {
    if (state !== 'done') {
      this.since ??= now;
    } else if (this.since !== undefined) {
      this.total += now - this.since;
      this.since = undefined;
    }
  }

  /** Busy time so far, the current stretch included. */
  ms(now = performance.now()): number {
    return this.total + (this.since === undefined ? 0 : now - this.since);
  }
}

/** Lines of child output kept for error messages. */
const TAIL_LINES = 40;

export interface SpawnEnvServerOptions {
  command: string;
  args: string[];
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** What the child is, for messages (e.g. `DeepMind Lab bridge (dmlab:rooms_watermaze)`). */
  label: string;
  /** Give up if no ready line comes within this many ms (default 60 000). */
  startupTimeoutMs?: number;
  /** Receives every line the child prints (default: dropped, but the last lines go into errors). */
  log?: (line: string) => void;
  /** Longest one announced compile (`CPC_LAB_COMPILE` compiling, until the next state) may last before the child is killed (default: no bound). */
  maxCompileMs?: number;
}

/** The child could not start: no interpreter, a missing module, a bad level, a timeout, ... */
export class EnvServerStartError extends Error {
  override readonly name = 'EnvServerStartError';
  constructor(
    /** `spawn_failed`, `startup_timeout`, `exited`, or the child's own code (e.g. `level_not_found`). */
    readonly code: string,
    message: string,
    readonly hint: string | undefined,
    readonly output: string,
  ) {
    super(`${message}${hint ? `\n  fix: ${hint}` : ''}${output ? `\n  last output:\n    ${output.split('\n').join('\n    ')}` : ''}`);
  }
}

/** The child died while serving. */
export class EnvServerExitedError extends Error {
  override readonly name: string = 'EnvServerExitedError';
  constructor(
    readonly label: string,
    readonly exitCode: number | null,
    readonly signal: NodeJS.Signals | null,
    readonly output: string,
  ) {
    super(`${label} exited (${signal ? `signal ${signal}` : `status ${exitCode}`})${outputLines(output)}`);
  }
}

function outputLines(output: string): string {
  return output ? `; last output:\n    ${output.split('\n').join('\n    ')}` : '';
}

/** A map compile outlasted `maxCompileMs`: the server was killed, so its calls fail and it is replaced as a dead one. */
export class EnvCompileTimeoutError extends EnvServerExitedError {
  override readonly name = 'EnvCompileTimeoutError';
  constructor(
    label: string,
    /** The map's level-cache key, as the server announced it. */
    readonly key: string,
    readonly limitMs: number,
    output: string,
  ) {
    super(label, null, 'SIGKILL', output);
    this.message =
      `${label}: the map compile ${key} took longer than ${limitMs / 1000} s (dmlabCompileTimeout), so the bridge was stopped (an actor starts a new one). ` +
      "A compile takes seconds on a real build: a longer one is hung or starved of CPU. If this level's maps really compile " +
      'that slowly here, raise --dmlab-compile-timeout, or compile them ahead with `cpc-lab dmlab warm-cache`' +
      outputLines(output);
  }
}

export interface EnvServerProcess {
  readonly child: ChildProcess;
  readonly ready: ReadyLine;
  /** Rejects with `EnvServerExitedError` when the child exits; never resolves otherwise. */
  readonly exited: Promise<never>;
  /** The last lines the child printed. */
  outputTail(): string;
  /** Time the server has announced itself busy (map compiles, waits for one), in ms; monotone. */
  busyMs(): number;
  /** SIGTERM, then SIGKILL after `graceMs` (default 5000); resolves once the child is gone. */
  stop(graceMs?: number): Promise<void>;
}

export async function spawnEnvServer(opts: SpawnEnvServerOptions): Promise<EnvServerProcess> {
  const tail: string[] = [];
  const onLine = (line: string): void => {
    tail.push(line);
    if (tail.length > TAIL_LINES) tail.shift();
    opts.log?.(line);
  };
  const outputTail = (): string => tail.join('\n');
  const busy = new BusyClock();
  /** Why we killed the child, when we did (its calls fail with this instead of a plain exit). */
  let killedFor: EnvCompileTimeoutError | undefined;
  let compileTimer: NodeJS.Timeout | undefined;
  const markBusy = ({ state, key }: CompileLine): void => {
    busy.mark(state);
    clearTimeout(compileTimer);
    const limitMs = opts.maxCompileMs;
    if (state !== 'compiling' || limitMs === undefined) return;
    compileTimer = setTimeout(() => {
      killedFor = new EnvCompileTimeoutError(opts.label, key ?? '(unnamed)', limitMs, outputTail());
      child.kill('SIGKILL');
    }, limitMs);
    compileTimer.unref();
  };

  const child = spawn(opts.command, [...opts.args, EXIT_ON_STDIN_CLOSE], {
    cwd: opts.cwd,
    env: opts.env,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  // Both streams are read to the end, always: a full pipe would block the child.
  createInterface({ input: child.stderr! }).on('line', onLine);
  const stdout = createInterface({ input: child.stdout! });

  let gone = false;
  const exitInfo = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => {
      gone = true;
      clearTimeout(compileTimer);
      resolve({ code, signal });
    });
  });
  const exited = exitInfo.then(({ code, signal }) => {
    throw killedFor ?? new EnvServerExitedError(opts.label, code, signal, outputTail());
  });
  exited.catch(() => {}); // observed by whoever races against it

  const ready = await new Promise<ReadyLine>((resolve, reject) => {
    const timeoutMs = opts.startupTimeoutMs ?? 60_000;
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new EnvServerStartError('startup_timeout', `${opts.label} did not become ready within ${timeoutMs} ms`, undefined, outputTail()));
    }, timeoutMs);
    const settle = (f: () => void): void => {
      clearTimeout(timer);
      f();
    };
    child.once('error', (e: NodeJS.ErrnoException) => {
      const hint = e.code === 'ENOENT' ? `'${opts.command}' was not found; pass --python <path> or set CPC_LAB_PYTHON` : undefined;
      settle(() => reject(new EnvServerStartError('spawn_failed', `could not start ${opts.label}: ${e.message}`, hint, '')));
    });
    stdout.on('line', (line) => {
      const ci = line.indexOf(COMPILE_MARKER);
      if (ci >= 0) {
        const c = compileLineSchema.safeParse(safeJson(line.slice(ci + COMPILE_MARKER.length)));
        if (c.success) markBusy(c.data);
        return onLine(line);
      }
      const ri = line.indexOf(READY_MARKER);
      const ei = line.indexOf(ERROR_MARKER);
      if (ri < 0 && ei < 0) return onLine(line);
      try {
        if (ri >= 0) {
          const r = readyLineSchema.parse(JSON.parse(line.slice(ri + READY_MARKER.length)));
          settle(() => resolve(r));
        } else {
          const e = errorLineSchema.parse(JSON.parse(line.slice(ei + ERROR_MARKER.length)));
          settle(() => reject(new EnvServerStartError(e.code, `${opts.label} failed to start: ${e.message}`, e.hint, outputTail())));
        }
      } catch (err) {
        onLine(line);
        settle(() => reject(new EnvServerStartError('bad_handshake', `${opts.label} printed a malformed handshake: ${(err as Error).message}`, undefined, outputTail())));
      }
    });
    // 'close' comes after the child's output is fully read, so a CPC_LAB_ERROR line wins over this.
    child.once('close', (code: number | null, signal: NodeJS.Signals | null) =>
      settle(() => reject(new EnvServerStartError('exited', `${opts.label} exited before it was ready (${signal ? `signal ${signal}` : `status ${code}`})`, undefined, outputTail()))),
    );
  }).catch(async (e: unknown) => {
    if (!gone) child.kill('SIGKILL');
    throw e;
  });

  return {
    child,
    ready,
    exited,
    outputTail,
    busyMs: () => busy.ms(),
    async stop(graceMs = 5000) {
      if (gone) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exitInfo;
      clearTimeout(timer);
    },
  };
}

/**
 * The calls in flight to a server process, failed at once if it dies instead of after the request
 * deadline. (Not `Promise.race` with `exited`: each race would leave a reaction on that
 * never-settling promise.)
 */
class ServerGuard {
  dead: EnvServerExitedError | undefined;
  /** Rejecters of the calls in flight. */
  private readonly inFlight = new Set<(e: Error) => void>();

  constructor(readonly server: EnvServerProcess) {
    server.exited.catch((e: EnvServerExitedError) => {
      this.dead = e;
      for (const reject of this.inFlight) reject(e);
      this.inFlight.clear();
    });
  }

  call<T>(call: () => Promise<T>): Promise<T> {
    if (this.dead) return Promise.reject(this.dead);
    return new Promise<T>((resolve, reject) => {
      this.inFlight.add(reject);
      call()
        .then(resolve, reject)
        .finally(() => this.inFlight.delete(reject));
    });
  }

  /** Asks the server to close (`closeRemote`) and exit; kills it if it has not within 5 s. */
  async close(closeRemote: () => Promise<void>): Promise<void> {
    if (!this.dead) await Promise.race([closeRemote(), this.server.exited.catch(() => {})]);
    await new Promise<void>((resolve) => {
      const t = setTimeout(resolve, 5000);
      this.server.exited.catch(() => {
        clearTimeout(t);
        resolve();
      });
    });
    await this.server.stop();
  }
}

/** An environment served by a child process: `RemoteEnv` calls that fail at once if the child dies. */
export class ProcessEnv implements Environment {
  private readonly guard: ServerGuard;

  constructor(
    readonly spec: EnvSpec,
    private readonly remote: RemoteEnv,
    /** The server process (a supervisor watches `server.exited` to restart it). */
    readonly server: EnvServerProcess,
  ) {
    this.guard = new ServerGuard(server);
  }

  reset(seed: number): Promise<Uint8Array> {
    return this.guard.call(() => this.remote.reset(seed));
  }

  step(action: number, repeat: number): Promise<StepResult> {
    return this.guard.call(() => this.remote.step(action, repeat));
  }

  /** Asks the server to close its environment and exit; kills it if it has not within 5 s. */
  close(): Promise<void> {
    return this.guard.close(() => this.remote.close());
  }

  busyMs(): number {
    return this.server.busyMs();
  }
}

/** The environments of a child process hosting several (the DeepMind Lab bridge): calls fail at once if it dies. */
export class ProcessVectorEnv implements VectorEnv {
  private readonly guard: ServerGuard;

  constructor(
    readonly spec: EnvSpec,
    private readonly remote: RemoteVectorEnv,
    /** The server process. */
    readonly server: EnvServerProcess,
  ) {
    this.guard = new ServerGuard(server);
  }

  get size(): number {
    return this.remote.size;
  }

  reset(seeds: readonly number[], obs: Uint8Array): Promise<void> {
    return this.guard.call(() => this.remote.reset(seeds, obs));
  }

  step(actions: Int32Array, repeat: number, out: VectorStepBuffers): Promise<void> {
    return this.guard.call(() => this.remote.step(actions, repeat, out));
  }

  /** Asks the server to close its environments and exit; kills it if it has not within 5 s. */
  close(): Promise<void> {
    return this.guard.close(() => this.remote.close());
  }

  busyMs(): number {
    return this.server.busyMs();
  }
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

export interface ConnectOptions {
  timeoutMs?: number;
  /** Overrides the episode length the server reports. */
  episodeLength?: number;
}

/** `remote` connected to the started `proc`, with the spec's episode length overridden; the process stopped if that fails. */
async function connectTo<R extends { spec: EnvSpec }, P>(proc: EnvServerProcess, connect: (endpoint: string, o: RemoteEnvOptions) => Promise<R>, opts: ConnectOptions, make: (spec: EnvSpec, remote: R) => P): Promise<P> {
  try {
    const remote = await Promise.race([connect(proc.ready.endpoint, { timeoutMs: opts.timeoutMs, pausedMs: proc.busyMs }), proc.exited]);
    return make({ ...remote.spec, ...(opts.episodeLength !== undefined && { episodeLength: opts.episodeLength }) }, remote);
  } catch (e) {
    await proc.stop();
    throw e;
  }
}

/**
 * Connects to a started env server; `episodeLength` overrides the one the server reports. Request
 * deadlines do not count the time the server announces itself busy (`busyMs`).
 */
export function connectProcessEnv(proc: EnvServerProcess, opts: ConnectOptions = {}): Promise<ProcessEnv> {
  return connectTo(proc, RemoteEnv.connect, opts, (spec, remote) => new ProcessEnv(spec, remote, proc));
}

/** `connectProcessEnv` for a server hosting several environments (the DeepMind Lab bridge). */
export function connectProcessVectorEnv(proc: EnvServerProcess, opts: ConnectOptions = {}): Promise<ProcessVectorEnv> {
  return connectTo(proc, RemoteVectorEnv.connect, opts, (spec, remote) => new ProcessVectorEnv(spec, remote, proc));
}

export interface TsEnvServerOptions {
  episodeLength?: number;
  /** Endpoint to bind (default an ipc:// endpoint in this process's private folder). */
  endpoint?: string;
  startupTimeoutMs?: number;
  timeoutMs?: number;
  log?: (line: string) => void;
}

/**
 * Runs `mock:`/`builtin:` environment `envSpec` in its own process (`src/envServerMain.ts`) and
 * connects to it, so a crash in the environment takes nothing else down.
 */
export async function spawnTsEnvServer(envSpec: string, opts: TsEnvServerOptions = {}): Promise<ProcessEnv> {
  const main = new URL('../envServerMain' + (import.meta.url.endsWith('.ts') ? '.ts' : '.js'), import.meta.url);
  // From source the child needs tsx's loader; from the build it is plain JavaScript.
  const loader = main.pathname.endsWith('.ts') ? ['--import', 'tsx'] : [];
  const args = [...loader, fileURLToPath(main), '--env', envSpec];
  args.push('--endpoint', opts.endpoint ?? privateEndpoint('env'));
  if (opts.episodeLength !== undefined) args.push('--episode-length', String(opts.episodeLength));
  const proc = await spawnEnvServer({
    command: process.execPath,
    args,
    label: `env server (${envSpec})`,
    startupTimeoutMs: opts.startupTimeoutMs,
    log: opts.log,
  });
  return connectProcessEnv(proc, { timeoutMs: opts.timeoutMs });
}

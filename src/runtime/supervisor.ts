import { fork, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { actorSeed, envsPerActor, runName, type Config } from '../config.js';
import { lockFolder, preflight, RUN_LOCK } from '../run.js';
import { childReport, type ChildReport } from './ipc.js';
import type { ChildSpec } from './main.js';
import { readRunToken, runTokenFile } from './runToken.js';

export interface SupervisorOptions {
  /** Resume the run in this folder (its learner starts from the newest checkpoint). */
  resumeDir?: string;
  signal?: AbortSignal;
  log?: (line: string) => void;
  /** The actors run elsewhere (`cpc-lab actor`, Slurm tasks): start none here. */
  remoteActors?: boolean;
  /** The learner's bound endpoint, once it is ready (and after every restart). */
  onReady?: (endpoint: string) => void;
  /** Called when a child starts (tests kill children through it). */
  onSpawn?: (name: string, child: ChildProcess) => void;
}

export type FinishedReport = Extract<ChildReport, { type: 'finished' }>;

interface Slot {
  name: string;
  child: ChildProcess | null;
  restarts: number;
  lastAlive: number;
  startedAt: number;
  /** It reported ready since it was (re)started. */
  ready: boolean;
  /** An actor's environments' busy time (map compiles) as last reported since it was (re)started. */
  busyMs: number;
}

const BACKOFF_MS = [250, 1000, 2000, 5000, 10_000, 30_000];
/** A child that ran this long was healthy: its backoff starts over. */
const HEALTHY_MS = 60_000;

/**
 * The wait before restarting a child that started at `startedAt` and had been restarted `restarts`
 * times, and its new restart count: one that ran a while was healthy, so its backoff starts over.
 */
export function backoff(restarts: number, startedAt: number): { wait: number; restarts: number } {
  const n = Date.now() - startedAt > HEALTHY_MS ? 0 : restarts;
  return { wait: BACKOFF_MS[Math.min(n, BACKOFF_MS.length - 1)]!, restarts: n + 1 };
}

/**
 * Forks a learner or an actor (src/runtime/main): its output lines go through `log` (the terminal,
 * or a test's collector), its validated reports to `onReport`, malformed ones are logged and dropped.
 */
export function forkChild(spec: ChildSpec, log: (line: string) => void, onReport: (r: ChildReport) => void): ChildProcess {
  const main = new URL('./main' + (import.meta.url.endsWith('.ts') ? '.ts' : '.js'), import.meta.url);
  // from source the children need tsx's loader; from the build they are plain JavaScript
  const execArgv = main.pathname.endsWith('.ts') ? ['--import', 'tsx'] : [];
  const child = fork(fileURLToPath(main), [], { execArgv, env: { ...process.env, CPC_LAB_CHILD: JSON.stringify(spec) }, stdio: ['ignore', 'pipe', 'pipe', 'ipc'] });
  for (const stream of [child.stdout!, child.stderr!]) createInterface({ input: stream }).on('line', log);
  child.on('message', (m: unknown) => {
    const r = childReport.safeParse(m);
    if (r.success) onReport(r.data);
    else log(`supervisor: ignored a malformed report from ${spec.role === 'learner' ? 'the learner' : spec.actorId}`);
  });
  return child;
}

/**
 * `cpc-lab train` with actors: forks the learner and the actors (each actor forks its environment
 * servers), restarts any that dies or falls silent (with backoff, logged), and stops everything on
 * Ctrl-C after the learner has written its checkpoint. Resolves with the learner's final report.
 */
export async function superviseTraining(config: Config, opts: SupervisorOptions = {}): Promise<FinishedReport> {
  const log = opts.log ?? ((l: string) => console.log(l));
  const runDir = config.runDir ?? `runs/${runName(config)}`;
  const learnerConfig: Config = { ...config, runDir };
  await preflight(config);
  // held for the learner and its restarts: a second train on this folder refuses to start
  const unlock = lockFolder(runDir, RUN_LOCK, 'cpc-lab train');
  let stopping = false;
  let finished: FinishedReport | undefined;
  /** Why the learner gave up (training diverged); a restart would not help. */
  let fatal: string | undefined;
  let endpoint: string | undefined;
  let resolveDone!: () => void;
  const done = new Promise<void>((r) => (resolveDone = r));
  let resolveReady!: (endpoint: string) => void;
  let rejectReady!: (e: Error) => void;
  const learnerReady = new Promise<string>((res, rej) => ((resolveReady = res), (rejectReady = rej)));

  const spawnChild = (slot: Slot, spec: ChildSpec) => {
    const child = forkChild(spec, log, (r) => {
      slot.lastAlive = Date.now();
      if (r.type === 'ready') slot.ready = true;
      // the stall clock starts when the last process became ready (environments can take minutes to start)
      if (r.type === 'updated' || r.type === 'ready') progressAt = Date.now();
      // a map compile (or a wait for one) is work, not a stall: its own bound is dmlabCompileTimeout
      if (r.type === 'alive' && r.busyMs !== undefined) {
        if (r.busyMs > slot.busyMs) progressAt = Date.now();
        slot.busyMs = r.busyMs;
      }
      if (r.type === 'updated') stalls = 0;
      if (r.type === 'ready' && spec.role === 'learner' && r.endpoint) {
        resolveReady(r.endpoint);
        opts.onReady?.(r.endpoint);
      }
      if (r.type === 'finished') {
        finished = r;
        stopping = true;
        resolveDone();
      }
      if (r.type === 'fatal') {
        fatal = r.error;
        stopping = true;
        resolveDone();
      }
    });
    slot.child = child;
    slot.lastAlive = Date.now();
    slot.startedAt = Date.now();
    slot.ready = false;
    slot.busyMs = 0;
    opts.onSpawn?.(slot.name, child);
    child.on('exit', (code, signal) => {
      if (slot.child === child) slot.child = null;
      if (stopping) return;
      if (spec.role === 'learner' && !endpoint && code !== 0) {
        rejectReady(new Error(`the learner exited (${signal ?? `status ${code}`}) before it was ready; see its output above`));
        return;
      }
      const { wait, restarts } = backoff(slot.restarts, slot.startedAt);
      slot.restarts = restarts;
      log(`supervisor: ${slot.name} exited (${signal ?? `status ${code}`}); restart ${slot.restarts} in ${wait} ms`);
      setTimeout(() => {
        if (!stopping) start(slot);
      }, wait);
    });
  };

  const learnerSlot: Slot = { name: 'learner', child: null, restarts: 0, lastAlive: 0, startedAt: 0, ready: false, busyMs: 0 };
  const actorSlots: Slot[] = Array.from({ length: opts.remoteActors ? 0 : config.actors }, (_, i) => ({ name: `actor-${i}`, child: null, restarts: 0, lastAlive: 0, startedAt: 0, ready: false, busyMs: 0 }));
  let incarnation = 0;
  const start = (slot: Slot) => {
    if (slot === learnerSlot) {
      // a restarted learner resumes from its last checkpoint, on the same endpoint the actors know
      const restarted = slot.restarts > 0;
      const resumeDir = restarted || opts.resumeDir ? runDir : undefined;
      spawnChild(slot, { role: 'learner', config: { ...learnerConfig, learnerEndpoint: endpoint ?? config.learnerEndpoint }, resumeDir });
    } else {
      const i = actorSlots.indexOf(slot);
      incarnation++;
      // a new id and seed per incarnation: its unrolls are never mistaken for the dead one's; the id's
      // random part keeps another local process from taking it first (the learner's router keeps the first)
      const actorId = `${slot.name}.${incarnation}.${randomBytes(6).toString('hex')}`;
      const token = config.curveKeys ? '' : readRunToken(runTokenFile(runDir));
      spawnChild(slot, { role: 'actor', config: learnerConfig, learner: endpoint!, actorId, token, seed: actorSeed(config, incarnation) });
    }
  };

  // "everyone alive, nothing trains" (an actor locked out, a lost batch): restart the actors, then the learner
  let progressAt = Date.now();
  let stalls = 0;
  const watchdog = setInterval(() => {
    for (const slot of [learnerSlot, ...actorSlots]) {
      if (slot.child && Date.now() - slot.lastAlive > config.heartbeatTimeout * 1000) {
        log(`supervisor: ${slot.name} silent for ${config.heartbeatTimeout} s; killing it`);
        slot.child.kill('SIGKILL');
      }
    }
    const everyoneUp = [learnerSlot, ...actorSlots].every((s) => s.child && s.ready);
    if (!stopping && endpoint && everyoneUp && Date.now() - progressAt > config.stallTimeout * 1000) {
      stalls++;
      progressAt = Date.now();
      const which = stalls === 1 ? actorSlots : [learnerSlot];
      log(`supervisor: no update for ${config.stallTimeout} s though every process is alive; restarting ${stalls === 1 ? 'the actors' : 'the learner'}`);
      for (const slot of which) slot.child?.kill('SIGKILL');
    }
  }, 1000);
  const stopAll = () => {
    stopping = true;
    for (const s of actorSlots) s.child?.kill('SIGTERM');
  };
  const onAbort = () => {
    log('supervisor: stopping (the learner writes a checkpoint first)');
    stopAll();
    if (learnerSlot.child) learnerSlot.child.send({ type: 'stop' });
    else resolveDone();
  };
  opts.signal?.addEventListener('abort', onAbort, { once: true });

  try {
    log(`supervisor: learner + ${config.actors}${opts.remoteActors ? ' remote' : ''} actors x ${envsPerActor(config)} environments (${config.mode}), run dir ${runDir}`);
    start(learnerSlot);
    endpoint = await learnerReady;
    actorSlots.forEach(start);
    await done;
  } finally {
    clearInterval(watchdog);
    opts.signal?.removeEventListener('abort', onAbort);
    stopAll();
    await Promise.all([learnerSlot, ...actorSlots].map((s) => exited(s.child)));
    unlock();
  }
  if (fatal) throw new Error(fatal);
  if (!finished) throw new Error('training stopped before the learner reported its end');
  return finished;
}

function exited(child: ChildProcess | null): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((r) => {
    const t = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.once('exit', () => {
      clearTimeout(t);
      r();
    });
  });
}

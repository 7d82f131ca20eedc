import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Packr } from 'msgpackr';
import type { Unroll } from '../agents/agent.js';
import type { RMSPropState } from '../agents/rmsprop.js';
import type { EnvState } from '../envs/types.js';
import type { ActorState, EpisodeStat } from './actor.js';
import type { RngState } from './rng.js';
import { writeFileAtomic } from './run.js';

/** Everything a run needs to continue where it stopped. */
export interface Checkpoint {
  /** Checkpoint format version. */
  version: 2;
  frames: number;
  updates: number;
  /** Version number of the parameters (one per update). */
  paramsVersion: number;
  params: Record<string, Float32Array>;
  optimizer: RMSPropState;
  /** Generator states by owner (e.g. `actor`). */
  rng: Record<string, RngState>;
  /**
   * The single-process actor's whole state (environments, LSTM, last observations), when its
   * environments can save theirs (built-in and mock levels): the resumed run is bit-exact.
   * Absent otherwise: environments then start new episodes and the LSTM state starts at zero.
   */
  actor?: ActorState;
  /**
   * The batch the single-process actor played during the last update (acting overlapped with
   * learning, `--mode async`): the learner trains on it next. Its actor state is already in `actor`.
   */
  pending?: PendingBatch;
  /** The episode returns behind the reported mean return. */
  returns?: { values: number[]; count: number };
  savedAt: string;
  /** The file it was read from (set by `loadCheckpoint`, not stored). */
  file?: string;
}

export type CheckpointState = Omit<Checkpoint, 'version' | 'savedAt' | 'file'>;

/** A played batch not yet trained on: its unroll, the episodes that ended in it, the parameter version that played it. */
export interface PendingBatch {
  unroll: Unroll;
  episodes: EpisodeStat[];
  paramsVersion: number;
}

const CHECKPOINT_VERSION = 2;
/** What the file holds: the packed checkpoint and its SHA-256, so corrupted bytes are never loaded. */
const FORMAT = 'cpc-lab checkpoint';
const packr = new Packr({ useRecords: false, moreTypes: false });
const FILE = /^ckpt-(\d+)\.msgpack$/;

type Typed = Float32Array | Int32Array | Uint8Array;

/** Numeric arrays travel as raw little-endian bytes, so files stay compact and readable by numpy. */
function bytes(v: Typed): Uint8Array {
  return new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
}

function typed<T extends Typed>(v: unknown, Type: { new (b: ArrayBuffer): T; BYTES_PER_ELEMENT: number }, what: string): T {
  if (!(v instanceof Uint8Array) || v.byteLength % Type.BYTES_PER_ELEMENT) throw new Error(`${what} is not ${Type.name} data`);
  return new Type(new Uint8Array(v).buffer); // copy: decoded bytes may be views into a shared pool
}

function packFloats(r: Record<string, Float32Array>): Record<string, Uint8Array> {
  return Object.fromEntries(Object.entries(r).map(([k, v]) => [k, bytes(v)]));
}

/** Float arrays by name, every value finite (a non-finite checkpoint is never written nor loaded). */
function unpackFloats(r: unknown, what: string): Record<string, Float32Array> {
  if (typeof r !== 'object' || r === null) throw new Error(`${what}s are missing`);
  const out: Record<string, Float32Array> = {};
  for (const [k, v] of Object.entries(r)) out[k] = assertFinite(typed(v, Float32Array, `${what} '${k}'`), `${what} '${k}'`);
  return out;
}

function assertFinite(v: Float32Array, what: string): Float32Array {
  for (let i = 0; i < v.length; i++) if (!Number.isFinite(v[i])) throw new Error(`${what} holds a non-finite value (${v[i]}) at ${i}`);
  return v;
}

function packPending({ unroll: u, episodes, paramsVersion }: PendingBatch) {
  const unroll = {
    T: u.T,
    B: u.B,
    observations: bytes(u.observations),
    prevActions: bytes(u.prevActions),
    prevRewards: bytes(u.prevRewards),
    firsts: bytes(u.firsts),
    actions: bytes(u.actions),
    behaviourLogits: bytes(u.behaviourLogits),
    h: bytes(u.initialState.h),
    c: bytes(u.initialState.c),
  };
  return { unroll, episodes, paramsVersion };
}

function unpackPending(p: Record<string, unknown>): PendingBatch {
  const u = p.unroll as Record<string, unknown> | undefined;
  if (!u || !Number.isInteger(u.T) || !Number.isInteger(u.B) || !Array.isArray(p.episodes) || !Number.isInteger(p.paramsVersion)) throw new Error('the pending batch is incomplete');
  const unroll: Unroll = {
    T: u.T as number,
    B: u.B as number,
    observations: typed(u.observations, Uint8Array, 'pending observations'),
    prevActions: typed(u.prevActions, Int32Array, 'pending previous actions'),
    prevRewards: typed(u.prevRewards, Float32Array, 'pending previous rewards'),
    firsts: typed(u.firsts, Uint8Array, 'pending episode starts'),
    actions: typed(u.actions, Int32Array, 'pending actions'),
    behaviourLogits: typed(u.behaviourLogits, Float32Array, 'pending behaviour logits'),
    initialState: { h: typed(u.h, Float32Array, 'pending LSTM h'), c: typed(u.c, Float32Array, 'pending LSTM c') },
  };
  return { unroll, episodes: p.episodes as EpisodeStat[], paramsVersion: p.paramsVersion as number };
}

function packActor(a: ActorState) {
  return { ...a, h: bytes(a.h), c: bytes(a.c), prevActions: bytes(a.prevActions), prevRewards: bytes(a.prevRewards) };
}

function unpackActor(a: Record<string, unknown>): ActorState {
  if (!Array.isArray(a.obs) || !a.obs.every((o) => o instanceof Uint8Array)) throw new Error('actor observations are not byte arrays');
  if (!(a.firsts instanceof Uint8Array) || !Array.isArray(a.envs) || !Array.isArray(a.rng)) throw new Error('actor state is incomplete');
  return {
    rng: a.rng as RngState,
    h: typed(a.h, Float32Array, 'actor LSTM h'),
    c: typed(a.c, Float32Array, 'actor LSTM c'),
    obs: (a.obs as Uint8Array[]).map((o) => new Uint8Array(o)),
    prevActions: typed(a.prevActions, Int32Array, 'actor previous actions'),
    prevRewards: typed(a.prevRewards, Float32Array, 'actor previous rewards'),
    firsts: new Uint8Array(a.firsts),
    envs: a.envs as EnvState[],
  };
}

export function checkpointDir(runDir: string): string {
  return path.join(runDir, 'checkpoints');
}

/** The bytes of a checkpoint file: the packed state wrapped with its SHA-256. */
export function encodeCheckpoint(c: CheckpointState): Uint8Array {
  for (const [k, v] of Object.entries(c.params)) assertFinite(v, `parameter '${k}'`);
  const { file: _file, ...state } = c as Checkpoint;
  // a copy: packr may reuse its buffer for the next pack
  const body = new Uint8Array(packr.pack({
    ...state,
    version: CHECKPOINT_VERSION,
    savedAt: new Date().toISOString(),
    params: packFloats(c.params),
    optimizer: { ms: packFloats(c.optimizer.ms), mom: packFloats(c.optimizer.mom) },
    actor: c.actor && packActor(c.actor),
    pending: c.pending && packPending(c.pending),
  }));
  return packr.pack({ format: FORMAT, version: CHECKPOINT_VERSION, sha256: sha256(body), body });
}

function sha256(b: Uint8Array): string {
  return createHash('sha256').update(b).digest('hex');
}

/**
 * Writes `ckpt-<frames>.msgpack` atomically (temp file, fsync, rename) and keeps the newest `keep`.
 * Refuses non-finite parameters; if the write fails (a full disk) the older checkpoints stay.
 */
export function saveCheckpoint(runDir: string, c: CheckpointState, keep = 3): string {
  const dir = checkpointDir(runDir);
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `ckpt-${String(c.frames).padStart(12, '0')}.msgpack`);
  writeFileAtomic(file, encodeCheckpoint(c));
  for (const old of listCheckpoints(runDir).slice(0, -keep)) fs.rmSync(old, { force: true });
  return file;
}

/** Checkpoint files of a run, oldest first. */
export function listCheckpoints(runDir: string): string[] {
  const dir = checkpointDir(runDir);
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir)
    .filter((f) => FILE.test(f))
    .sort()
    .map((f) => path.join(dir, f));
}

/** Reads and verifies a checkpoint: format, checksum, float data, finite parameters and optimizer state. */
export function loadCheckpoint(file: string): Checkpoint {
  const fail = (why: string) => new Error(`checkpoint ${file} is unreadable (${why})`);
  let outer: Record<string, unknown>;
  try {
    outer = packr.unpack(fs.readFileSync(file)) as Record<string, unknown>;
  } catch (err) {
    throw fail(err instanceof Error ? err.message : String(err));
  }
  if (outer?.format !== FORMAT) throw fail('not a cpc-lab checkpoint');
  if (outer.version !== CHECKPOINT_VERSION) throw new Error(`checkpoint ${file} has format version ${String(outer.version)}, expected ${CHECKPOINT_VERSION}`);
  if (!(outer.body instanceof Uint8Array) || sha256(outer.body) !== outer.sha256) throw fail('checksum mismatch: the file is corrupted');
  try {
    const c = packr.unpack(outer.body) as Record<string, unknown> & { optimizer?: { ms?: unknown; mom?: unknown } };
    const returns = c.returns as Checkpoint['returns'];
    return {
      version: CHECKPOINT_VERSION,
      frames: Number(c.frames),
      updates: Number(c.updates),
      paramsVersion: Number(c.paramsVersion),
      params: unpackFloats(c.params, 'parameter'),
      optimizer: { ms: unpackFloats(c.optimizer?.ms ?? {}, 'optimizer slot'), mom: unpackFloats(c.optimizer?.mom ?? {}, 'optimizer slot') },
      rng: c.rng as Record<string, RngState>,
      ...(c.actor ? { actor: unpackActor(c.actor as Record<string, unknown>) } : {}),
      ...(c.pending ? { pending: unpackPending(c.pending as Record<string, unknown>) } : {}),
      ...(returns ? { returns } : {}),
      savedAt: String(c.savedAt),
      file,
    };
  } catch (err) {
    throw fail(err instanceof Error ? err.message : String(err));
  }
}

/** The newest readable checkpoint of a run, or null; a torn or corrupted newest file falls back to the one before. */
export function loadLatestCheckpoint(runDir: string, warn: (msg: string) => void = console.warn): Checkpoint | null {
  const files = listCheckpoints(runDir);
  for (let i = files.length - 1; i >= 0; i--) {
    try {
      return loadCheckpoint(files[i]!);
    } catch (err) {
      warn(`${err instanceof Error ? err.message : String(err)}; trying an older one`);
    }
  }
  return null;
}

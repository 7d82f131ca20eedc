import fs from 'node:fs';
import path from 'node:path';
import { Packr } from 'msgpackr';
import type { RMSPropState } from '../agents/rmsprop.js';
import type { RngState } from './rng.js';
import { writeFileAtomic } from './run.js';

/** Everything a run needs to continue exactly where it stopped (environments restart their episodes). */
export interface Checkpoint {
  /** Checkpoint format version. */
  version: 1;
  frames: number;
  updates: number;
  /** Version number of the parameters (one per update). */
  paramsVersion: number;
  params: Record<string, Float32Array>;
  optimizer: RMSPropState;
  /** Generator states by owner (e.g. `actor`). */
  rng: Record<string, RngState>;
  savedAt: string;
}

const CHECKPOINT_VERSION = 1;
const packr = new Packr({ useRecords: false, moreTypes: false });
const FILE = /^ckpt-(\d+)\.msgpack$/;

/** Floats travel as raw little-endian bytes, so files stay compact and readable by numpy. */
function packFloats(r: Record<string, Float32Array>): Record<string, Uint8Array> {
  const out: Record<string, Uint8Array> = {};
  for (const [k, v] of Object.entries(r)) out[k] = new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
  return out;
}

function unpackFloats(r: Record<string, Uint8Array>, what: string): Record<string, Float32Array> {
  const out: Record<string, Float32Array> = {};
  for (const [k, v] of Object.entries(r)) {
    if (!(v instanceof Uint8Array) || v.byteLength % 4) throw new Error(`checkpoint: ${what} '${k}' is not float32 data`);
    out[k] = new Float32Array(new Uint8Array(v).buffer); // copy: decoded bytes may be views into a shared pool
  }
  return out;
}

export function checkpointDir(runDir: string): string {
  return path.join(runDir, 'checkpoints');
}

/** Writes `ckpt-<frames>.msgpack` atomically (temp file, fsync, rename) and keeps the newest `keep`. */
export function saveCheckpoint(runDir: string, c: Omit<Checkpoint, 'version' | 'savedAt'>, keep = 3): string {
  const dir = checkpointDir(runDir);
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `ckpt-${String(c.frames).padStart(12, '0')}.msgpack`);
  const body = {
    ...c,
    version: CHECKPOINT_VERSION,
    savedAt: new Date().toISOString(),
    params: packFloats(c.params),
    optimizer: { ms: packFloats(c.optimizer.ms), mom: packFloats(c.optimizer.mom) },
  };
  writeFileAtomic(file, packr.pack(body));
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

export function loadCheckpoint(file: string): Checkpoint {
  let raw: unknown;
  try {
    raw = packr.unpack(fs.readFileSync(file));
  } catch (err) {
    throw new Error(`checkpoint ${file} is unreadable (${err instanceof Error ? err.message : String(err)})`);
  }
  const c = raw as Record<string, unknown> & { optimizer?: { ms?: unknown; mom?: unknown } };
  if (c?.version !== CHECKPOINT_VERSION) throw new Error(`checkpoint ${file} has format version ${String(c?.version)}, expected ${CHECKPOINT_VERSION}`);
  return {
    version: CHECKPOINT_VERSION,
    frames: Number(c.frames),
    updates: Number(c.updates),
    paramsVersion: Number(c.paramsVersion),
    params: unpackFloats(c.params as Record<string, Uint8Array>, 'parameter'),
    optimizer: {
      ms: unpackFloats((c.optimizer?.ms ?? {}) as Record<string, Uint8Array>, 'optimizer slot'),
      mom: unpackFloats((c.optimizer?.mom ?? {}) as Record<string, Uint8Array>, 'optimizer slot'),
    },
    rng: c.rng as Record<string, RngState>,
    savedAt: String(c.savedAt),
  };
}

/** The newest readable checkpoint of a run, or null; a torn newest file falls back to the one before. */
export function loadLatestCheckpoint(runDir: string, warn: (msg: string) => void = console.warn): Checkpoint | null {
  const files = listCheckpoints(runDir);
  for (let i = files.length - 1; i >= 0; i--) {
    try {
      return loadCheckpoint(files[i]);
    } catch (err) {
      warn(`${err instanceof Error ? err.message : String(err)}; trying an older one`);
    }
  }
  return null;
}

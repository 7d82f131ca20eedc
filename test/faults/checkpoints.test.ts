import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { listCheckpoints, loadCheckpoint, loadLatestCheckpoint, saveCheckpoint } from '../../src/checkpoint.js';
import { lockFolder, RUN_LOCK, writeFileAtomic, type WriteSync } from '../../src/run.js';
import { resumeRun, train } from '../../src/train.js';

const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'cpc-lab-ckfault-'));
const quiet = { log: () => {} };
const small = { env: 'mock:memory', agent: 'baseline' as const, batch: 2, unroll: 5, backend: 'cpu' as const, seed: 3, frames: 2 * 2 * 5 * 4 };

function state(frames: number, fill = 0.5) {
  return {
    frames,
    updates: frames,
    paramsVersion: frames,
    params: { w: new Float32Array(40_000).fill(fill) },
    optimizer: { ms: { w: new Float32Array(40_000).fill(1) }, mom: {} },
    rng: {},
  };
}

const enospc = () => Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });

afterEach(() => {
  vi.restoreAllMocks();
});

describe('checkpoints: corruption, full disks, non-finite values', () => {
  it('64 KiB of random bytes inside the parameter data: rejected by the checksum, the previous checkpoint is used', () => {
    const dir = tmp();
    saveCheckpoint(dir, state(1, 0.25));
    const newest = saveCheckpoint(dir, state(2, 0.75));
    const bytes = fs.readFileSync(newest);
    const junk = Buffer.alloc(65_536);
    for (let i = 0; i < junk.length; i++) junk[i] = (i * 2654435761) >>> 24;
    junk.copy(bytes, 40_000); // well inside the float data, the msgpack structure intact
    fs.writeFileSync(newest, bytes);
    expect(() => loadCheckpoint(newest)).toThrow(/checksum mismatch: the file is corrupted/);
    const warnings: string[] = [];
    const c = loadLatestCheckpoint(dir, (w) => warnings.push(w))!;
    expect(c.frames).toBe(1);
    expect(c.params.w![0]).toBe(0.25);
    expect(warnings[0]).toMatch(/ckpt-000000000002.*checksum mismatch.*trying an older one/);
  });

  it('a single flipped bit is rejected too', () => {
    const dir = tmp();
    const file = saveCheckpoint(dir, state(1));
    const bytes = fs.readFileSync(file);
    bytes[bytes.length - 1000]! ^= 1;
    fs.writeFileSync(file, bytes);
    expect(() => loadCheckpoint(file)).toThrow(/checksum mismatch/);
  });

  it('non-finite parameters are never written, and the older checkpoints stay', () => {
    const dir = tmp();
    saveCheckpoint(dir, state(1));
    const bad = state(2);
    bad.params.w[17] = Number.NaN;
    expect(() => saveCheckpoint(dir, bad, 1)).toThrow(/parameter 'w' holds a non-finite value \(NaN\) at 17/);
    expect(listCheckpoints(dir).map((f) => path.basename(f))).toEqual(['ckpt-000000000001.msgpack']);
  });

  it('writeFileAtomic continues short writes', () => {
    const file = path.join(tmp(), 'f.bin');
    const data = Uint8Array.from({ length: 10_000 }, (_, i) => i % 251);
    const short: WriteSync = (fd, buf, off, len) => fs.writeSync(fd, buf, off, Math.min(len, 777));
    writeFileAtomic(file, data, short);
    expect(Buffer.compare(fs.readFileSync(file), Buffer.from(data))).toBe(0);
  });

  it('writeFileAtomic on a full disk: the old file is kept, no temp file is left, the error says why', () => {
    const dir = tmp();
    const file = path.join(dir, 'f.bin');
    fs.writeFileSync(file, 'old');
    let calls = 0;
    const fills: WriteSync = (fd, buf, off, len) => {
      if (calls++ === 0) return fs.writeSync(fd, buf, off, Math.min(len, 100)); // a torn write, then the disk is full
      throw enospc();
    };
    expect(() => writeFileAtomic(file, new Uint8Array(5000), fills)).toThrow(/cannot write .*f\.bin \(its previous version is kept\): no space left on device/);
    expect(fs.readFileSync(file, 'utf8')).toBe('old');
    expect(fs.readdirSync(dir)).toEqual(['f.bin']);
    // a disk that accepts nothing (write returns 0) is a full disk too, not an endless loop
    expect(() => writeFileAtomic(file, new Uint8Array(10), () => 0)).toThrow(/no space left on device/);
  });

  it('a checkpoint on a full disk: the run stops with a clear error, the previous checkpoint is intact and resumable', async () => {
    const runDir = tmp();
    await train({ ...small, runDir, frames: 2 * 5 * 4 }, quiet);
    const before = listCheckpoints(runDir);
    const real = fs.writeSync;
    vi.spyOn(fs, 'writeSync').mockImplementation(((fd: number, buf: Uint8Array, ...rest: never[]) => {
      if (buf.byteLength > 100_000) throw enospc(); // checkpoints, not metrics lines
      return (real as (...a: unknown[]) => number)(fd, buf, ...rest);
    }) as typeof fs.writeSync);
    await expect(resumeRun(runDir, { frames: 2 * 2 * 5 * 4 }, quiet)).rejects.toThrow(/cannot write .*ckpt-000000000080\.msgpack: no space left on device/);
    vi.restoreAllMocks();
    expect(listCheckpoints(runDir)).toEqual(before);
    expect(fs.readdirSync(path.join(runDir, 'checkpoints')).filter((f) => f.includes('.tmp'))).toEqual([]);
    expect(loadLatestCheckpoint(runDir)!.frames).toBe(2 * 5 * 4);
  });
});

describe('run folder lock', () => {
  it('a second train on a folder in use refuses with a clear message and leaves the folder as it was', async () => {
    const runDir = tmp();
    await train({ ...small, runDir }, quiet);
    const metrics = fs.readFileSync(path.join(runDir, 'metrics.jsonl'), 'utf8');
    const config = fs.readFileSync(path.join(runDir, 'config.json'), 'utf8');
    // another process holds it (our parent stands in for a running train)
    fs.writeFileSync(path.join(runDir, RUN_LOCK), String(process.ppid));
    await expect(resumeRun(runDir, { frames: 4 * small.frames }, quiet)).rejects.toThrow(new RegExp(`another cpc-lab train \\(pid ${process.ppid}\\) is running on ${runDir}`));
    await expect(train({ ...small, runDir, seed: 9 }, quiet)).rejects.toThrow(/another cpc-lab train/);
    // --resume of the running run truncated nothing, and config.json was not overwritten
    expect(fs.readFileSync(path.join(runDir, 'metrics.jsonl'), 'utf8')).toBe(metrics);
    expect(fs.readFileSync(path.join(runDir, 'config.json'), 'utf8')).toBe(config);
  });

  it('the lock of a dead process is taken over; a finished run releases its lock', async () => {
    const runDir = tmp();
    fs.writeFileSync(path.join(runDir, RUN_LOCK), '999999999');
    await train({ ...small, runDir }, quiet);
    expect(fs.existsSync(path.join(runDir, RUN_LOCK))).toBe(false);
    const release = lockFolder(runDir, RUN_LOCK, 'cpc-lab train');
    expect(() => lockFolder(runDir, RUN_LOCK, 'cpc-lab train')).toThrow(/another cpc-lab train/);
    release();
  });
});

import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { Config } from './config.js';

/** What `config.json` of a run holds: every setting, plus where and how it ran. */
export interface RunRecord {
  config: Config;
  name: string;
  seed: number;
  gitCommit: string | null;
  backend: { name: string; detail: string };
  createdAt: string;
  node: string;
}

/** The git commit of the working tree cpc-lab runs from, if it is a checkout. */
export function gitCommit(): string | null {
  try {
    const dir = path.dirname(new URL(import.meta.url).pathname);
    const head = execFileSync('git', ['rev-parse', 'HEAD'], { cwd: dir, stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], { cwd: dir, stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim();
    return dirty ? `${head}-dirty` : head;
  } catch {
    return null;
  }
}

/** Creates the run directory and writes `config.json`. */
export function createRunDir(dir: string, record: RunRecord): void {
  fs.mkdirSync(dir, { recursive: true });
  writeFileAtomic(path.join(dir, 'config.json'), JSON.stringify(record, null, 2) + '\n');
}

/** `fs.writeSync`'s shape (tests inject a failing disk). */
export type WriteSync = (fd: number, buffer: Uint8Array, offset: number, length: number) => number;

/**
 * Writes through a temp file, fsync and rename, so a crash never leaves a half-written file. Short
 * writes are continued; if the write fails (a full disk: ENOSPC) the temp file is removed, `file`
 * keeps its old content and the error says so.
 */
export function writeFileAtomic(file: string, data: string | Uint8Array, write: WriteSync = fs.writeSync): void {
  const bytes = typeof data === 'string' ? Buffer.from(data) : data;
  const tmp = `${file}.tmp-${process.pid}`;
  let fd: number;
  try {
    fd = fs.openSync(tmp, 'w');
  } catch (err) {
    throw fileError(err, `cannot write ${file}`);
  }
  try {
    for (let done = 0; done < bytes.byteLength; ) {
      const n = write(fd, bytes, done, bytes.byteLength - done);
      if (!(n > 0)) throw Object.assign(new Error('the disk accepted no more bytes'), { code: 'ENOSPC' });
      done += n;
    }
    fs.fsyncSync(fd);
    fs.closeSync(fd);
    fs.renameSync(tmp, file);
  } catch (err) {
    try {
      fs.closeSync(fd);
    } catch {
      // already closed
    }
    fs.rmSync(tmp, { force: true });
    throw fileError(err, `cannot write ${file}${fs.existsSync(file) ? ' (its previous version is kept)' : ''}`);
  }
}

/** A file-system error as one actionable line: what failed, and the reason in words. */
export function fileError(err: unknown, what: string): Error {
  const code = (err as NodeJS.ErrnoException)?.code;
  const reason =
    code === 'ENOSPC' ? 'no space left on device' :
    code === 'EACCES' || code === 'EPERM' ? 'permission denied (is the folder read-only?)' :
    code === 'EROFS' ? 'read-only file system' :
    code === 'ENAMETOOLONG' ? 'the name is too long' :
    err instanceof Error ? err.message : String(err);
  return Object.assign(new Error(`${what}: ${reason}`), { code });
}

import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { makeEnv } from '../envs/index.js';
import { envOptions, type Config } from './config.js';

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

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Takes a folder's lock file `name` holding this process's pid (a stale one, of a dead process, is
 * taken over) so two processes of the same kind (`what`: "search", "train") never share the
 * folder; returns its release.
 */
export function lockFolder(dir: string, name: string, what: string): () => void {
  const file = path.join(dir, name);
  try {
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(file, String(process.pid), { flag: 'wx' });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw fileError(err, `cannot lock ${dir}`);
    const pid = Number(fs.readFileSync(file, 'utf8'));
    if (alive(pid)) throw new Error(`another ${what} (pid ${pid}) is running on ${dir}; stop it first, or remove ${file} if that is not a cpc-lab ${what}`);
    fs.writeFileSync(file, String(process.pid));
  }
  return () => {
    // released only by its holder: a lock taken over since stays
    if (fs.existsSync(file) && Number(fs.readFileSync(file, 'utf8')) === process.pid) fs.rmSync(file, { force: true });
  };
}

/** Held by the `cpc-lab train` using a run folder (its pid): a second one refuses to start. */
export const RUN_LOCK = 'train.lock';

/**
 * What can be checked before a run folder exists, so a corrected command never meets "already holds
 * a run": the CURVE key file and the environment (mock and built-in ones are made once; a DeepMind
 * Lab level is checked when its bridge starts). The endpoint's syntax is checked with the settings.
 */
export async function preflight(config: Config): Promise<void> {
  if (config.curveKeys) (await import('./runtime/curve.js')).readCurveKeys(config.curveKeys);
  if (!config.env.startsWith('dmlab:')) await (await makeEnv(config.env, envOptions(config))).close();
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

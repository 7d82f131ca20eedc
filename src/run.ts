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

/** Writes through a temp file, fsync and rename, so a crash never leaves a half-written file. */
export function writeFileAtomic(file: string, data: string | Uint8Array): void {
  const tmp = `${file}.tmp-${process.pid}`;
  const fd = fs.openSync(tmp, 'w');
  try {
    if (typeof data === 'string') fs.writeSync(fd, data);
    else fs.writeSync(fd, data);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(tmp, file);
}

import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { loadLatestCheckpoint } from '../../src/checkpoint.js';
import { resolveConfig } from '../../src/config.js';
import { superviseTraining } from '../../src/runtime/supervisor.js';
import { readUpdates, updatesWritten } from '../helpers/metrics.js';

/**
 * Process-level faults. Kill -9 the supervisor (or the search): its orphaned learner (or run worker)
 * must still write its final checkpoint, holding every update it trained, instead of dying on EPIPE
 * from its reports. A learner that diverges stops the run instead of being restarted.
 */
const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'cpc-lab-orphan-'));
const root = path.resolve(import.meta.dirname, '../..');
const spawned: ChildProcess[] = [];

afterEach(() => {
  for (const c of spawned.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
});

function start(args: string[]): ChildProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', ...args], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout!.resume();
  child.stderr!.resume();
  spawned.push(child);
  return child;
}

/** Resolves when `check` holds, testing it whenever a little time passed (the event has no callback here). */
async function until(check: () => boolean): Promise<void> {
  while (!check()) await new Promise((r) => setTimeout(r, 100));
}

const running = (pid: number) => fs.existsSync(`/proc/${pid}`) && !fs.readFileSync(`/proc/${pid}/stat`, 'utf8').includes(') Z ');
const childrenOf = (pid: number) => execFileSync('pgrep', ['-P', String(pid)], { encoding: 'utf8' }).trim().split('\n').map(Number);
const roleOf = (pid: number) => /"role":"(\w+)"/.exec(fs.readFileSync(`/proc/${pid}/environ`, 'utf8'))?.[1];

describe('orphans checkpoint before they exit', () => {
  it('supervisor killed -9: the learner writes a checkpoint with every update it trained', async () => {
    const runDir = tmp();
    const supervisor = start(['src/cli.ts', 'train', '--env', 'mock:memory', '--agent', 'baseline', '--actors', '1', '--batch', '2', '--unroll', '5', '--frames', '10000000', '--checkpoint-every', '3600', '--progress-every', '0.01', '--backend', 'wasm', '--run-dir', runDir]);
    await until(() => updatesWritten(runDir) >= 3);
    const children = childrenOf(supervisor.pid!);
    const learner = children.find((pid) => roleOf(pid) === 'learner')!;
    const envServers = children.filter((pid) => roleOf(pid) === 'actor').flatMap(childrenOf);
    expect(envServers.length).toBe(2);
    supervisor.kill('SIGKILL');
    // no orphan stays: learner, actor and its environment servers all exit
    await until(() => ![...children, ...envServers].some(running));
    const u = readUpdates(runDir);
    const checkpoint = loadLatestCheckpoint(runDir)!;
    expect(checkpoint.frames).toBeGreaterThanOrEqual(3 * 2 * 5 * 4);
    expect(checkpoint.frames).toBe(u[u.length - 1]!.frames);
  });

  it('search killed -9: its run worker writes a checkpoint with every update it trained', async () => {
    const out = tmp();
    const script = `import { runSearch } from './src/experiments/search.ts';
      await runSearch({ levels: ['mock:memory'], agents: ['baseline'], trials: 1, out: ${JSON.stringify(out)}, train: { frames: 10000000, batch: 2, unroll: 5, backend: 'wasm', checkpointEvery: 3600 } }, { log: () => {} });`;
    const search = start(['--input-type=module', '-e', script]);
    const runDir = path.join(out, 'mock-memory', 'baseline-t00');
    await until(() => updatesWritten(runDir) >= 2);
    // the search's children are the run worker (named after its run) and, when tsx had to compile, esbuild's service
    const children = childrenOf(search.pid!);
    expect(children.filter((pid) => fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').startsWith('cpc-lab run mock-memory/baseline-t00'))).toHaveLength(1);
    search.kill('SIGKILL');
    await until(() => !children.some(running));
    const u = readUpdates(runDir);
    const checkpoint = loadLatestCheckpoint(runDir)!;
    expect(checkpoint.frames).toBeGreaterThanOrEqual(2 * 2 * 5 * 4);
    expect(checkpoint.frames).toBe(u[u.length - 1]!.frames);
  });

  it('a learner that diverges (learning rate 1e20: finite parameters whose policy is NaN) stops the supervised sync run with its error; it is not restarted', async () => {
    const runDir = tmp();
    const config = resolveConfig({ env: 'mock:memory', agent: 'baseline', actors: 1, batch: 2, unroll: 5, frames: 1000 * 2 * 5 * 4, learningRate: 1e20, maxSkippedUpdates: 2, backend: 'wasm', runDir });
    const lines: string[] = [];
    await expect(superviseTraining(config, { log: (l) => lines.push(l) })).rejects.toThrow(/training diverged: 2 updates in a row had a non-finite loss, gradient or policy/);
    expect(lines.join('\n')).not.toMatch(/learner exited .*restart/);
    expect(Object.values(loadLatestCheckpoint(runDir)!.params).every((p) => p.every(Number.isFinite))).toBe(true);
  }, 180_000); // the bug this replays is a stall: fail, do not hang
});

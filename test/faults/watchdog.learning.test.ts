import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { fakeDmlabPath } from '../../envs/dmlab/index.js';
import { superviseTraining } from '../../src/runtime/supervisor.js';
import { supervisedRun } from './helpers.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Issue 10 item 5: every process alive (heartbeats flowing) but no update for `stallTimeout` seconds
 * (here: every actor's environments frozen) is noticed; the supervisor restarts the actors and the
 * run finishes.
 */
describe('supervisor watchdog', () => {
  it('restarts the actors when all are alive but nothing trains', async () => {
    const { config, lines, children, opts } = supervisedRun({ mode: 'sync', stallTimeout: 8, frames: 10 * 160 });
    const frozen: number[] = [];
    const freezing = (async () => {
      while (!lines.some((l) => l.startsWith('[cpc'))) await new Promise((r) => setTimeout(r, 100));
      for (const name of ['actor-0', 'actor-1']) {
        const pid = children.get(name)![0]!.pid!;
        const envs = execFileSync('pgrep', ['-P', String(pid)], { encoding: 'utf8' }).trim().split('\n').map(Number);
        for (const e of envs) process.kill(e, 'SIGSTOP');
        frozen.push(...envs);
      }
    })();
    try {
      const finished = await superviseTraining(config, opts);
      await freezing;
      expect(lines.join('\n')).toMatch(/supervisor: no update for 8 s though every process is alive; restarting the actors/);
      expect(finished.frames).toBe(config.frames);
    } finally {
      // the frozen servers' actors are gone: once thawed they see their stdin close and exit
      for (const pid of frozen) {
        try {
          process.kill(pid, 'SIGCONT');
        } catch {
          // already gone
        }
      }
    }
  });

  it('does not take a map compile for a stall: a compile held for 4 stall timeouts restarts nothing', async () => {
    // the fake's compiles pass while <gate>/release exists and wait while it does not
    const dir = mkdtempSync(join(tmpdir(), 'cpc-lab-compile-stall-'));
    const release = join(dir, 'release');
    writeFileSync(release, '');
    const starts = () => (existsSync(join(dir, 'log')) ? readFileSync(join(dir, 'log'), 'utf8').match(/^start /gm)?.length ?? 0 : 0);
    Object.assign(process.env, { CPC_LAB_FAKE_COMPILE_GATE: dir, CPC_LAB_LEVEL_CACHE: join(dir, 'cache') }); // the bridges inherit them
    // explore_goal_locations_small compiles a map per episode; 10-step episodes compile often
    const { config, lines, opts } = supervisedRun({ env: 'dmlab:explore_goal_locations_small', python: '/usr/bin/python3', dmlabPath: fakeDmlabPath(), episodeLength: 10, agent: 'baseline', mode: 'sync', stallTimeout: 3, frames: 40 * 160 });
    let held = 0;
    const holding = (async () => {
      while (!lines.some((l) => l.startsWith('[baseline'))) await sleep(50);
      rmSync(release);
      const before = starts();
      while (starts() === before) await sleep(20);
      held = starts();
      await sleep(12_000);
      writeFileSync(release, '');
    })();
    try {
      const finished = await superviseTraining(config, opts);
      await holding;
      expect(held).toBeGreaterThan(0);
      expect(lines.join('\n')).not.toMatch(/no update for/);
      expect(finished.frames).toBe(config.frames);
    } finally {
      writeFileSync(release, '');
      delete process.env.CPC_LAB_FAKE_COMPILE_GATE;
      delete process.env.CPC_LAB_LEVEL_CACHE;
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);
});

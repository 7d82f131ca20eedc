import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { superviseTraining } from '../../src/runtime/supervisor.js';
import { supervisedRun } from './helpers.js';

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
});

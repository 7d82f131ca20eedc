/** `cpc-lab dmlab warm-cache` as a user runs it, against the fake DeepMind Lab. */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { fakeDmlabPath } from '../../../envs/dmlab/index.js';

const root = path.resolve(import.meta.dirname, '../../..');
const tsx = import.meta.resolve('tsx');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'cpc-lab-warm-cli-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

function warm(args: string[], cache: string): { status: number | null; out: string } {
  const r = spawnSync(
    process.execPath,
    ['--import', tsx, path.join(root, 'src/cli.ts'), 'dmlab', 'warm-cache', '--python', '/usr/bin/python3', '--dmlab-path', fakeDmlabPath(), ...args],
    { cwd: root, encoding: 'utf8', timeout: 120_000, env: { ...process.env, CPC_LAB_LEVEL_CACHE: cache } },
  );
  return { status: r.status, out: (r.stdout ?? '') + (r.stderr ?? '') };
}

describe('cpc-lab dmlab warm-cache', () => {
  it("compiles the maps of a run's first episodes once; a second time finds them cached", () => {
    const cache = path.join(tmp, 'cache');
    const flags = ['--level', 'explore_goal_locations_small', '--episodes', '3', '--batch', '2', '--seed', '7'];
    const first = warm(flags, cache);
    expect(first.status).toBe(0);
    expect(first.out).toMatch(/warm-cache dmlab:explore_goal_locations_small: 2 environments x 3 episodes/);
    expect(first.out).toMatch(/done: 6 episodes, 6 maps compiled/);
    expect(fs.readdirSync(cache).filter((f) => !f.startsWith('.'))).toHaveLength(6);
    expect(warm(flags, cache).out).toMatch(/done: 6 episodes, 0 maps compiled/);
  });

  it('bad settings and an unknown level get one line that says what to do', () => {
    const cache = path.join(tmp, 'cache-bad');
    const bad = warm(['--level', 'explore_goal_locations_small', '--episodes', '0'], cache);
    expect(bad.status).not.toBe(0);
    expect(bad.out).toMatch(/episodes must be a positive integer, got 0/);
    const unknown = warm(['--level', 'no_such_level', '--episodes', '1'], cache);
    expect(unknown.status).not.toBe(0);
    expect(unknown.out).toMatch(/Level not found: Failed to open file .*no_such_level\.lua[\s\S]*fix: use a level path/);
    for (const r of [bad, unknown]) expect(r.out).not.toMatch(/\n\s+at /);
  });
});

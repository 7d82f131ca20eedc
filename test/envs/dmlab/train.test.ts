/** `cpc-lab train --env dmlab:<level>` end to end against the fake DeepMind Lab. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { fakeDmlabPath, warmDmlabCache } from '../../../envs/dmlab/index.js';
import { runEnvSeeds } from '../../../src/actor.js';
import { resolveConfig } from '../../../src/config.js';
import { train } from '../../../src/train.js';

describe('training on dmlab: levels', () => {
  it('a short run through the Python bridges completes, with episodes and a checkpoint', async () => {
    const runDir = fs.mkdtempSync(path.join(os.tmpdir(), 'cpc-lab-dmlab-train-'));
    try {
      const summary = await train(
        {
          env: 'dmlab:seekavoid_arena_01',
          agent: 'cpc',
          batch: 2,
          unroll: 6,
          cpcSteps: 3,
          frames: 2 * 6 * 4 * 3,
          episodeLength: 5,
          backend: 'cpu',
          seed: 1,
          python: '/usr/bin/python3',
          dmlabPath: fakeDmlabPath(),
          runDir,
        },
        { log: () => {} },
      );
      expect(summary.frames).toBeGreaterThanOrEqual(2 * 6 * 4 * 3);
      expect(summary.episodes).toBeGreaterThanOrEqual(4);
      expect(fs.existsSync(summary.checkpoint)).toBe(true);
      const config = JSON.parse(fs.readFileSync(path.join(runDir, 'config.json'), 'utf8'));
      expect(JSON.stringify(config)).toContain('dmlab:seekavoid_arena_01');
    } finally {
      fs.rmSync(runDir, { recursive: true, force: true });
    }
  });

  it('a run compiles no map of its first episodes once warm-cache compiled them with its settings', async () => {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'cpc-lab-dmlab-warm-'));
    const cache = path.join(tmp, 'cache');
    const maps = () => fs.readdirSync(cache).filter((f) => !f.startsWith('.')).sort();
    // 2 environments x 18 agent steps of 5-step episodes: each starts 4 episodes
    const settings = { env: 'dmlab:explore_goal_locations_small', agent: 'baseline', batch: 2, unroll: 6, frames: 2 * 6 * 4 * 3, episodeLength: 5, backend: 'cpu', seed: 3, python: '/usr/bin/python3', dmlabPath: fakeDmlabPath() } as const;
    const before = process.env.CPC_LAB_LEVEL_CACHE;
    process.env.CPC_LAB_LEVEL_CACHE = cache; // what the run's bridges use
    try {
      const warmed = await warmDmlabCache('explore_goal_locations_small', runEnvSeeds(resolveConfig(settings)), 4, { python: settings.python, dmlabPath: settings.dmlabPath });
      expect(warmed).toMatchObject({ episodes: 8, compiled: 8 });
      const warmedMaps = maps();
      const summary = await train({ ...settings, runDir: path.join(tmp, 'run') }, { log: () => {} });
      expect(summary.episodes).toBeGreaterThanOrEqual(6);
      expect(maps()).toEqual(warmedMaps);
      // a run with another seed compiles maps of its own: the cache was no accident
      await train({ ...settings, seed: 4, runDir: path.join(tmp, 'run4') }, { log: () => {} });
      expect(maps().length).toBeGreaterThan(warmedMaps.length);
    } finally {
      if (before === undefined) delete process.env.CPC_LAB_LEVEL_CACHE;
      else process.env.CPC_LAB_LEVEL_CACHE = before;
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  }, 300_000); // 3 Python processes and 2 runs: a loaded machine needs more than the default minute
});

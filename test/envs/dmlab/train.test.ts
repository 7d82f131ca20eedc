/** `cpc-lab train --env dmlab:<level>` end to end against the fake DeepMind Lab. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { fakeDmlabPath } from '../../../envs/dmlab/index.js';
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
});

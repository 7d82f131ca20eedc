import fs from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { makeEnv } from '../../envs/index.js';
import { evaluate, formatEval } from '../../src/eval.js';
import { Rng } from '../../src/rng.js';
import { train } from '../../src/train.js';
import { tmp } from './experiments/fixtures.js';

/** Mean return of uniformly random actions on `env` over `episodes` episodes. */
async function randomReturn(env: string, episodes: number, seed: number): Promise<number> {
  const e = await makeEnv(env);
  const rng = new Rng(seed);
  e.reset(rng.seed());
  let total = 0;
  for (let n = 0; n < episodes; ) {
    const r = await e.step(rng.int(e.spec.numActions), 4);
    if (r.done) {
      total += r.episodeReturn!;
      n++;
    }
  }
  return total / episodes;
}

describe('eval', () => {
  let runDir = '';
  beforeAll(async () => {
    // a short run: enough to learn that the query screen pays for action 0 or 1 (0.5), not the cue (1.0)
    runDir = path.join(tmp(), 'run');
    await train({ env: 'mock:memory', agent: 'baseline', frames: 51_200, batch: 16, unroll: 20, learningRate: 0.002, entropyCost: 0.003, seed: 1, backend: 'wasm', runDir }, { log: () => {} });
  });

  it('a checkpoint trained on mock:memory beats a random policy; the same seed gives the same returns', async () => {
    const random = await randomReturn('mock:memory', 2000, 5); // 1/9 in expectation
    const a = await evaluate({ runDir, episodes: 200, seed: 3, backend: 'wasm' });
    expect(a.returns).toHaveLength(200);
    expect(a.checkpointFrames).toBe(51_200);
    // the standard error of a 200-episode mean near 0.1 is about 0.02
    expect(a.mean).toBeGreaterThan(random + 0.12);
    const b = await evaluate({ runDir, episodes: 200, seed: 3, backend: 'wasm' });
    expect(b.returns).toEqual(a.returns);
    const c = await evaluate({ runDir, episodes: 200, seed: 4, backend: 'wasm', save: false });
    expect(c.returns).not.toEqual(a.returns);
    expect(formatEval(a)).toMatch(/200 episodes, return 0\.\d+ ± 0\.\d+/);
  });

  it('stores eval.json for the results table and writes what the agent saw as a GIF', async () => {
    const video = path.join(tmp(), 'agent.gif');
    const r = await evaluate({ runDir, episodes: 3, seed: 0, greedy: true, video, backend: 'wasm' });
    const stored = JSON.parse(fs.readFileSync(path.join(runDir, 'eval.json'), 'utf8')) as { env: string; returns: number[]; greedy: boolean };
    expect(stored).toMatchObject({ env: 'mock:memory', returns: r.returns, greedy: true });
    const gif = fs.readFileSync(video);
    expect(gif.subarray(0, 6).toString('latin1')).toBe('GIF89a');
    // one frame per agent step of the first episode (6 steps), each 24 x 12 = 288 pixels wide
    expect(gif.readUInt16LE(6)).toBe(288);
    expect(gif.toString('latin1').match(/\x21\xf9\x04/g)).toHaveLength(6);
  });

  it('says what is wrong with a folder that is not a run', async () => {
    await expect(evaluate({ runDir: tmp(), episodes: 1 })).rejects.toThrow(/config.json does not exist/);
    await expect(evaluate({ runDir: tmp(), episodes: 1, parallel: 0 })).rejects.toThrow(/eval: parallel must be a positive integer, got 0/);
  });
});

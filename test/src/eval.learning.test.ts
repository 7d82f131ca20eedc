import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { evaluate } from '../../src/eval.js';
import { train } from '../../src/train.js';
import { tmp } from './experiments/fixtures.js';

describe('eval after learning', () => {
  it('the baseline agent trained to solve mock:memory scores >= 0.9 in test mode (greedy), far above random (1/9)', async () => {
    const runDir = path.join(tmp(), 'run');
    await train(
      { env: 'mock:memory', agent: 'baseline', frames: 300_000, batch: 16, unroll: 20, learningRate: 0.002, entropyCost: 0.003, seed: 1, backend: 'wasm', runDir },
      { log: () => {} },
    );
    const greedy = await evaluate({ runDir, episodes: 200, greedy: true, seed: 0, backend: 'wasm' });
    expect(greedy.mean).toBeGreaterThanOrEqual(0.9);
    const sampled = await evaluate({ runDir, episodes: 200, seed: 0, backend: 'wasm', save: false });
    expect(sampled.mean).toBeGreaterThanOrEqual(0.8);
  });
});

import { describe, expect, it } from 'vitest';
import { superviseTraining } from '../../src/runtime/supervisor.js';
import { supervisedRun, updateRecords } from './helpers.js';

/**
 * Issue 9's lag bound (`--max-policy-lag`): with fast actors (three, feeding a batch of two columns)
 * and a slower learner (CPC), no trained unroll is older than L versions, and the mean lag is
 * reported per update.
 */
describe('async policy-lag bound', () => {
  it('no trained unroll older than maxPolicyLag; mean and max lag in every update record', async () => {
    const L = 1;
    const { config, runDir, lines, opts } = supervisedRun({ mode: 'async', actors: 3, envsPerActor: 2, batch: 2, maxPolicyLag: L, frames: 40 * 2 * 10 * 4 });
    await superviseTraining(config, opts);
    const u = updateRecords(runDir);
    expect(u.length).toBe(40);
    for (const r of u) {
      expect(r.policyLagMax).toBeLessThanOrEqual(L);
      expect(r.policyLag).toBeGreaterThanOrEqual(0);
      expect(r.policyLag).toBeLessThanOrEqual(r.policyLagMax!);
    }
    // the actors outrun the learner: some unrolls were played by older parameters
    expect(u.some((r) => r.policyLag > 0)).toBe(true);
    expect(lines.some((l) => /\| lag \d\.\d\d \(max [01]\) \|/.test(l))).toBe(true);
  });
});

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

  it('actors that play one batch between them keep one batch ahead: acting overlaps learning and nothing goes stale', async () => {
    // free-running actors here (fast mock levels, a slower CPC learner) played ~3 batches an update:
    // 139 unrolls were dropped as stale, 60 trained
    const { config, runDir, lines, opts } = supervisedRun({ mode: 'async', actors: 2, envsPerActor: 2, batch: 4, maxPolicyLag: 1, frames: 30 * 4 * 10 * 4 });
    await superviseTraining(config, opts);
    const u = updateRecords(runDir);
    expect(u.length).toBe(30);
    // none, however their answers interleave: in CI, where they came out of order, 2 went stale mid-run
    // until the learner took the oldest first and waited for one that could not be trained later
    expect(u.at(-1)!.dropped?.stale ?? 0).toBe(0);
    // and every ask reached its actor: with receive high-water marks of 2, the fifth message at start
    // (the answer to a hello and 4 asks) was dropped, and the learner waited 60 s for its unroll
    expect(lines.filter((l) => l.includes('presumed lost'))).toEqual([]);
    // one batch ahead: after the first updates every batch was played by the previous parameters
    expect(u.slice(5).filter((r) => r.policyLag === 1).length).toBeGreaterThan(20);
  });
});

import { describe, expect, it } from 'vitest';
import { UnrollRequests } from '../../../src/runtime/unrollRequests.js';

/** Actors of these column counts, last heard of at time 0. */
const peers = (...columns: number[]) => columns.map((c, i) => ({ id: `actor-${i}`, columns: c, lastSeen: 0 }));

/**
 * A learner and actors that answer every ask at once (actors far faster than the learner): returns
 * the lag of every trained column and how often the learner found less than a batch queued.
 */
function simulate(o: { batch: number; maxPolicyLag: number; columns: number[]; updates: number }) {
  const req = new UnrollRequests({ batch: o.batch, maxPolicyLag: o.maxPolicyLag, now: () => 0 });
  const ps = peers(...o.columns);
  const queue: number[] = []; // the version that played each queued column
  let version = 0;
  let starved = 0;
  const lags: number[] = [];
  const answer = (asked: typeof ps) => {
    for (const p of asked) {
      req.answered(p.id);
      for (let c = 0; c < p.columns; c++) queue.push(version);
    }
  };
  for (let u = 0; u < o.updates; u++) {
    answer(req.toAsk(ps, queue.length, false));
    if (queue.length < o.batch) {
      starved++;
      continue;
    }
    for (const v of queue.splice(0, o.batch)) lags.push(version - v);
    answer(req.toAsk(ps, queue.length, true)); // asked and played during the update
    version++;
  }
  return { lags, starved, queued: queue.length };
}

describe('UnrollRequests: the learner asks for what it can train within the lag bound', () => {
  it.each([
    [1, [2, 2]],
    [1, [4]],
    [2, [2, 2]],
    [1, [2, 2, 2, 2, 2, 2, 2, 2]], // more actors than a batch needs
    [0, [1, 1, 1, 1]],
  ])('L = %i, actors of %j columns, batch 4: no column older than L, never a batch short, nothing left over', (L, columns) => {
    const { lags, starved, queued } = simulate({ batch: 4, maxPolicyLag: L, columns, updates: 50 });
    expect(lags).toHaveLength(50 * 4);
    expect(Math.max(...lags)).toBe(L); // at the bound: acting stays L batches ahead of learning
    expect(starved).toBe(0);
    expect(queued).toBeLessThanOrEqual(L * 4);
  });

  it('asks each peer in turn when more actors are at hand than a batch needs', () => {
    const req = new UnrollRequests({ batch: 2, maxPolicyLag: 1, now: () => 0 });
    const ps = peers(2, 2, 2);
    const asked: string[] = [];
    for (let u = 0; u < 3; u++) {
      const a = req.toAsk(ps, 0, false);
      asked.push(...a.map((p) => p.id));
      for (const p of a) req.answered(p.id);
    }
    expect(asked).toEqual(['actor-0', 'actor-1', 'actor-2', 'actor-0', 'actor-1', 'actor-2']);
  });

  it("a silent actor's asks are presumed lost and it is asked no more; a live one is waited for however long its answer takes", () => {
    let now = 0;
    const req = new UnrollRequests({ batch: 4, maxPolicyLag: 0, silentMs: 5000, now: () => now });
    const ps = peers(2, 2);
    expect(req.toAsk(ps, 0, false).map((p) => p.id)).toEqual(['actor-0', 'actor-1']);
    req.answered('actor-1'); // actor-0 never answers and stops beating; actor-1 beats on
    const beat = () => (ps[1]!.lastSeen = now);
    now = 4000;
    beat();
    expect(req.toAsk(ps, 2, false)).toEqual([]); // actor-0's columns may still be on their way
    now = 5001;
    beat();
    expect(req.toAsk(ps, 2, false).map((p) => p.id)).toEqual(['actor-1']);
    req.answered('actor-1');
    expect(req.toAsk(ps, 2, false).map((p) => p.id)).toEqual(['actor-1']); // never the silent one
    // a live actor slow to answer (starting its environments) is not asked twice: 30 s, still beating
    now = 40_000;
    const slow = peers(4);
    slow[0]!.lastSeen = now;
    const live = new UnrollRequests({ batch: 4, maxPolicyLag: 0, now: () => now });
    expect(live.toAsk(slow, 0, false)).toHaveLength(1);
    now = 70_000;
    slow[0]!.lastSeen = now;
    expect(live.toAsk(slow, 0, false)).toEqual([]);
    // an actor gone from the peer list is forgotten: only actor-0 of a new list is asked
    expect(req.toAsk([{ id: 'actor-0', columns: 2, lastSeen: now }], 0, false).map((p) => p.id)).toEqual(['actor-0', 'actor-0']);
  });

  it('an ask of a live actor unanswered past max(minPatienceMs, 3 x the slowest answer) is made again (a dropped message)', () => {
    let now = 0;
    const ps = peers(2);
    const req = new UnrollRequests({ batch: 2, maxPolicyLag: 0, minPatienceMs: 10, now: () => now });
    req.toAsk(ps, 0, false);
    now = 500;
    req.answered('actor-0');
    req.toAsk(ps, 0, false);
    ps[0]!.lastSeen = 2001;
    now = 1900;
    expect(req.toAsk(ps, 0, false)).toEqual([]);
    now = 2001;
    expect(req.toAsk(ps, 0, false)).toHaveLength(1);
  });

});

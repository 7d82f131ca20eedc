import { describe, expect, it } from 'vitest';
import { UnrollRequests } from '../../../src/runtime/unrollRequests.js';

/** Actors of these column counts, last heard of at time 0. */
const peers = (...columns: number[]) => columns.map((c, i) => ({ id: `actor-${i}`, columns: c, lastSeen: 0 }));

/** A seeded uniform draw in [lo, hi). */
function uniform(seed: number) {
  return ([lo, hi]: readonly [number, number]) => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return lo + ((hi - lo) * seed) / 2147483648;
  };
}

/**
 * The learner process's flow control in simulated time (seconds): actors play one unroll per ask, in
 * order, each taking `play` seconds (drawn per unroll) with the newest parameters they hold; every
 * actor beats each second (the learner asks on every message); the learner trains B columns, oldest
 * parameters first, for `train` seconds, and waits when `awaits` says so. Returns the lag of every
 * trained column, the unrolls dropped as stale and the share of the time the learner trained.
 */
function simulate(o: {
  batch: number;
  maxPolicyLag: number;
  columns: number[];
  updates: number;
  play: [number, number];
  train: [number, number];
  seed?: number;
  /** One unroll of `actor` started after `at` s takes `seconds` longer (a map compile). */
  stall?: { actor: number; at: number; seconds: number };
}) {
  const draw = uniform(o.seed ?? 1);
  const L = o.maxPolicyLag;
  let now = 0;
  const req = new UnrollRequests({ batch: o.batch, maxPolicyLag: L, now: () => now * 1000 });
  const ps = peers(...o.columns);
  const actors = ps.map(() => ({ asks: 0, played: 0, newest: 0, playing: false }));
  const events: { t: number; run: () => void }[] = [];
  const at = (t: number, run: () => void) => {
    events.push({ t, run });
    events.sort((a, b) => a.t - b.t);
  };
  let version = 0;
  let training = false;
  let busy = 0;
  let stale = 0;
  const lags: number[] = [];
  let queue: { version: number; columns: number }[] = [];
  const queued = () => queue.reduce((n, e) => n + e.columns, 0);
  const play = (i: number) => {
    const a = actors[i]!;
    if (a.playing || a.asks === a.played) return;
    a.playing = true;
    const v = a.newest;
    let took = draw(o.play);
    if (o.stall?.actor === i && now >= o.stall.at) {
      took += o.stall.seconds;
      o = { ...o, stall: undefined };
    }
    at(now + took, () => {
      a.playing = false;
      a.played++;
      arrive(i, v);
      play(i);
    });
  };
  const send = (i: number, v: number) => {
    actors[i]!.asks++;
    actors[i]!.newest = Math.max(actors[i]!.newest, v);
    play(i);
  };
  const ask = () => {
    for (const p of req.toAsk(ps, queued(), training, version)) send(ps.indexOf(p), version);
  };
  const arrive = (i: number, v: number) => {
    req.answered(ps[i]!.id);
    if (version - v > L) stale++;
    else queue.push({ version: v, columns: ps[i]!.columns });
    ask();
    train();
  };
  const train = () => {
    if (training || version === o.updates || req.awaits(ps, version)) return;
    stale += queue.filter((e) => version - e.version > L).length;
    queue = queue.filter((e) => version - e.version <= L).sort((a, b) => a.version - b.version);
    const taken: typeof queue = [];
    let n = 0;
    for (const e of queue) {
      if (n + e.columns > o.batch) continue;
      taken.push(e);
      n += e.columns;
      if (n === o.batch) break;
    }
    if (n < o.batch) return ask();
    queue = queue.filter((e) => !taken.includes(e));
    for (const e of taken) for (let c = 0; c < e.columns; c++) lags.push(version - e.version);
    training = true;
    ask();
    const d = draw(o.train);
    busy += d;
    at(now + d, () => {
      version++;
      training = false;
      ask();
      train();
    });
  };
  const beat = () => {
    for (const p of ps) p.lastSeen = now * 1000;
    ask();
    train();
    at(now + 1, beat);
  };
  ask(); // the answers to the actors' hellos carry parameters and ask for nothing
  at(1, beat);
  while (version < o.updates) {
    const e = events.shift()!;
    now = e.t;
    e.run();
  }
  return { lags, stale, training: busy / now };
}

describe('UnrollRequests: the learner asks for what it can train within the lag bound', () => {
  it.each([
    [1, [2, 2]],
    [1, [4]],
    [2, [2, 2]],
    [1, [2, 2, 2, 2, 2, 2, 2, 2]], // more actors than a batch needs
    [0, [1, 1, 1, 1]],
  ])('L = %i, actors of %j columns far faster than the learner, batch 4: no column older than L, the learner never waits', (L, columns) => {
    const { lags, stale, training } = simulate({ batch: 4, maxPolicyLag: L, columns, updates: 50, play: [0.01, 0.02], train: [1, 1] });
    expect(lags).toHaveLength(50 * 4);
    expect(Math.max(...lags)).toBe(L); // at the bound: acting stays L batches ahead of learning
    expect(stale).toBe(0);
    expect(training).toBeGreaterThan(L ? 0.99 : 0.95);
  });

  it.each([
    [1, [2, 2]],
    [1, [1, 1, 1, 1]],
    [2, [1, 1, 1, 1]],
    [1, [2, 2, 2]],
  ])('L = %i, actors of %j columns whose unrolls take 0.5-3 s against updates of 1-2 s: answers out of order, nothing goes stale', (L, columns) => {
    // before `awaits` and oldest-first batches, 4-8% of these unrolls went stale (a fast actor's later
    // answers filled the batch a slow actor's earlier one needed)
    for (let seed = 1; seed <= 20; seed++) {
      const { lags, stale } = simulate({ batch: 4, maxPolicyLag: L, columns, updates: 40, play: [0.5, 3], train: [1, 2], seed });
      expect(stale).toBe(0);
      expect(Math.max(...lags)).toBeLessThanOrEqual(L);
    }
  });

  it('one actor held up 30 s (a map compile) does not stop the others: its unroll goes stale, the learner trains on', () => {
    const { stale, training } = simulate({ batch: 4, maxPolicyLag: 1, columns: [2, 2, 2], updates: 60, play: [0.2, 0.4], train: [1, 1], stall: { actor: 0, at: 10, seconds: 30 } });
    expect(stale).toBeGreaterThan(0);
    expect(training).toBeGreaterThan(0.9); // waiting it out would have left ~30 of ~90 s idle
  });

  it('asks each peer in turn when more actors are at hand than a batch needs', () => {
    const req = new UnrollRequests({ batch: 2, maxPolicyLag: 1, now: () => 0 });
    const ps = peers(2, 2, 2);
    const asked: string[] = [];
    for (let u = 0; u < 3; u++) {
      const a = req.toAsk(ps, 0, false, 0);
      asked.push(...a.map((p) => p.id));
      for (const p of a) req.answered(p.id);
    }
    expect(asked).toEqual(['actor-0', 'actor-1', 'actor-2', 'actor-0', 'actor-1', 'actor-2']);
  });

  it("a silent actor's asks are presumed lost and it is asked no more; a live one is waited for however long its answer takes", () => {
    let now = 0;
    const lost: string[] = [];
    const req = new UnrollRequests({ batch: 4, maxPolicyLag: 0, silentMs: 5000, now: () => now, onLost: (k, n, why) => lost.push(`${k} ${n} ${why}`) });
    const ps = peers(2, 2);
    expect(req.toAsk(ps, 0, false, 0).map((p) => p.id)).toEqual(['actor-0', 'actor-1']);
    req.answered('actor-1'); // actor-0 never answers and stops beating; actor-1 beats on
    const beat = () => (ps[1]!.lastSeen = now);
    now = 4000;
    beat();
    expect(req.toAsk(ps, 2, false, 0)).toEqual([]); // actor-0's columns may still be on their way
    now = 5001;
    beat();
    expect(req.toAsk(ps, 2, false, 0).map((p) => p.id)).toEqual(['actor-1']);
    expect(lost).toEqual(['actor-0 1 silent']);
    req.answered('actor-1');
    expect(req.toAsk(ps, 2, false, 0).map((p) => p.id)).toEqual(['actor-1']); // never the silent one
    // a live actor slow to answer (starting its environments) is not asked twice: 30 s, still beating
    now = 40_000;
    const slow = peers(4);
    slow[0]!.lastSeen = now;
    const live = new UnrollRequests({ batch: 4, maxPolicyLag: 0, now: () => now });
    expect(live.toAsk(slow, 0, false, 0)).toHaveLength(1);
    now = 70_000;
    slow[0]!.lastSeen = now;
    expect(live.toAsk(slow, 0, false, 0)).toEqual([]);
    // an actor gone from the peer list is forgotten: only actor-0 of a new list is asked
    expect(req.toAsk([{ id: 'actor-0', columns: 2, lastSeen: now }], 0, false, 0).map((p) => p.id)).toEqual(['actor-0', 'actor-0']);
  });

  it('an ask of a live actor unanswered past max(minPatienceMs, 3 x the slowest answer) is made again (a dropped message)', () => {
    let now = 0;
    const ps = peers(2);
    const lost: string[] = [];
    const req = new UnrollRequests({ batch: 2, maxPolicyLag: 0, minPatienceMs: 10, now: () => now, onLost: (k, n, why) => lost.push(`${k} ${n} ${why}`) });
    req.toAsk(ps, 0, false, 0);
    now = 500;
    req.answered('actor-0');
    req.toAsk(ps, 0, false, 0);
    ps[0]!.lastSeen = 2001;
    now = 1900;
    expect(req.toAsk(ps, 0, false, 0)).toEqual([]);
    now = 2001;
    expect(req.toAsk(ps, 0, false, 0)).toHaveLength(1);
    expect(lost).toEqual(['actor-0 1 unanswered']);
  });

  it('awaits an unroll asked with parameters exactly L versions old (trainable now, stale after), and no other', () => {
    let now = 0;
    const ps = peers(2, 2);
    const req = new UnrollRequests({ batch: 4, maxPolicyLag: 1, now: () => now });
    expect(req.toAsk(ps, 0, false, 3)).toHaveLength(4);
    now = 100;
    req.answered('actor-0'); // answers take 100 ms
    expect(req.awaits(ps, 3)).toBe(false); // asked at the learner's version: it may come next time
    expect(req.awaits(ps, 4)).toBe(true);
    expect(req.awaits(ps, 5)).toBe(false); // already stale: waiting would buy nothing
    req.answered('actor-0');
    expect(req.awaits(ps, 4)).toBe(true); // actor-1's two are still on their way
    // actor-1 held up (a map compile): waited for up to 5x the typical answer, then the batch goes without
    now = 499;
    expect(req.awaits(ps, 4)).toBe(true);
    now = 501;
    expect(req.awaits(ps, 4)).toBe(false);
    for (const _ of [0, 1]) req.answered('actor-1');
    expect(req.awaits(ps, 4)).toBe(false);
  });
});

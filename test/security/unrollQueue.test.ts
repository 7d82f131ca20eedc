import { describe, expect, it } from 'vitest';
import type { Unroll } from '../../agents/agent.js';
import type { Rejection } from '../../src/runtime/rejections.js';
import { UnrollQueue } from '../../src/runtime/unrollQueue.js';
import { decode, encode } from '../../src/transport/codec.js';
import { EPISODE, SHAPE, unrollMessage, validUnroll } from './helpers.js';

/** Red-team cases of issue 10 (items 1, 2, 3, 14 and the policy-lag bound): each must be refused for its reason. */
function queue(opts: Partial<ConstructorParameters<typeof UnrollQueue>[0]> = {}) {
  return new UnrollQueue({ ...SHAPE, batch: 4, maxPolicyLag: 1, maxEpisodeLength: 100, ...opts });
}

const withArray = <K extends keyof Unroll>(u: Unroll, key: K, f: (a: Unroll[K]) => void): Unroll => {
  const copy = structuredClone(u);
  f(copy[key]);
  return copy;
};

describe('UnrollQueue.accept: every check before an unroll can reach a batch', () => {
  it('accepts a valid unroll', () => {
    const q = queue();
    expect(q.accept('a', unrollMessage(validUnroll(2)), 2, 0)).toBeUndefined();
    expect(q.columns).toBe(2);
  });

  it.each([
    ['a NaN reward', (u: Unroll) => withArray(u, 'prevRewards', (a) => (a[3] = Number.NaN)), 'non_finite', /prevRewards\[3\] = NaN/],
    ['+Inf behaviour logits', (u: Unroll) => withArray(u, 'behaviourLogits', (a) => (a[0] = Number.POSITIVE_INFINITY)), 'non_finite', /behaviourLogits\[0\] = Infinity/],
    ['a NaN initial LSTM state', (u: Unroll) => withArray(u, 'initialState', (s) => (s.c[5] = Number.NaN)), 'non_finite', /initialState.c\[5\]/],
    ['firsts = 7', (u: Unroll) => withArray(u, 'firsts', (a) => (a[2] = 7)), 'bad_flag', /firsts\[2\] = 7/],
    ['an action outside the action set', (u: Unroll) => withArray(u, 'actions', (a) => (a[1] = 9)), 'bad_action', /actions\[1\] = 9/],
    ['a negative previous action', (u: Unroll) => withArray(u, 'prevActions', (a) => (a[0] = -1)), 'bad_action', /prevActions\[0\] = -1/],
  ])('refuses %s', (_, corrupt, reason, detail) => {
    const q = queue();
    const r = q.accept('a', unrollMessage(corrupt(validUnroll(2))), 2, 0);
    expect(r).toMatchObject({ reason, detail: expect.stringMatching(detail) });
    expect(q.columns).toBe(0);
  });

  it('refuses a column count other than the peer announced: B = 0, 64 columns at batch 4', () => {
    const q = queue();
    expect(q.accept('a', unrollMessage(validUnroll(64)), 2, 0)).toMatchObject({ reason: 'bad_columns', detail: 'unroll of 64 columns, its hello announced 2' });
    // B = 0 decodes (every array is empty) but never reaches the agent
    const m = unrollMessage(validUnroll(1), { episodes: [] });
    for (const a of [m.observations, m.prevActions, m.prevRewards, m.firsts, m.actions, m.behaviourLogits]) {
      a.shape[1] = 0;
      a.data = new Uint8Array(0);
    }
    for (const a of [m.initialState.h, m.initialState.c]) {
      a.shape[0] = 0;
      a.data = new Uint8Array(0);
    }
    const empty = decode(encode(m));
    expect(empty.ok).toBe(true);
    if (!empty.ok || empty.msg.type !== 'unroll') return;
    expect(q.accept('a', empty.msg, 2, 0)?.reason).toBe('bad_columns');
    expect(q.columns).toBe(0);
  });

  it('refuses untrue episode reports and versions from the future', () => {
    const q = queue();
    const u = validUnroll(2);
    const cases: [Parameters<typeof unrollMessage>[1], Rejection['reason'], RegExp][] = [
      [{ episodes: [{ ...EPISODE, episodeReturn: Number.POSITIVE_INFINITY }] }, 'bad_episode', /return Infinity/],
      [{ episodes: [{ ...EPISODE, episodeLength: 2 ** 31 }] }, 'bad_episode', /2147483648 steps, the level's last at most 100/],
      // 20,000 fake episodes, or one in a column where no episode started
      [{ episodes: Array.from({ length: 20_000 }, () => EPISODE) }, 'bad_episode', /20000 episodes ended in column 0, which starts 1/],
      [{ episodes: [{ ...EPISODE, env: 1 }] }, 'bad_episode', /1 episodes ended in column 1, which starts 0/],
      [{ paramsVersion: 2 ** 50 }, 'future_version', /v1125899906842624, the learner is at v3/],
    ];
    for (const [meta, reason, detail] of cases) expect(q.accept('a', unrollMessage(u, { paramsVersion: 3, ...meta }), 2, 3)).toMatchObject({ reason, detail: expect.stringMatching(detail) });
    expect(q.columns).toBe(0);
  });

  it('refuses an unroll already older than the lag bound on arrival', () => {
    expect(queue({ maxPolicyLag: 0 }).accept('a', unrollMessage(validUnroll(2), { paramsVersion: 4 }), 2, 5)?.reason).toBe('stale');
    expect(queue({ maxPolicyLag: 1 }).accept('a', unrollMessage(validUnroll(2), { paramsVersion: 4 }), 2, 5)).toBeUndefined();
  });

  it('a stale unroll keeps its episodes (true play, only too old to train on); a stale one that lies about them loses them', () => {
    const q = queue({ maxPolicyLag: 0 });
    expect(q.accept('a', unrollMessage(validUnroll(2), { paramsVersion: 4 }), 2, 5)).toMatchObject({ reason: 'stale', episodes: [EPISODE] });
    const lie = unrollMessage(validUnroll(2), { paramsVersion: 4, episodes: [{ ...EPISODE, episodeReturn: Number.NaN }] });
    expect(q.accept('a', lie, 2, 5)).toMatchObject({ reason: 'bad_episode' });
  });
});

describe('UnrollQueue.takeBatch: exactly B columns within the lag bound, checked when the batch is taken', () => {
  it('waits for B columns, then takes them oldest first with their episodes shifted and the mean lag', () => {
    const q = queue({ batch: 4, maxPolicyLag: 2 });
    q.accept('a', unrollMessage(validUnroll(2), { paramsVersion: 3 }), 2, 3);
    expect(q.takeBatch(3, () => {})).toBeUndefined();
    q.accept('b', unrollMessage(validUnroll(2), { paramsVersion: 4 }), 2, 4);
    const b = q.takeBatch(5, () => {})!;
    expect(b.unroll.B).toBe(4);
    expect(b.episodes.map((e) => e.env)).toEqual([0, 2]);
    expect(b.policyLag).toBe((2 * 2 + 1 * 2) / 4);
    expect(b.maxLag).toBe(2);
    expect(q.columns).toBe(0);
  });

  it('columns that complete no batch do not block the queue', () => {
    const q = queue({ batch: 6, maxPolicyLag: 0 });
    for (const B of [3, 2, 2]) q.accept('a', unrollMessage(validUnroll(B)), B, 0);
    const dropped: string[] = [];
    expect(q.takeBatch(0, (_, r) => dropped.push(r.detail))).toBeUndefined();
    expect(dropped).toEqual(['its 3 columns complete no batch of 6']);
    q.accept('b', unrollMessage(validUnroll(2)), 2, 0);
    expect(q.takeBatch(0, () => {})?.unroll.B).toBe(6);
  });

  it('sync: an unroll of version v queued during the update v -> v+1 is dropped, not trained at v+1', () => {
    const q = queue({ batch: 4, maxPolicyLag: 0 });
    q.accept('a', unrollMessage(validUnroll(2), { paramsVersion: 7 }), 2, 7);
    q.accept('b', unrollMessage(validUnroll(2), { paramsVersion: 7 }), 2, 7);
    const stale: string[] = [];
    expect(q.takeBatch(8, (from, r) => stale.push(`${from} ${r.reason}`))).toBeUndefined();
    expect(stale).toEqual(['a stale', 'b stale']);
    expect(q.columns).toBe(0);
    // their episodes still count: the actors did play them
    const episodes: number[] = [];
    expect(q.accept('a', unrollMessage(validUnroll(2), { paramsVersion: 8 }), 2, 8)).toBeUndefined();
    q.takeBatch(9, (_, r) => episodes.push(...(r.episodes ?? []).map((e) => e.episodeReturn)));
    expect(episodes).toEqual([EPISODE.episodeReturn]);
  });

  it('async: no trained column is older than L versions, however many wait', () => {
    const L = 1;
    const q = queue({ batch: 2, maxPolicyLag: L });
    let version = 0;
    let dropped = 0;
    const lags: number[] = [];
    // fast actors: every version, three unrolls arrive, played by the parameters of 0-2 versions ago
    for (let step = 0; step < 30; step++) {
      for (const behind of [0, 1, 2]) {
        if (q.full) break; // the receiver stops reading
        if (version - behind >= 0) q.accept('a', unrollMessage(validUnroll(2), { paramsVersion: version - behind }), 2, version);
      }
      const b = q.takeBatch(version, () => dropped++);
      if (b) {
        lags.push(b.maxLag);
        version++;
      }
    }
    expect(lags.length).toBeGreaterThan(10);
    expect(Math.max(...lags)).toBeLessThanOrEqual(L);
    expect(q.columns).toBeLessThanOrEqual((L + 1) * 2); // what the learner may have asked for
  });

  it('async: an unroll that arrived after newer ones is trained first (behind them it would go stale)', () => {
    const q = queue({ batch: 2, maxPolicyLag: 1 });
    q.accept('fast', unrollMessage(validUnroll(2), { paramsVersion: 5 }), 2, 5);
    q.accept('slow', unrollMessage(validUnroll(2), { paramsVersion: 4 }), 2, 5);
    expect(q.full).toBe(true); // (L + 1) B columns
    const stale: string[] = [];
    expect(q.takeBatch(5, (from) => stale.push(from))?.policyLag).toBe(1);
    expect(q.takeBatch(6, (from) => stale.push(from))?.policyLag).toBe(1);
    expect(stale).toEqual([]);
  });
});

import type { Unroll } from '../../agents/agent.js';
import type { EpisodeStat } from '../actor.js';
import { fromWire, toWire } from '../transport/codec.js';
import type { MessageOf } from '../transport/messages.js';
import type { Rejection } from './rejections.js';

/** Between `Unroll`s (plain arrays the agent trains on) and `unroll` / `params` wire messages. */

export type UnrollMessage = MessageOf<'unroll'>;
export type ParamsMessage = MessageOf<'params'>;

export function unrollToMessage(
  u: Unroll,
  obsShape: readonly number[],
  meta: { actorId: string; seq: number; paramsVersion: number; episodes: EpisodeStat[] },
): UnrollMessage {
  const { T, B } = u;
  const A = u.behaviourLogits.length / (T * B);
  const L = u.initialState.h.length / B;
  return {
    type: 'unroll',
    ...meta,
    observations: toWire(u.observations, [T + 1, B, ...obsShape]),
    prevActions: toWire(u.prevActions, [T + 1, B]),
    prevRewards: toWire(u.prevRewards, [T + 1, B]),
    firsts: toWire(u.firsts, [T + 1, B]),
    actions: toWire(u.actions, [T, B]),
    behaviourLogits: toWire(u.behaviourLogits, [T, B, A]),
    initialState: { h: toWire(u.initialState.h, [B, L]), c: toWire(u.initialState.c, [B, L]) },
  };
}

/** Expected shapes the learner checks received unrolls against. */
export interface UnrollShape {
  T: number;
  obsShape: readonly number[];
  numActions: number;
  lstmSize: number;
}

/**
 * The unroll of a (schema-valid) message, or the specific reason it must not reach a batch: another
 * level, unroll length or network (the shapes), an action outside the action set, a `firsts` flag
 * other than 0/1, or a non-finite reward, logit or LSTM state (one NaN would make every parameter
 * NaN after the update).
 */
export function unrollFromMessage(m: UnrollMessage, want: UnrollShape): { ok: true; unroll: Unroll; episodes: EpisodeStat[] } | ({ ok: false } & Rejection) {
  const bad = (reason: Rejection['reason'], detail: string) => ({ ok: false as const, reason, detail });
  const [T1 = 0, B = 0, ...obs] = m.observations.shape;
  if (T1 !== want.T + 1) return bad('bad_shape', `unroll of ${T1 - 1} steps, the learner trains on T = ${want.T}`);
  if (B < 1) return bad('bad_shape', 'unroll of 0 columns');
  if (obs.join('x') !== want.obsShape.join('x')) return bad('bad_shape', `observations of ${obs.join('x')}, expected ${want.obsShape.join('x')}`);
  if (m.behaviourLogits.shape[2] !== want.numActions) return bad('bad_shape', `${m.behaviourLogits.shape[2]} actions, expected ${want.numActions}`);
  if (m.initialState.h.shape[1] !== want.lstmSize) return bad('bad_shape', `LSTM state of ${m.initialState.h.shape[1]}, expected ${want.lstmSize}`);
  const unroll: Unroll = {
    T: want.T,
    B,
    observations: fromWire(m.observations),
    prevActions: fromWire(m.prevActions),
    prevRewards: fromWire(m.prevRewards),
    firsts: fromWire(m.firsts),
    actions: fromWire(m.actions),
    behaviourLogits: fromWire(m.behaviourLogits),
    initialState: { h: fromWire(m.initialState.h), c: fromWire(m.initialState.c) },
  };
  for (const [field, a] of [['actions', unroll.actions], ['prevActions', unroll.prevActions]] as const) {
    const i = a.findIndex((x) => x < 0 || x >= want.numActions);
    if (i >= 0) return bad('bad_action', `${field}[${i}] = ${a[i]} outside [0, ${want.numActions})`);
  }
  const f = unroll.firsts.findIndex((x) => x > 1);
  if (f >= 0) return bad('bad_flag', `firsts[${f}] = ${unroll.firsts[f]}, expected 0 or 1`);
  for (const [field, a] of [['prevRewards', unroll.prevRewards], ['behaviourLogits', unroll.behaviourLogits], ['initialState.h', unroll.initialState.h], ['initialState.c', unroll.initialState.c]] as const) {
    const i = firstNonFinite(a);
    if (i >= 0) return bad('non_finite', `${field}[${i}] = ${a[i]}`);
  }
  return { ok: true, unroll, episodes: m.episodes };
}

function firstNonFinite(a: Float32Array): number {
  for (let i = 0; i < a.length; i++) if (!Number.isFinite(a[i])) return i;
  return -1;
}

/**
 * An upper bound of the encoded size of an unroll message of `columns` columns (ZeroMQ's maximum
 * message size on the learner's socket): the arrays, at most one episode report per step and
 * column, and the keys, shapes and id.
 */
export function maxUnrollBytes(want: UnrollShape, columns: number): number {
  const { T, numActions: A, lstmSize: L } = want;
  const obs = want.obsShape.reduce((n, d) => n * d, 1);
  const arrays = (T + 1) * columns * (obs + 4 + 4 + 1) + T * columns * (4 + 4 * A) + 2 * columns * L * 4;
  return arrays + T * columns * 64 + 4096;
}

/** An upper bound of the encoded size of a params message of these tensors (the actor's socket limit). */
export function maxParamsBytes(shapes: Record<string, readonly number[]>): number {
  return Object.entries(shapes).reduce((n, [name, shape]) => n + 4 * shape.reduce((a, d) => a * d, 1) + name.length + 64 + 10 * shape.length, 4096);
}

/** Concatenates unrolls of the same T along the batch axis (time-major arrays interleave per step). */
export function concatUnrolls(us: Unroll[]): Unroll {
  const [first] = us;
  if (!first) throw new Error('concatUnrolls: no unrolls');
  if (us.length === 1) return first;
  const T = first.T;
  if (us.some((u) => u.T !== T)) throw new Error('concatUnrolls: unrolls of different lengths');
  const B = us.reduce((n, u) => n + u.B, 0);
  // [S, b, ...inner] blocks of each unroll into [S, B, ...inner]
  const cat = <A extends Uint8Array | Int32Array | Float32Array>(pick: (u: Unroll) => A, S: number, make: (n: number) => A): A => {
    const inner = pick(first).length / (S * first.B);
    const out = make(S * B * inner);
    let col = 0;
    for (const u of us) {
      const src = pick(u);
      for (let t = 0; t < S; t++) out.set(src.subarray(t * u.B * inner, (t + 1) * u.B * inner), (t * B + col) * inner);
      col += u.B;
    }
    return out;
  };
  const rows = <A extends Float32Array>(pick: (u: Unroll) => A): A => cat(pick, 1, (n) => new Float32Array(n) as A);
  return {
    T,
    B,
    observations: cat((u) => u.observations, T + 1, (n) => new Uint8Array(n)),
    prevActions: cat((u) => u.prevActions, T + 1, (n) => new Int32Array(n)),
    prevRewards: cat((u) => u.prevRewards, T + 1, (n) => new Float32Array(n)),
    firsts: cat((u) => u.firsts, T + 1, (n) => new Uint8Array(n)),
    actions: cat((u) => u.actions, T, (n) => new Int32Array(n)),
    behaviourLogits: cat((u) => u.behaviourLogits, T, (n) => new Float32Array(n)),
    initialState: { h: rows((u) => u.initialState.h), c: rows((u) => u.initialState.c) },
  };
}

export function paramsToMessage(weights: Record<string, Float32Array>, shapes: Record<string, readonly number[]>, version: number): ParamsMessage {
  const tensors = Object.entries(weights).map(([name, w]) => {
    const shape = shapes[name];
    if (!shape) throw new Error(`paramsToMessage: no shape for '${name}'`);
    return { name, array: toWire(w, shape) };
  });
  return { type: 'params', version, tensors };
}

export function weightsFromParams(m: ParamsMessage): Record<string, Float32Array> {
  return Object.fromEntries(m.tensors.map((t) => [t.name, fromWire(t.array)]));
}

import type { Unroll } from '../../agents/agent.js';

/** A contiguous share of a batch's columns: columns start..start+count-1. */
export interface ColumnShare {
  start: number;
  count: number;
}

/** Splits B columns into n contiguous shares as equal as possible (the first B mod n get one more). */
export function columnShares(B: number, n: number): ColumnShare[] {
  if (!Number.isInteger(n) || n < 1 || n > B) throw new Error(`cannot split a batch of ${B} columns into ${n} shares (1..${B})`);
  const shares: ColumnShare[] = [];
  for (let i = 0, start = 0; i < n; i++) {
    const count = Math.floor(B / n) + (i < B % n ? 1 : 0);
    shares.push({ start, count });
    start += count;
  }
  return shares;
}

/**
 * Copies every time step's columns start..start+count-1 of an array laid out [S, B, inner], into
 * `into` when it has the right length (a fresh array is faulted in page by page: for a batch's
 * frames that costs more than the copy).
 */
function sliceTimeMajor<A extends Uint8Array | Int32Array | Float32Array>(a: A, S: number, B: number, { start, count }: ColumnShare, into?: A): A {
  const inner = a.length / (S * B);
  const n = S * count * inner;
  const out = into?.length === n ? into : new (a.constructor as new (n: number) => A)(n);
  for (let t = 0; t < S; t++) out.set(a.subarray((t * B + start) * inner, (t * B + start + count) * inner), t * count * inner);
  return out;
}

/**
 * The unroll of columns `share` of a batch (a learner thread's part of it), written into the arrays
 * of `into` where they fit (a previous slice the caller no longer uses), else into fresh ones.
 */
export function sliceColumns(u: Unroll, share: ColumnShare, into?: Unroll): Unroll {
  const { T, B } = u;
  if (share.start < 0 || share.count < 1 || share.start + share.count > B) throw new Error(`columns ${share.start}..${share.start + share.count - 1} are not in a batch of ${B}`);
  return {
    T,
    B: share.count,
    observations: sliceTimeMajor(u.observations, T + 1, B, share, into?.observations),
    prevActions: sliceTimeMajor(u.prevActions, T + 1, B, share, into?.prevActions),
    prevRewards: sliceTimeMajor(u.prevRewards, T + 1, B, share, into?.prevRewards),
    firsts: sliceTimeMajor(u.firsts, T + 1, B, share, into?.firsts),
    actions: sliceTimeMajor(u.actions, T, B, share, into?.actions),
    behaviourLogits: sliceTimeMajor(u.behaviourLogits, T, B, share, into?.behaviourLogits),
    initialState: { h: sliceTimeMajor(u.initialState.h, 1, B, share, into?.initialState.h), c: sliceTimeMajor(u.initialState.c, 1, B, share, into?.initialState.c) },
  };
}

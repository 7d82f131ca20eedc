import type { EpisodeStat } from '../actor.js';

/**
 * Why the learner dropped a message or an unroll. Every reason is counted; the counts go into
 * every update record of metrics.jsonl (`dropped`) and the progress line.
 */
export const REJECT_REASONS = [
  /** The frame did not decode (not msgpack, schema, size, ...; the codec's code is in the log). */
  'malformed',
  /** A message other than hello from a socket that has not said a valid hello. */
  'not_a_peer',
  /** A hello with a wrong token, role, id or column count. */
  'bad_hello',
  /** A message type the learner does not serve. */
  'unexpected_message',
  /** An unroll or heartbeat whose sequence number is not above the peer's last one. */
  'duplicate_seq',
  /** An unroll whose column count differs from its peer's hello. */
  'bad_columns',
  /** An unroll of another unroll length, observation shape, action count or LSTM size. */
  'bad_shape',
  /** A NaN or infinite reward, logit or LSTM state. */
  'non_finite',
  /** A `firsts` entry other than 0 or 1. */
  'bad_flag',
  /** An action outside the action set. */
  'bad_action',
  /** An episode report with a non-finite return or an impossible length. */
  'bad_episode',
  /** An unroll claiming parameters newer than the learner's. */
  'future_version',
  /** An unroll older than the policy-lag bound (on arrival, or when its batch was taken). */
  'stale',
] as const;
export type RejectReason = (typeof REJECT_REASONS)[number];

export interface Rejection {
  reason: RejectReason;
  detail: string;
  /** A stale unroll's episodes: played by a valid policy, only too old to train on, so they still count. */
  episodes?: EpisodeStat[];
}

/** Log lines per reason: all of the first 20, then one in 1000, so a flood cannot fill a disk. */
const LOG_FIRST = 20;
const LOG_EVERY = 1000;

/** Counts rejections per reason and logs them (rate-limited). */
export class Rejections {
  readonly counts: Record<RejectReason, number> = Object.fromEntries(REJECT_REASONS.map((r) => [r, 0])) as Record<RejectReason, number>;

  constructor(private readonly log: (line: string) => void) {}

  add(from: string, r: Rejection, n = 1): void {
    const before = this.counts[r.reason];
    this.counts[r.reason] += n;
    if (before < LOG_FIRST || Math.floor(before / LOG_EVERY) !== Math.floor(this.counts[r.reason] / LOG_EVERY)) {
      this.log(`learner: dropped ${n > 1 ? `${n} unrolls` : 'a message'} from ${from.slice(0, 64)}: ${r.reason}: ${r.detail} (${this.counts[r.reason]} ${r.reason} so far)`);
    }
  }

  get total(): number {
    return REJECT_REASONS.reduce((n, r) => n + this.counts[r], 0);
  }

  /** The non-zero counts (what the metrics record). */
  nonZero(): Partial<Record<RejectReason, number>> {
    return Object.fromEntries(REJECT_REASONS.filter((r) => this.counts[r] > 0).map((r) => [r, this.counts[r]]));
  }
}

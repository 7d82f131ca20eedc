import type { Unroll } from '../../agents/agent.js';
import type { EpisodeStat } from '../actor.js';
import type { Rejection } from './rejections.js';
import { concatUnrolls, unrollFromMessage, type UnrollMessage, type UnrollShape } from './wire.js';

export interface UnrollQueueOptions extends UnrollShape {
  /** B: unroll columns per batch. */
  batch: number;
  /**
   * L: the oldest parameters an unroll may be trained with are `version - L` (sync: 0, every
   * unroll of a batch is played by the parameters it trains).
   */
  maxPolicyLag: number;
  /** Longest possible episode in agent steps (the level's), when known. */
  maxEpisodeLength?: number;
}

interface Entry {
  from: string;
  paramsVersion: number;
  unroll: Unroll;
  episodes: EpisodeStat[];
}

export interface Batch {
  unroll: Unroll;
  /** Episodes that ended in the batch, columns shifted to their place in it. */
  episodes: EpisodeStat[];
  /** Mean over the batch's columns of (learner version - version that played the column). */
  policyLag: number;
  maxLag: number;
}

/**
 * The learner's unrolls between receipt and training. `accept` runs every check an unroll must pass
 * before it can reach a batch; `takeBatch` drops what has grown older than the lag bound while it
 * waited (so an unroll of version v arriving during the update v -> v+1 is not trained at v+1 in
 * sync mode) and returns exactly B columns, those played by the oldest parameters first. It holds at
 * most (L + 1) B columns, what the learner may have asked for (async; sync: B); the receiver stops
 * reading while `full`.
 */
export class UnrollQueue {
  private entries: Entry[] = [];

  constructor(private readonly opts: UnrollQueueOptions) {}

  get columns(): number {
    return this.entries.reduce((n, e) => n + e.unroll.B, 0);
  }

  get full(): boolean {
    return this.columns >= (this.opts.maxPolicyLag + 1) * this.opts.batch;
  }

  /**
   * Checks an unroll from a peer that announced `columns` columns against the learner at `version`;
   * queues it or says why not (a stale one only after every other check, so its episodes can count).
   */
  accept(from: string, msg: UnrollMessage, columns: number, version: number): Rejection | undefined {
    if (msg.paramsVersion > version) return { reason: 'future_version', detail: `parameters v${msg.paramsVersion}, the learner is at v${version}` };
    const B = msg.observations.shape[1];
    if (B !== columns) return { reason: 'bad_columns', detail: `unroll of ${B} columns, its hello announced ${columns}` };
    const r = unrollFromMessage(msg, this.opts);
    if (!r.ok) return r;
    const bad = badEpisode(r.episodes, r.unroll, this.opts.maxEpisodeLength);
    if (bad) return { reason: 'bad_episode', detail: bad };
    if (version - msg.paramsVersion > this.opts.maxPolicyLag) return this.staleness(msg.paramsVersion, version, r.episodes);
    this.entries.push({ from, paramsVersion: msg.paramsVersion, unroll: r.unroll, episodes: r.episodes });
    return undefined;
  }

  /**
   * B columns for the learner at `version`, oldest parameters first (an unroll that waited behind
   * newer ones would go stale), or undefined while fewer than B fresh
   * columns are queued. `onStale` hears of each unroll dropped for its age.
   */
  takeBatch(version: number, onStale: (from: string, r: Rejection) => void): Batch | undefined {
    this.entries = this.entries.filter((e) => {
      if (version - e.paramsVersion <= this.opts.maxPolicyLag) return true;
      onStale(e.from, this.staleness(e.paramsVersion, version, e.episodes));
      return false;
    });
    const taken: Entry[] = [];
    let n = 0;
    for (const e of [...this.entries].sort((a, b) => a.paramsVersion - b.paramsVersion)) {
      if (n + e.unroll.B > this.opts.batch) continue;
      taken.push(e);
      n += e.unroll.B;
      if (n === this.opts.batch) break;
    }
    if (n < this.opts.batch) {
      // peers of different column counts can hold a batch's worth that no subset completes: the
      // oldest goes, or the receiver (paused while full) would wait forever
      if (this.full) {
        const e = this.entries.shift()!;
        onStale(e.from, { reason: 'stale', detail: `its ${e.unroll.B} columns complete no batch of ${this.opts.batch}`, episodes: e.episodes });
      }
      return undefined;
    }
    this.entries = this.entries.filter((e) => !taken.includes(e));
    const episodes: EpisodeStat[] = [];
    let col = 0;
    let lagSum = 0;
    let maxLag = 0;
    for (const e of taken) {
      for (const ep of e.episodes) episodes.push({ ...ep, env: ep.env + col });
      col += e.unroll.B;
      lagSum += (version - e.paramsVersion) * e.unroll.B;
      maxLag = Math.max(maxLag, version - e.paramsVersion);
    }
    return { unroll: concatUnrolls(taken.map((e) => e.unroll)), episodes, policyLag: lagSum / this.opts.batch, maxLag };
  }

  private staleness(paramsVersion: number, version: number, episodes: EpisodeStat[]): Rejection {
    return { reason: 'stale', detail: `parameters v${paramsVersion}, ${version - paramsVersion} versions behind v${version} (bound ${this.opts.maxPolicyLag})`, episodes };
  }
}

/**
 * Why an unroll's episode reports cannot be true, or undefined: a non-finite return, a length
 * beyond the level's episodes, or more episodes in a column than episode starts in it.
 */
function badEpisode(episodes: EpisodeStat[], u: Unroll, maxLength: number | undefined): string | undefined {
  const ends = new Int32Array(u.B);
  for (const e of episodes) {
    if (!Number.isFinite(e.episodeReturn)) return `episode return ${e.episodeReturn}`;
    if (maxLength !== undefined && e.episodeLength > maxLength) return `episode of ${e.episodeLength} steps, the level's last at most ${maxLength}`;
    ends[e.env]!++;
  }
  for (let b = 0; b < u.B; b++) {
    let starts = 0;
    for (let t = 1; t <= u.T; t++) starts += u.firsts[t * u.B + b]!;
    if (ends[b]! > starts) return `${ends[b]} episodes ended in column ${b}, which starts ${starts}`;
  }
  return undefined;
}

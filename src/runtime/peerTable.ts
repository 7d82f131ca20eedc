import { timingSafeEqual } from 'node:crypto';
import type { MessageOf } from '../transport/messages.js';
import type { Rejection } from './rejections.js';

export interface Peer {
  routingId: Buffer;
  id: string;
  /** Unroll columns of every unroll it sends (from its hello). */
  columns: number;
  lastSeen: number;
  lastUnrollSeq: number;
  lastBeatSeq: number;
}

export interface PeerTableOptions {
  /** The run's token a hello must carry; undefined when CURVE keys (ZAP) authenticate peers. */
  token: string | undefined;
  /** B: a peer's columns must divide it. */
  batch: number;
  /** A peer silent this long is forgotten (it gets no more broadcasts). */
  timeoutMs: number;
  now?: () => number;
}

/**
 * The learner's actors. A socket becomes a peer only by a valid hello (the run's token, role actor,
 * its id equal to the socket's routing id, a column count that fits the batch); until then its
 * messages are dropped and it receives nothing. Sequence numbers of unrolls and heartbeats must
 * rise; a peer silent past the timeout is forgotten.
 */
export class PeerTable {
  private readonly peers = new Map<string, Peer>();
  private readonly now: () => number;

  constructor(private readonly opts: PeerTableOptions) {
    this.now = opts.now ?? Date.now;
  }

  /** Registers (or refreshes) the peer of a hello; `isNew` when it was not a peer before. */
  hello(routingId: Buffer, msg: MessageOf<'hello'>): { peer: Peer; isNew: boolean } | Rejection {
    const key = routingId.toString('latin1');
    if (this.opts.token !== undefined && !sameToken(msg.token, this.opts.token)) return { reason: 'bad_hello', detail: 'wrong run token' };
    if (msg.role !== 'actor') return { reason: 'bad_hello', detail: `role ${msg.role}, only actors connect to a learner` };
    if (msg.id !== key) return { reason: 'bad_hello', detail: `id '${msg.id.slice(0, 64)}' differs from the socket's routing id` };
    if (msg.columns > this.opts.batch || this.opts.batch % msg.columns !== 0) {
      return { reason: 'bad_hello', detail: `${msg.columns} columns per unroll do not divide the batch of ${this.opts.batch}` };
    }
    const old = this.peers.get(key);
    if (old) {
      old.columns = msg.columns;
      old.lastSeen = this.now();
      return { peer: old, isNew: false };
    }
    const peer: Peer = { routingId, id: msg.id, columns: msg.columns, lastSeen: this.now(), lastUnrollSeq: -1, lastBeatSeq: -1 };
    this.peers.set(key, peer);
    return { peer, isNew: true };
  }

  /** The peer of a socket, if it said a valid hello and has not timed out. */
  get(routingId: Buffer): Peer | undefined {
    this.expire();
    return this.peers.get(routingId.toString('latin1'));
  }

  /** Records a message with sequence number `seq` of kind `kind`; a repeated or older one is refused. */
  sequence(peer: Peer, kind: 'unroll' | 'heartbeat', seq: number): Rejection | undefined {
    const last = kind === 'unroll' ? peer.lastUnrollSeq : peer.lastBeatSeq;
    if (seq <= last) return { reason: 'duplicate_seq', detail: `${kind} seq ${seq} after ${last}` };
    if (kind === 'unroll') peer.lastUnrollSeq = seq;
    else peer.lastBeatSeq = seq;
    peer.lastSeen = this.now();
    return undefined;
  }

  /** The peers that receive parameter broadcasts. */
  all(): Peer[] {
    this.expire();
    return [...this.peers.values()];
  }

  get size(): number {
    return this.all().length;
  }

  private expire(): void {
    const t = this.now();
    for (const [k, p] of this.peers) if (t - p.lastSeen > this.opts.timeoutMs) this.peers.delete(k);
  }
}

function sameToken(got: string, want: string): boolean {
  const a = Buffer.from(got);
  const b = Buffer.from(want);
  return a.length === b.length && timingSafeEqual(a, b);
}

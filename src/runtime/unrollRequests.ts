/**
 * Async flow control: which actors the learner asks for an unroll, and when. A parameters message to
 * an async actor asks it for one unroll (it plays one per message, with the newest parameters it
 * has). An unroll asked for at version v is trained at v + (its place in the pipeline) / B, so the
 * learner keeps queued + asked columns within the batches it will train by v + L: L + 1 of them
 * between updates, L while one is being trained. Free-running actors outrun a slower learner and
 * what they play beyond that goes stale (70% of the unrolls in the policy-lag test; on two cores
 * it also takes the learner's CPU).
 *
 * An ask whose unroll never comes is presumed lost: every ask of a peer silent for `silentMs` (default
 * 30 s without a heartbeat: it died; 5 s misfired on a busy learner, whose receiver reads heartbeats
 * late, and re-asked live actors), and any ask older than `max(minPatienceMs, 3 x the slowest answer so far)` (a
 * dropped message). A first answer can take long (the actor starts its environments after its
 * hello), so a short timeout on answers alone re-asked live actors at start: 7 stale unrolls in 16
 * updates with one actor, cpc T = 100.
 */
export class UnrollRequests {
  /** Per peer key: when each unanswered ask was sent (ms) and the parameters' version it carried, oldest first. */
  private readonly asks = new Map<string, { at: number; version: number }[]>();
  private slowest = 0;
  /** Moving average of the time an ask takes to be answered (ms); none before the first answer. */
  private typical: number | undefined;
  /** Per peer key: the count of asks when it was last asked (ties go to the one asked longest ago). */
  private readonly lastAsk = new Map<string, number>();
  private count = 0;

  constructor(
    private readonly o: {
      batch: number;
      maxPolicyLag: number;
      silentMs?: number;
      minPatienceMs?: number;
      now?: () => number;
      /** Hears of asks presumed lost: `count` of peer `key`, and why. */
      onLost?: (key: string, count: number, why: 'silent' | 'unanswered') => void;
    },
  ) {}

  private get now(): number {
    return (this.o.now ?? Date.now)();
  }

  /** Records an ask sent to `key` with parameters of `version` (the answer to a hello is none). */
  private asked(key: string, version: number): void {
    const a = this.asks.get(key) ?? [];
    a.push({ at: this.now, version });
    this.asks.set(key, a);
    this.lastAsk.set(key, ++this.count);
  }

  /** An unroll arrived from `key` (accepted or not: it answers its oldest ask). */
  answered(key: string): void {
    const a = this.asks.get(key)?.shift();
    if (!a) return;
    const took = this.now - a.at;
    this.slowest = Math.max(this.slowest, took);
    this.typical = this.typical === undefined ? took : 0.9 * this.typical + 0.1 * took;
  }

  /**
   * The peers to ask now (each recorded as asked with `version`), given `queued` columns waiting and
   * whether a batch is being trained: fewest unanswered asks first, then the one asked longest ago;
   * silent peers are not asked.
   */
  toAsk<P extends Peer>(peers: readonly P[], queued: number, training: boolean, version: number): P[] {
    const candidates = this.live(peers);
    const target = (this.o.maxPolicyLag + (training ? 0 : 1)) * this.o.batch;
    const open = (p: P) => this.asks.get(p.id)?.length ?? 0;
    // an ask of parameters older than L versions comes back stale (its actor is held up): not in the pipeline
    const fresh = (p: P) => this.asks.get(p.id)?.filter((a) => version - a.version <= this.o.maxPolicyLag).length ?? 0;
    let pipeline = queued + candidates.reduce((n, p) => n + fresh(p) * p.columns, 0);
    const out: P[] = [];
    for (;;) {
      const next = [...candidates].sort((a, b) => open(a) - open(b) || (this.lastAsk.get(a.id) ?? 0) - (this.lastAsk.get(b.id) ?? 0))[0];
      if (!next || pipeline + next.columns > target) return out;
      this.asked(next.id, version);
      pipeline += next.columns;
      out.push(next);
    }
  }

  /**
   * Whether the batch the learner at `version` takes must wait for an unroll on its way: one asked
   * with parameters L versions old can still be trained now, and not after. Answers come in no
   * particular order (a fast actor answers a later ask before a slow one answers an earlier), so
   * without this a batch of later unrolls leaves it to go stale (2 of ~60 in CI; ~4% with play times
   * spread 6x in simulation). Taking the oldest columns first, the count bound of `toAsk` then keeps
   * every trained unroll within L versions. It is waited for no longer than 5x the typical answer
   * (a moving average; at 3x and 4x an unroll still went stale in the simulation): one actor held up
   * (a map compile, a slow host) must not stop the others' training; its unroll goes stale instead.
   */
  awaits(peers: readonly Peer[], version: number): boolean {
    this.live(peers);
    const since = this.now - 5 * (this.typical ?? 0);
    for (const a of this.asks.values()) if (a.some((x) => version - x.version === this.o.maxPolicyLag && x.at > since)) return true;
    return false;
  }

  /** The peers not silent; the asks of peers no longer listed or silent, and asks presumed lost, are forgotten. */
  private live<P extends Peer>(peers: readonly P[]): P[] {
    const now = this.now;
    const silent = (p: P) => now - p.lastSeen > (this.o.silentMs ?? 30_000);
    const listed = new Map(peers.map((p) => [p.id, p]));
    const lostBefore = now - Math.max(this.o.minPatienceMs ?? 60_000, 3 * this.slowest);
    for (const [k, a] of this.asks) {
      const peer = listed.get(k);
      if (!peer || silent(peer)) {
        if (peer && a.length) this.o.onLost?.(k, a.length, 'silent');
        this.asks.delete(k);
        this.lastAsk.delete(k);
      } else if (a.length && a[0]!.at < lostBefore) {
        const before = a.length;
        while (a.length && a[0]!.at < lostBefore) a.shift();
        this.o.onLost?.(k, before - a.length, 'unanswered');
        this.lastAsk.set(k, ++this.count); // a peer that lost one is asked after the others
      }
    }
    return peers.filter((p) => !silent(p));
  }
}

/**
 * The most parameters messages an actor of `columns` columns can be owed at once: all the asks of a
 * full pipeline, (L + 1) B columns, plus the answer to its hello and one ask made again. Both ends'
 * queues must hold them: a ROUTER drops what exceeds its high-water mark without a word, and one
 * ask lost at start (high-water mark 2) held the learner 60 s, waiting for the unroll it asked for.
 */
export function maxParamsInFlight(o: { batch: number; maxPolicyLag: number; columns: number }): number {
  return Math.ceil(((o.maxPolicyLag + 1) * o.batch) / o.columns) + 2;
}

/** What the learner knows of a peer: its key, its columns, when it was last heard from (ms). */
type Peer = { id: string; columns: number; lastSeen: number };

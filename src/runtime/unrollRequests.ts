/**
 * Async flow control: which actors the learner asks for an unroll, and when. A parameters message to
 * an async actor asks it for one unroll (it plays one per message, with the newest parameters it
 * has). An unroll asked for at version v is trained at v + (its place in the pipeline) / B, so the
 * learner keeps queued + asked columns within the batches it will train by v + L: L + 1 of them
 * between updates, L while one is being trained. Free-running actors outrun a slower learner and
 * what they play beyond that goes stale (70% of the unrolls in the policy-lag test; on two cores
 * it also takes the learner's CPU).
 *
 * An ask whose unroll never comes (its actor died, the message was dropped) is presumed lost after
 * `max(minPatienceMs, 3 x the slowest answer so far)`, so a dead actor stalls nobody for long.
 */
export class UnrollRequests {
  /** Per peer key: when each unanswered ask was sent (ms), oldest first. */
  private readonly asks = new Map<string, number[]>();
  private slowest = 0;
  /** Per peer key: the count of asks when it was last asked (ties go to the one asked longest ago). */
  private readonly lastAsk = new Map<string, number>();
  private count = 0;

  constructor(private readonly o: { batch: number; maxPolicyLag: number; minPatienceMs?: number; now?: () => number }) {}

  private get now(): number {
    return (this.o.now ?? Date.now)();
  }

  /** Records an ask sent to `key` (the answer to a hello is one too: it carries parameters). */
  asked(key: string): void {
    const a = this.asks.get(key) ?? [];
    a.push(this.now);
    this.asks.set(key, a);
    this.lastAsk.set(key, ++this.count);
  }

  /** An unroll arrived from `key` (accepted or not: it answers its oldest ask). */
  answered(key: string): void {
    const t = this.asks.get(key)?.shift();
    if (t !== undefined) this.slowest = Math.max(this.slowest, this.now - t);
  }

  /**
   * The peers to ask now (each recorded as asked), fewest unanswered asks first (then the one asked longest ago), given `queued`
   * columns waiting and whether a batch is being trained. Asks of peers no longer listed, and asks
   * presumed lost, are forgotten first.
   */
  toAsk<P extends { id: string; columns: number }>(peers: readonly P[], queued: number, training: boolean): P[] {
    const live = new Set(peers.map((p) => p.id));
    const lostBefore = this.now - Math.max(this.o.minPatienceMs ?? 10_000, 3 * this.slowest);
    for (const [k, a] of this.asks) {
      if (!live.has(k)) {
        this.asks.delete(k);
        this.lastAsk.delete(k);
      }
      else if (a.length && a[0]! < lostBefore) {
        while (a.length && a[0]! < lostBefore) a.shift();
        this.lastAsk.set(k, ++this.count); // a peer that lost one is asked after the others
      }
    }
    const target = (this.o.maxPolicyLag + (training ? 0 : 1)) * this.o.batch;
    const open = (p: P) => this.asks.get(p.id)?.length ?? 0;
    let pipeline = queued + peers.reduce((n, p) => n + open(p) * p.columns, 0);
    const out: P[] = [];
    for (;;) {
      const next = [...peers].sort((a, b) => open(a) - open(b) || (this.lastAsk.get(a.id) ?? 0) - (this.lastAsk.get(b.id) ?? 0))[0];
      if (!next || pipeline + next.columns > target) return out;
      this.asked(next.id);
      pipeline += next.columns;
      out.push(next);
    }
  }
}

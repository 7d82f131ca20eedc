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
  /** Per peer key: when each unanswered ask was sent (ms), oldest first. */
  private readonly asks = new Map<string, number[]>();
  private slowest = 0;
  /** Per peer key: the count of asks when it was last asked (ties go to the one asked longest ago). */
  private readonly lastAsk = new Map<string, number>();
  private count = 0;

  constructor(private readonly o: { batch: number; maxPolicyLag: number; silentMs?: number; minPatienceMs?: number; now?: () => number }) {}

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
   * The peers to ask now (each recorded as asked), given `queued` columns waiting and whether a batch
   * is being trained: fewest unanswered asks first, then the one asked longest ago; silent peers are
   * not asked. Asks of peers no longer listed, and asks presumed lost, are forgotten first.
   */
  toAsk<P extends { id: string; columns: number; lastSeen: number }>(peers: readonly P[], queued: number, training: boolean): P[] {
    const now = this.now;
    const silent = (p: P) => now - p.lastSeen > (this.o.silentMs ?? 30_000);
    const listed = new Map(peers.map((p) => [p.id, p]));
    const lostBefore = now - Math.max(this.o.minPatienceMs ?? 60_000, 3 * this.slowest);
    for (const [k, a] of this.asks) {
      const peer = listed.get(k);
      if (!peer || silent(peer)) {
        this.asks.delete(k);
        this.lastAsk.delete(k);
      } else if (a.length && a[0]! < lostBefore) {
        while (a.length && a[0]! < lostBefore) a.shift();
        this.lastAsk.set(k, ++this.count); // a peer that lost one is asked after the others
      }
    }
    const candidates = peers.filter((p) => !silent(p));
    const target = (this.o.maxPolicyLag + (training ? 0 : 1)) * this.o.batch;
    const open = (p: P) => this.asks.get(p.id)?.length ?? 0;
    let pipeline = queued + candidates.reduce((n, p) => n + open(p) * p.columns, 0);
    const out: P[] = [];
    for (;;) {
      const next = [...candidates].sort((a, b) => open(a) - open(b) || (this.lastAsk.get(a.id) ?? 0) - (this.lastAsk.get(b.id) ?? 0))[0];
      if (!next || pipeline + next.columns > target) return out;
      this.asked(next.id);
      pipeline += next.columns;
      out.push(next);
    }
  }
}

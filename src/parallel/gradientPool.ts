import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { Agent, AgentOptions, LossHyperparameters, Unroll } from '../../agents/agent.js';
import type { BackendName } from '../backend/index.js';
import { columnShares } from './columns.js';
import { CONTROL, type ExchangeBuffers, type FromWorker, type ParamSlot, type PartialSums, type SharedBuffers, type ToWorker } from './protocol.js';

/** The loss gradient of a whole batch by variable name, and its loss terms summed over columns. */
export interface BatchGradients {
  /** Views of one fresh array (the sum of the workers' rows). */
  grads: Record<string, Float32Array>;
  sums: PartialSums;
  /** Each worker's `tf.memory().numTensors` after its part (tests check it stays constant). */
  numTensors: number[];
}

type GradientsReply = Extract<FromWorker, { type: 'gradients' }>;

interface Pending {
  id: number;
  results: (GradientsReply | undefined)[];
  resolve: (g: BatchGradients) => void;
  reject: (e: Error) => void;
}

/**
 * The worker script: the built `.js` next to this module, or from the TypeScript sources through
 * tsx (Node 20 does not pass `--import tsx` hooks on to worker threads, so a bootstrap registers it).
 */
function workerEntry(): URL {
  const fromSource = import.meta.url.endsWith('.ts');
  const script = new URL('./gradientWorker' + (fromSource ? '.ts' : '.js'), import.meta.url);
  if (!fromSource) return script;
  // the ESM build of tsx's API (require.resolve finds its CommonJS twin next to it)
  const api = pathToFileURL(createRequire(import.meta.url).resolve('tsx/esm/api').replace(/\.cjs$/, '.mjs')).href;
  const boot = `const { tsImport } = await import(${JSON.stringify(api)}); await tsImport(${JSON.stringify(script.href)}, ${JSON.stringify(import.meta.url)});`;
  return new URL('data:text/javascript,' + encodeURIComponent(boot));
}

/**
 * The data-parallel learner's threads: N workers, each with its own tensor backend and agent copy,
 * compute the loss gradient of their share of a batch's columns from the same parameters; the
 * shares add up to the one-thread gradient of the whole batch. A worker that dies or throws fails
 * the pool at once: the pending and every later request reject with the reason, peers waiting for
 * it are released, nothing hangs.
 */
export class GradientPool {
  private exchange: { key: string; buffers: ExchangeBuffers } | undefined;
  private batch: { key: string; unroll: Unroll } | undefined;
  private pending: Pending | undefined;
  private failure: Error | undefined;
  private nextId = 0;
  private starting: { resolve: () => void; reject: (e: Error) => void; ready: number } | undefined;
  private readonly weights: Float32Array;
  private readonly size: number;

  private constructor(
    readonly workers: Worker[],
    private readonly agentOptions: AgentOptions,
    private readonly latentSize: number,
    private readonly shared: SharedBuffers,
  ) {
    this.size = shared.layout.reduce((n, p) => n + p.size, 0);
    this.weights = new Float32Array(shared.weights);
  }

  /**
   * Starts `threads` workers on `backend` (the one the main thread uses), each with an agent made
   * from `options` (`model`, made from the same options, gives the parameter shapes), and waits
   * until each is ready.
   */
  static async start(threads: number, backend: BackendName, options: AgentOptions, model: Agent): Promise<GradientPool> {
    if (!Number.isInteger(threads) || threads < 1) throw new Error(`learner threads must be a positive integer, got ${threads}`);
    const layout: ParamSlot[] = [];
    let offset = 0;
    for (const [name, v] of Object.entries(model.params)) {
      layout.push({ name, offset, size: v.size });
      offset += v.size;
    }
    const shared: SharedBuffers = {
      control: new SharedArrayBuffer(CONTROL.size * 4),
      weights: new SharedArrayBuffer(offset * 4),
      grads: new SharedArrayBuffer(threads * offset * 4),
      layout,
    };
    const entry = workerEntry();
    const workers = Array.from({ length: threads }, () => new Worker(entry));
    const pool = new GradientPool(workers, options, model.spec.latentSize, shared);
    workers.forEach((w, i) => pool.watch(w, i));
    workers.forEach((w, i) => w.postMessage({ type: 'init', index: i, threads, backend, agent: options, shared } satisfies ToWorker));
    try {
      await new Promise<void>((resolve, reject) => (pool.starting = { resolve, reject, ready: 0 }));
    } catch (e) {
      await pool.close();
      throw e;
    }
    return pool;
  }

  get threads(): number {
    return this.workers.length;
  }

  private watch(w: Worker, i: number): void {
    w.on('message', (m: FromWorker) => this.onMessage(i, m));
    w.on('error', (e) => this.fail(new Error(`learner thread ${i} crashed: ${e.message}`)));
    w.on('messageerror', (e) => this.fail(new Error(`learner thread ${i} sent an unreadable message: ${e.message}`)));
    w.on('exit', (code) => this.fail(new Error(`learner thread ${i} exited (status ${code})`)));
  }

  private onMessage(i: number, m: FromWorker): void {
    switch (m.type) {
      case 'error':
        return this.fail(new Error(`learner thread ${i} failed: ${m.message}`));
      case 'ready':
        if (this.starting && ++this.starting.ready === this.threads) this.starting.resolve();
        return;
      case 'gradients': {
        const p = this.pending;
        if (!p || m.id !== p.id) return;
        p.results[i] = m;
        if (p.results.every((r) => r)) {
          this.pending = undefined;
          p.resolve(this.combine(p.results as GradientsReply[]));
        }
      }
    }
  }

  /** Marks the pool failed (first reason wins), releases workers waiting on a peer, rejects the pending request. */
  private fail(e: Error): void {
    if (this.failure) return;
    this.failure = e;
    this.starting?.reject(e);
    const ctl = new Int32Array(this.shared.control);
    Atomics.store(ctl, CONTROL.abort, 1);
    Atomics.notify(ctl, CONTROL.generation);
    this.pending?.reject(e);
    this.pending = undefined;
  }

  /**
   * The loss gradient of `batch` at `weights` (by parameter name): each worker takes an equal share
   * of the columns (so a batch needs at least as many columns as there are threads). Both are
   * copied into shared memory before this returns, so the caller may reuse them.
   */
  gradients(weights: Record<string, Float32Array>, batch: Unroll, hp: LossHyperparameters): Promise<BatchGradients> {
    if (this.failure) return Promise.reject(this.failure);
    if (this.pending) return Promise.reject(new Error('GradientPool.gradients: the previous request has not finished'));
    if (batch.B < this.threads) return Promise.reject(new Error(`a batch of ${batch.B} columns cannot be split over ${this.threads} learner threads; use --learner-threads ${batch.B} or fewer`));
    for (const p of this.shared.layout) {
      const w = weights[p.name];
      if (!w || w.length !== p.size) return Promise.reject(new Error(`GradientPool.gradients: parameter '${p.name}' needs ${p.size} values, got ${w?.length ?? 'none'}`));
      this.weights.set(w, p.offset);
    }
    const shares = columnShares(batch.B, this.threads);
    const shared = this.sharedBatch(batch);
    const exchange = this.agentOptions.kind === 'cpc' ? this.exchangeFor(batch.T, batch.B) : undefined;
    const id = this.nextId++;
    return new Promise<BatchGradients>((resolve, reject) => {
      this.pending = { id, results: shares.map(() => undefined), resolve, reject };
      shares.forEach((share, i) => {
        const msg: ToWorker = { type: 'gradients', id, batch: shared, start: share.start, count: share.count, hp, exchange };
        this.workers[i]!.postMessage(msg);
      });
    });
  }

  /** `batch` copied into shared memory (kept per batch shape): the workers read their columns from it. */
  private sharedBatch(batch: Unroll): Unroll {
    const key = `${batch.T}x${batch.B}x${batch.observations.length}x${batch.behaviourLogits.length}`;
    if (this.batch?.key !== key) {
      const like = <A extends Uint8Array | Int32Array | Float32Array>(a: A): A =>
        new (a.constructor as new (b: SharedArrayBuffer) => A)(new SharedArrayBuffer(a.byteLength));
      this.batch = {
        key,
        unroll: {
          T: batch.T,
          B: batch.B,
          observations: like(batch.observations),
          prevActions: like(batch.prevActions),
          prevRewards: like(batch.prevRewards),
          firsts: like(batch.firsts),
          actions: like(batch.actions),
          behaviourLogits: like(batch.behaviourLogits),
          initialState: { h: like(batch.initialState.h), c: like(batch.initialState.c) },
        },
      };
    }
    const u = this.batch.unroll;
    u.observations.set(batch.observations);
    u.prevActions.set(batch.prevActions);
    u.prevRewards.set(batch.prevRewards);
    u.firsts.set(batch.firsts);
    u.actions.set(batch.actions);
    u.behaviourLogits.set(batch.behaviourLogits);
    u.initialState.h.set(batch.initialState.h);
    u.initialState.c.set(batch.initialState.c);
    return u;
  }

  private exchangeFor(T: number, B: number): ExchangeBuffers {
    const key = `${T}x${B}`;
    if (this.exchange?.key !== key) {
      const floats = T * B * this.latentSize;
      this.exchange = { key, buffers: { z: new SharedArrayBuffer(floats * 4), gz: new SharedArrayBuffer(this.threads * floats * 4) } };
    }
    return this.exchange.buffers;
  }

  /** Sums the workers' gradient rows and loss terms, in worker order (so the result is deterministic). */
  private combine(results: GradientsReply[]): BatchGradients {
    const P = this.size;
    const rows = new Float32Array(this.shared.grads);
    const sum = rows.slice(0, P);
    for (let w = 1; w < results.length; w++) {
      const row = rows.subarray(w * P, (w + 1) * P);
      for (let i = 0; i < P; i++) sum[i]! += row[i]!;
    }
    const grads: Record<string, Float32Array> = {};
    for (const p of this.shared.layout) grads[p.name] = sum.subarray(p.offset, p.offset + p.size);
    const sums: PartialSums = { loss: 0, policyGradient: 0, baseline: 0, entropy: 0 };
    for (const { sums: r } of results) {
      sums.loss += r.loss;
      sums.policyGradient += r.policyGradient;
      sums.baseline += r.baseline;
      sums.entropy += r.entropy;
      if (r.cpcSum !== undefined && r.cpcCounted && r.cpcCorrect) {
        sums.cpcSum = (sums.cpcSum ?? 0) + r.cpcSum;
        sums.cpcCounted = addArrays(sums.cpcCounted, r.cpcCounted);
        sums.cpcCorrect = addArrays(sums.cpcCorrect, r.cpcCorrect);
      }
    }
    return { grads, sums, numTensors: results.map((r) => r.numTensors) };
  }

  /** Stops the workers (a pending request rejects). */
  async close(): Promise<void> {
    this.fail(new Error('the learner threads were closed'));
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}

function addArrays(a: Float32Array | undefined, b: Float32Array): Float32Array {
  if (!a) return Float32Array.from(b);
  return a.map((x, i) => x + b[i]!);
}

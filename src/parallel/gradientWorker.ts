/**
 * A learner worker thread: its own tfjs backend and copy of the agent; per request it takes the
 * parameters and its columns of the batch from shared memory and writes the loss gradient of those
 * columns into its row of the shared gradient buffer.
 *
 * The CPC term couples columns (an anchor's negatives are the other columns' z), so its share is
 * computed exactly: after the forward pass every worker publishes its z; each computes InfoNCE of
 * its own anchors against every column's z and its gradients with respect to all z, its own c and
 * W; the z-gradients are summed per column across workers; each worker's loss then adds
 * sum(z * dInfoNCE/dz) + sum(c * dInfoNCE/dc) of its columns, whose gradient through the network
 * is the CPC term's. Summed over workers this is the whole batch's gradient.
 */
import * as tf from '@tensorflow/tfjs';
import { parentPort } from 'node:worker_threads';
import { createAgent, type Agent, type Unroll } from '../../agents/agent.js';
import { infoNCETerms } from '../../agents/infonce.js';
import { backendCopiesInput } from '../../agents/network.js';
import { copyValues, initBackend } from '../backend/index.js';
import { sliceColumns } from './columns.js';
import { CONTROL, type FromWorker, type GradientsRequest, type InitMessage, type PartialSums, type ToWorker } from './protocol.js';

const port = parentPort;
if (!port) throw new Error('gradientWorker.ts runs as a worker thread of the learner');

interface State {
  init: InitMessage;
  agent: Agent;
  control: Int32Array;
  weights: Float32Array;
  /** This worker's row of the shared gradient buffer, [P]. */
  grads: Float32Array;
  /** Its columns of the last batch, whose arrays the next one reuses (where the backend copies them). */
  slice?: Unroll;
}
let state: State | undefined;
let control: Int32Array | undefined;

const post = (m: FromWorker) => port.postMessage(m);

/** Waits until every worker has arrived (a generation barrier); throws when the pool is aborted. */
function barrier(s: State): void {
  const ctl = s.control;
  const generation = Atomics.load(ctl, CONTROL.generation);
  if (Atomics.add(ctl, CONTROL.arrived, 1) === s.init.threads - 1) {
    Atomics.store(ctl, CONTROL.arrived, 0);
    Atomics.add(ctl, CONTROL.generation, 1);
    Atomics.notify(ctl, CONTROL.generation);
  } else {
    // the timeout only re-checks the abort flag (set when a peer thread died)
    while (Atomics.load(ctl, CONTROL.generation) === generation && !Atomics.load(ctl, CONTROL.abort)) Atomics.wait(ctl, CONTROL.generation, generation, 1000);
  }
  if (Atomics.load(ctl, CONTROL.abort)) throw new Error('aborted: another learner thread failed');
}

/** Frees peers waiting in `barrier` (they throw) after this thread failed. */
function abortPeers(): void {
  if (!control) return;
  Atomics.store(control, CONTROL.abort, 1);
  Atomics.notify(control, CONTROL.generation);
}

interface CpcShare {
  /** Gradients of the worker's InfoNCE sum with respect to its own z and c, [T, Bj, *] (constants). */
  gz: tf.Tensor;
  gc: tf.Tensor;
  /** ... and with respect to W, [K, L, Z]. */
  gW: Float32Array;
  sum: number;
  counted: Float32Array;
  correct: Float32Array;
}

/**
 * The worker's InfoNCE anchors and their gradients (see the file comment). z, c: [T, Bj, *] of this
 * worker's columns; dones [T, Bj]. Runs inside the learner's gradient tape: every tensor it hands
 * back is made from plain values, so the tape sees them as constants.
 */
function cpcShare(s: State, req: GradientsRequest, z: tf.Tensor, c: tf.Tensor, dones: tf.Tensor): CpcShare {
  const { T, B } = req.batch;
  const Bj = req.count;
  const D = z.shape[2] as number;
  const ex = req.exchange!;
  const zAll = new Float32Array(ex.z);
  const own = z.dataSync() as Float32Array;
  for (let t = 0; t < T; t++) zAll.set(own.subarray(t * Bj * D, (t + 1) * Bj * D), (t * B + req.start) * D);
  barrier(s);
  const W = s.agent.cpcHead();
  let terms: { sum: tf.Tensor; counted: tf.Tensor; correct: tf.Tensor } | undefined;
  const [gzAll, gc, gW] = tf.grads((zs: tf.Tensor, cs: tf.Tensor, Ws: tf.Tensor) => {
    const nce = infoNCETerms({ z: zs, c: cs, W: Ws, dones, anchorOffset: req.start, negatives: req.hp.cpcNegatives, stopGradientTargets: req.hp.cpcStopGradient });
    terms = { sum: tf.keep(nce.sum.clone()), counted: tf.keep(nce.counted), correct: tf.keep(nce.correct) };
    tf.dispose(nce.loss);
    return nce.sum;
  })([tf.tensor3d(zAll.slice(), [T, B, D]), tf.tensor(c.dataSync(), c.shape), tf.tensor(W.dataSync(), W.shape)]);
  const gzParts = new Float32Array(ex.gz);
  gzParts.set(gzAll!.dataSync(), s.init.index * T * B * D);
  barrier(s);
  // this worker's columns of the summed z-gradient, added in worker order (deterministic)
  const gzOwn = new Float32Array(T * Bj * D);
  for (let w = 0; w < s.init.threads; w++) {
    for (let t = 0; t < T; t++) {
      const from = (w * T * B + t * B + req.start) * D;
      const to = t * Bj * D;
      for (let i = 0; i < Bj * D; i++) gzOwn[to + i]! += gzParts[from + i]!;
    }
  }
  const t = terms!;
  const share: CpcShare = {
    gz: tf.tensor(gzOwn, z.shape),
    gc: tf.tensor(gc!.dataSync(), c.shape),
    gW: gW!.dataSync() as Float32Array,
    sum: t.sum.dataSync()[0]!,
    counted: t.counted.dataSync() as Float32Array,
    correct: t.correct.dataSync() as Float32Array,
  };
  tf.dispose([gzAll, gc, gW, t.sum, t.counted, t.correct]);
  return share;
}

function gradients(s: State, req: GradientsRequest): void {
  const a = s.agent;
  const weights: Record<string, Float32Array> = {};
  // views where the backend copies them; else copies, since the shared array changes with the next
  // update. Likewise the columns: fresh arrays cost page faults and GC, tens of ms an update.
  const copies = backendCopiesInput();
  for (const p of s.init.shared.layout) weights[p.name] = copies ? s.weights.subarray(p.offset, p.offset + p.size) : s.weights.slice(p.offset, p.offset + p.size);
  a.setWeights(weights);
  const batch = sliceColumns(req.batch, { start: req.start, count: req.count }, copies ? s.slice : undefined);
  if (copies) s.slice = batch;
  const sums: PartialSums = { loss: 0, policyGradient: 0, baseline: 0, entropy: 0 };
  const scale = req.hp.cpcCost / a.cpcSteps;
  let gW: Float32Array | undefined;
  const { value, grads: byEngineName } = tf.variableGrads(() => {
    const { terms, z, c, dones } = a.rlLoss(batch, req.hp);
    sums.policyGradient = terms.policyGradient.dataSync()[0]!;
    sums.baseline = terms.baseline.dataSync()[0]!;
    sums.entropy = terms.entropy.dataSync()[0]!;
    sums.loss = terms.total.dataSync()[0]!;
    if (a.kind !== 'cpc') return terms.total;
    const share = cpcShare(s, req, z, c, dones);
    gW = share.gW;
    Object.assign(sums, { loss: sums.loss + scale * share.sum, cpcSum: share.sum, cpcCounted: share.counted, cpcCorrect: share.correct });
    return terms.total.add(tf.sum(z.mul(share.gz)).add(tf.sum(c.mul(share.gc))).mul(scale)) as tf.Scalar;
  }, Object.values(a.params));
  for (const p of s.init.shared.layout) {
    const v = a.params[p.name]!;
    const g = byEngineName[v.name];
    if (g) copyValues(g, s.grads, p.offset);
    else if (p.name === 'cpc/W' && gW) {
      // scaled here: a backend Mul on the [K, L, Z] gradient cost seconds per update on wasm
      const row = s.grads.subarray(p.offset, p.offset + p.size);
      for (let i = 0; i < p.size; i++) row[i] = gW[i]! * scale;
    } else s.grads.fill(0, p.offset, p.offset + p.size);
  }
  tf.dispose([value, ...Object.values(byEngineName)]);
  post({ type: 'gradients', id: req.id, sums, numTensors: tf.memory().numTensors });
}

port.on('message', (m: ToWorker) => {
  void (async () => {
    try {
      if (m.type === 'init') {
        control = new Int32Array(m.shared.control);
        const backend = await initBackend(m.backend);
        const P = m.shared.layout.reduce((n, p) => n + p.size, 0);
        state = { init: m, agent: createAgent(m.agent), control, weights: new Float32Array(m.shared.weights), grads: new Float32Array(m.shared.grads, m.index * P * 4, P) };
        post({ type: 'ready', detail: backend.detail });
      } else {
        if (!state) throw new Error('gradients requested before init');
        gradients(state, m);
      }
    } catch (e) {
      abortPeers();
      post({ type: 'error', message: e instanceof Error ? (e.stack ?? e.message) : String(e) });
    }
  })();
});

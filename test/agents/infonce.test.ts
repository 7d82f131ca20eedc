import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { infoNCE, infoNCETerms, perStepAccuracy, type CpcNegatives, type InfoNCEInputs } from '../../agents/infonce.js';
import { Rng } from '../../src/rng.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

/** Float64 reference: loops over every anchor exactly as DESIGN.md states the rule. */
function reference(T: number, B: number, D: number, K: number, z: number[], c: number[], W: number[], dones: number[], mode: CpcNegatives) {
  const zAt = (t: number, b: number) => z.slice((t * B + b) * D, (t * B + b + 1) * D);
  let sum = 0;
  let count = 0;
  const counted = new Array(K).fill(0);
  const correct = new Array(K).fill(0);
  for (let k = 1; k <= K; k++) {
    for (let t = 0; t + k < T; t++) {
      for (let b = 0; b < B; b++) {
        let crosses = false;
        for (let s = t; s < t + k; s++) if (dones[s * B + b]) crosses = true;
        if (crosses) continue;
        const pred = new Array(D).fill(0);
        for (let i = 0; i < D; i++) for (let j = 0; j < D; j++) pred[j] += c[(t * B + b) * D + i]! * W[((k - 1) * D + i) * D + j]!;
        const dot = (v: number[]) => v.reduce((s, x, j) => s + x * pred[j], 0);
        const candidates: [number, number][] = []; // [t', b']
        if (mode === 'batch') for (let bb = 0; bb < B; bb++) candidates.push([t + k, bb]);
        else for (let tt = 0; tt < T; tt++) for (let bb = 0; bb < B; bb++) candidates.push([tt, bb]);
        const scores = candidates.map(([tt, bb]) => dot(zAt(tt, bb)));
        const pos = candidates.findIndex(([tt, bb]) => tt === t + k && bb === b);
        const max = Math.max(...scores);
        const lse = max + Math.log(scores.reduce((s, x) => s + Math.exp(x - max), 0));
        sum += lse - scores[pos]!;
        count++;
        counted[k - 1]++;
        if (scores.indexOf(max) === pos) correct[k - 1]++;
      }
    }
  }
  return { loss: sum / count, sum, counted, accuracy: counted.map((n, i) => correct[i] / n) };
}

/**
 * The per-k formulation infoNCETerms had before it made all predictions in one matmul (K products of
 * [(T-k)*B, D] x [D, D], scores per k): the float32 reference the one-matmul version must reproduce.
 */
function perStepTerms({ z, c, W, dones, negatives = 'batch' }: InfoNCEInputs) {
  const [T, B, D] = z.shape as [number, number, number];
  const Dc = c.shape[2] as number;
  const K = W.shape[0] as number;
  return tf.tidy(() => {
    const endedBefore = tf.concat([tf.zeros([1, B]), tf.cumsum(dones.toFloat(), 0)], 0);
    const flatTarget = z.reshape([T * B, D]);
    const Ws = tf.unstack(W);
    const sums: tf.Tensor[] = [];
    const counted: tf.Tensor[] = [];
    const correct: tf.Tensor[] = [];
    for (let k = 1; k <= K; k++) {
      const n = T - k;
      const pred = c.slice([0, 0, 0], [n, B, Dc]).reshape([n * B, Dc]).matMul(Ws[k - 1]!);
      const positives = z.slice([k, 0, 0], [n, B, D]);
      const mask = tf.equal(endedBefore.slice([k, 0], [n, B]), endedBefore.slice([0, 0], [n, B])).toFloat();
      let scores: tf.Tensor;
      let positiveIndex: tf.Tensor;
      if (negatives === 'batch') {
        scores = tf.matMul(pred.reshape([n, B, D]), positives, false, true);
        positiveIndex = tf.range(0, B, 1, 'int32').reshape([1, B]).tile([n, 1]);
      } else {
        scores = tf.matMul(pred, flatTarget, false, true).reshape([n, B, T * B]);
        positiveIndex = tf.range(k * B, T * B, 1, 'int32').reshape([n, B]);
      }
      const positiveScore = tf.sum(pred.reshape([n, B, D]).mul(positives), -1);
      sums.push(tf.sum(tf.logSumExp(scores, -1).sub(positiveScore).mul(mask)));
      counted.push(tf.sum(mask));
      correct.push(tf.sum(tf.equal(tf.argMax(scores, -1), positiveIndex).toFloat().mul(mask)));
    }
    return { sum: tf.addN(sums) as tf.Scalar, counted: tf.stack(counted), correct: tf.stack(correct) };
  });
}

/** max |a - b| / max(1, max |b|). */
function relativeError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let diff = 0;
  let scale = 1;
  for (let i = 0; i < a.length; i++) {
    diff = Math.max(diff, Math.abs(a[i]! - b[i]!));
    scale = Math.max(scale, Math.abs(b[i]!));
  }
  return diff / scale;
}

describe('infoNCE', () => {
  for (const mode of ['batch', 'batch-time'] as const) {
    it(`equals the per-k formulation, with its gradients (${mode})`, async () => {
      const [T, B, D, K] = [24, 5, 8, 7];
      const rng = new Rng(11);
      const rand = (shape: number[]) => tf.tensor(Float32Array.from({ length: shape.reduce((a, d) => a * d, 1) }, () => rng.normal()), shape);
      const [z, c, W] = [rand([T, B, D]), rand([T, B, D]), rand([K, D, D]).mul(0.4)];
      const dones = tf.tensor2d(Float32Array.from({ length: T * B }, () => (rng.next() < 0.08 ? 1 : 0)), [T, B]);
      const before = tf.memory().numTensors;
      const evaluate = (terms: typeof perStepTerms) => {
        const f = (zz: tf.Tensor, cc: tf.Tensor, ww: tf.Tensor) => terms({ z: zz, c: cc, W: ww, dones, negatives: mode }).sum;
        const { value, grads } = tf.valueAndGrads(f)([z, c, W]);
        const t = terms({ z, c, W, dones, negatives: mode });
        return { value, grads, counted: t.counted, correct: t.correct, extra: t };
      };
      const ours = evaluate(infoNCETerms);
      const old = evaluate(perStepTerms);
      expect(relativeError(await ours.value.data(), await old.value.data())).toBeLessThan(1e-5);
      for (let i = 0; i < 3; i++) expect(relativeError(await ours.grads[i]!.data(), await old.grads[i]!.data())).toBeLessThan(1e-5);
      expect(Array.from(await ours.counted.data())).toEqual(Array.from(await old.counted.data()));
      expect(Array.from(await ours.correct.data())).toEqual(Array.from(await old.correct.data()));
      expect((await old.counted.data())[K - 1]).toBeLessThan((T - K) * B); // episode ends removed anchors
      tf.dispose([ours, old].flatMap((r) => [r.value, ...r.grads, ...Object.values(r.extra)]));
      expect(tf.memory().numTensors).toBe(before);
    });
  }

  it('all-equal scores give log B (batch negatives) and log(T B) (batch-time negatives)', async () => {
    const [T, B, D, K] = [6, 5, 4, 3];
    const args = { z: tf.zeros([T, B, D]), c: tf.randomNormal([T, B, D]), W: tf.randomNormal([K, D, D]), dones: tf.zeros([T, B]) };
    const batch = infoNCE({ ...args, negatives: 'batch' });
    expect((await batch.loss.data())[0]).toBeCloseTo(Math.log(B), 5);
    const batchTime = infoNCE({ ...args, negatives: 'batch-time' });
    expect((await batchTime.loss.data())[0]).toBeCloseTo(Math.log(T * B), 5);
  });

  it('a dominant positive gives a loss of about 0 and accuracy 1', async () => {
    const [T, B, D] = [4, 3, 3];
    // z_t^b = 10 e_b, c_t^b = z_{t+1}^b, W_1 = I: positive score 100, negatives 0.
    const z = tf.tidy(() => tf.oneHot(tf.tile(tf.range(0, B, 1, 'int32'), [T]), D).mul(10).reshape([T, B, D]));
    const out = infoNCE({ z, c: z, W: tf.eye(D).reshape([1, D, D]), dones: tf.zeros([T, B]) });
    expect((await out.loss.data())[0]).toBeLessThan(1e-6);
    expect(out.accuracy).toEqual([1]);
  });

  for (const mode of ['batch', 'batch-time'] as const) {
    it(`loss, per-k accuracy and masking at episode ends match a float64 reference (${mode})`, async () => {
      const [T, B, D, K] = [12, 4, 5, 4];
      const rng = new Rng(7);
      const rand = (n: number) => Array.from({ length: n }, () => rng.normal());
      const z = rand(T * B * D);
      const c = rand(T * B * D);
      const W = rand(K * D * D);
      const dones = Array.from({ length: T * B }, () => (rng.next() < 0.15 ? 1 : 0));
      const ref = reference(T, B, D, K, z, c, W, dones, mode);
      const terms = infoNCETerms({
        z: tf.tensor3d(z, [T, B, D]),
        c: tf.tensor3d(c, [T, B, D]),
        W: tf.tensor3d(W, [K, D, D]),
        dones: tf.tensor2d(dones, [T, B]),
        negatives: mode,
      });
      expect((await terms.loss.data())[0]).toBeCloseTo(ref.loss, 4);
      expect((await terms.sum.data())[0]).toBeCloseTo(ref.sum, 2);
      expect(Array.from(await terms.counted.data())).toEqual(ref.counted);
      const { accuracy } = infoNCE({ z: tf.tensor3d(z, [T, B, D]), c: tf.tensor3d(c, [T, B, D]), W: tf.tensor3d(W, [K, D, D]), dones: tf.tensor2d(dones, [T, B]), negatives: mode });
      accuracy.forEach((a, i) => expect(a).toBeCloseTo(ref.accuracy[i]!, 6));
      // without episode ends every anchor with t + k < T counts; the ends removed some
      const unmasked = Array.from({ length: K }, (_, i) => (T - i - 1) * B);
      const noEnds = infoNCETerms({ z: tf.tensor3d(z, [T, B, D]), c: tf.tensor3d(c, [T, B, D]), W: tf.tensor3d(W, [K, D, D]), dones: tf.zeros([T, B]), negatives: mode });
      expect(Array.from(await noEnds.counted.data())).toEqual(unmasked);
      expect((await noEnds.sum.data())[0]).not.toBeCloseTo((await terms.sum.data())[0]!, 2);
    });
  }

  it('excludes exactly the anchors whose window crosses an episode end', async () => {
    // T = 5, B = 1: the episode ends at step 1, so for k = 1 anchors t = 0, 2, 3 count (t = 1 crosses),
    // for k = 2 only t = 2 counts (t = 0 and t = 1 cross).
    const [T, B, D, K] = [5, 1, 2, 2];
    const terms = infoNCETerms({
      z: tf.randomNormal([T, B, D]),
      c: tf.randomNormal([T, B, D]),
      W: tf.randomNormal([K, D, D]),
      dones: tf.tensor2d([0, 1, 0, 0, 0], [T, B]),
    });
    expect(Array.from(await terms.counted.data())).toEqual([3, 1]);
  });

  it('gradients reach z through the targets unless they are a stop-gradient', async () => {
    const [T, B, D, K] = [5, 3, 4, 2];
    const c = tf.randomNormal([T, B, D]);
    const W = tf.randomNormal([K, D, D]);
    const dones = tf.zeros([T, B]);
    const gradNorm = (stop: boolean) =>
      tf.tidy(() => tf.norm(tf.grad((z: tf.Tensor) => infoNCETerms({ z, c, W, dones, stopGradientTargets: stop }).loss)(tf.randomNormal([T, B, D]))).dataSync()[0]);
    expect(gradNorm(false)).toBeGreaterThan(1e-3);
    expect(gradNorm(true)).toBe(0);
  });

  for (const negatives of ['batch', 'batch-time'] as const) {
    it(`anchors on a partition of the columns add up to the whole batch (${negatives})`, async () => {
      const [T, B, D, K] = [7, 5, 3, 3];
      const z = tf.randomNormal([T, B, D], 0, 1, 'float32', 1);
      const c = tf.randomNormal([T, B, D], 0, 1, 'float32', 2);
      const W = tf.randomNormal([K, D, D], 0, 1, 'float32', 3);
      const dones = tf.tensor2d(Array.from({ length: T * B }, (_, i) => (i % 11 === 4 ? 1 : 0)), [T, B]);
      const whole = infoNCETerms({ z, c, W, dones, negatives });
      const parts = (
        [
        [0, 2],
        [2, 1],
        [3, 2],
      ] as [number, number][]
      ).map(([start, count]) => infoNCETerms({ z, c: c.slice([0, start, 0], [T, count, D]), W, dones: dones.slice([0, start], [T, count]), anchorOffset: start, negatives }));
      const add = async (pick: (t: typeof whole) => tf.Tensor) => (await Promise.all(parts.map((p) => pick(p).data()))).reduce((a, b) => a.map((x, i) => x + b[i]!));
      expect((await add((t) => t.sum))[0]).toBeCloseTo((await whole.sum.data())[0]!, 4);
      expect(Array.from(await add((t) => t.counted))).toEqual(Array.from(await whole.counted.data()));
      expect(Array.from(await add((t) => t.correct))).toEqual(Array.from(await whole.correct.data()));
      const anchors = (count: number, anchorOffset: number) => () => infoNCETerms({ z, c: c.slice([0, 0, 0], [T, count, D]), W, dones: dones.slice([0, 0], [T, count]), anchorOffset });
      expect(anchors(2, 4)).toThrow(/^infoNCE: c must have shape \[7, 1, 3\] or fewer columns: its anchors are columns 4..5 of z, which has 5/);
      expect(anchors(2, -1)).toThrow(/anchors are columns -1..0 of z/);
      expect(anchors(2, 0.5)).toThrow(/anchors are columns 0.5..1.5 of z/);
    });

    it(`anchors on a column subset find their own positives (${negatives}): every counted anchor correct when each prediction is its target`, async () => {
      // z one-hot per (t, b), c = z, W_k maps step t's code to step t + k's: each anchor's positive scores 10, the rest 0
      const [T, B, K] = [6, 4, 2];
      const D = T * B;
      const z = tf.oneHot(tf.range(0, D, 1, 'int32'), D).reshape([T, B, D]);
      const W = tf.stack(Array.from({ length: K }, (_, k) => tf.eye(D).slice([0, 0], [D - (k + 1) * B, D]).pad([[(k + 1) * B, 0], [0, 0]]).transpose().mul(10)));
      const dones = tf.zeros([T, B]);
      for (const [start, count] of [[0, 4], [1, 2], [3, 1]] as [number, number][]) {
        const t = infoNCETerms({ z, c: z.slice([0, start, 0], [T, count, D]), W, dones: dones.slice([0, start], [T, count]), anchorOffset: start, negatives });
        const counted = Array.from(await t.counted.data());
        expect(counted).toEqual(Array.from({ length: K }, (_, k) => (T - k - 1) * count));
        expect(Array.from(await t.correct.data())).toEqual(counted);
      }
    });
  }

  it('rejects bad shapes and a K that does not fit the unroll', () => {
    const z = tf.zeros([5, 2, 3]);
    expect(() => infoNCE({ z, c: tf.zeros([5, 3, 3]), W: tf.zeros([2, 3, 3]), dones: tf.zeros([5, 2]) })).toThrow(/c must have shape \[5, 2, 3\]/);
    expect(() => infoNCE({ z, c: tf.zeros([5, 2, 4]), W: tf.zeros([2, 3, 3]), dones: tf.zeros([5, 2]) })).toThrow(/W must have shape \[2, 4, 3\]/);
    expect(() => infoNCE({ z, c: z, W: tf.zeros([5, 3, 3]), dones: tf.zeros([5, 2]) })).toThrow(/longer than K/);
    expect(() => infoNCE({ z: tf.zeros([5, 2]), c: z, W: tf.zeros([2, 3, 3]), dones: tf.zeros([5, 2]) })).toThrow(/^infoNCE: z must have rank 3 \(\[T, B, D\]\)/);
    expect(() => infoNCE({ z, c: tf.zeros([5, 2]), W: tf.zeros([2, 3, 3]), dones: tf.zeros([5, 2]) })).toThrow(/^infoNCE: c must have rank 3 \(\[T, Ba, Dc\]\)/);
    expect(() => infoNCE({ z, c: z, W: tf.zeros([2, 3]), dones: tf.zeros([5, 2]) })).toThrow(/^infoNCE: W must have rank 3 \(\[K, Dc, D\]\)/);
    expect(() => infoNCE({ z, c: tf.zeros([5, 3, 3]), W: tf.zeros([2, 3, 3]), dones: tf.zeros([5, 2]) })).toThrow(/^infoNCE: c must have shape/);
    expect(() => infoNCE({ z, c: tf.zeros([4, 2, 3]), W: tf.zeros([2, 3, 3]), dones: tf.zeros([5, 2]) })).toThrow(/^infoNCE: c must have shape \[5, 2, 3\], got \[4, 2, 3\]/);
    expect(() => infoNCE({ z, c: z, W: tf.zeros([2, 4, 3]), dones: tf.zeros([5, 2]) })).toThrow(/^infoNCE: W must have shape/);
    expect(() => infoNCE({ z, c: z, W: tf.zeros([2, 3, 3]), dones: tf.zeros([5, 3]) })).toThrow(/^infoNCE: dones must have shape \[5, 2\]/);
  });

  it('per-k accuracy is correct / counted, NaN where no anchor counts; infoNCE keeps only its loss', () => {
    expect(perStepAccuracy([0, 4, 2], [0, 1, 2])).toEqual([Number.NaN, 0.25, 1]);
    const inputs = { z: tf.ones([5, 2, 3]), c: tf.ones([5, 2, 3]), W: tf.ones([2, 3, 3]), dones: tf.zeros([5, 2]) };
    const before = tf.memory().numTensors;
    const { loss, accuracy } = infoNCE(inputs);
    expect(accuracy).toHaveLength(2);
    expect(tf.memory().numTensors).toBe(before + 1);
    loss.dispose();
    tf.dispose(Object.values(inputs));
  });
});

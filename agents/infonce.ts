import * as tf from '@tensorflow/tfjs';
import { assertRank, assertShape, stopGradient } from './ops.js';

export type CpcNegatives = 'batch' | 'batch-time';

export interface InfoNCEInputs {
  /** Encoder latents z_t, [T, B, D]. */
  z: tf.Tensor;
  /**
   * Context (LSTM outputs) c_t of the anchors' columns, [T, Ba, Dc] (Dc = D in the paper): all B
   * columns by default; a data-parallel learner passes its own columns (see `anchorOffset`).
   */
  c: tf.Tensor;
  /** One linear map per step ahead: prediction for k is c_t W[k-1], [K, Dc, D]. */
  W: tf.Tensor;
  /** 1 where the episode ended at step t (obs t+1 starts a new one), of the anchors' columns, [T, Ba]. */
  dones: tf.Tensor;
  /** Column of z that anchor column 0 of c is (default 0): anchors are columns offset..offset+Ba-1 of z. */
  anchorOffset?: number;
  /** `batch`: negatives are the other unrolls' z at the same t+k; `batch-time`: every other (t', b'). */
  negatives?: CpcNegatives;
  /** Treat z_{t+k} as a constant target (the paper lets gradients flow into both sides). */
  stopGradientTargets?: boolean;
}

export interface InfoNCETerms {
  /** Mean over counted anchors of -log softmax(scores)[positive], scalar. */
  loss: tf.Scalar;
  /** The same summed over counted anchors (not averaged), scalar. */
  sum: tf.Scalar;
  /** Counted anchors per k, [K]. */
  counted: tf.Tensor1D;
  /** Counted anchors whose positive has the highest score, per k, [K]. */
  correct: tf.Tensor1D;
}

/**
 * InfoNCE of CPC (van den Oord et al. 2018, eq. 4) over an unroll, as tensors (differentiable `loss`
 * and `sum`). An anchor (t, k, b) counts only if t + k < T and no episode ended in steps t..t+k-1.
 * With anchors on a subset of the columns (`c` narrower than `z`), `sum`, `counted` and `correct`
 * are those anchors' share: summed over a partition of the columns they give the whole batch's.
 */
export function infoNCETerms({
  z,
  c,
  W,
  dones,
  negatives = 'batch',
  stopGradientTargets = false,
  anchorOffset = 0,
}: InfoNCEInputs): InfoNCETerms {
  assertRank(z, 3, 'infoNCE: z', '[T, B, D]');
  const [T, B, D] = z.shape as [number, number, number];
  assertRank(c, 3, 'infoNCE: c', '[T, Ba, Dc]');
  const [, Ba, Dc] = c.shape as [number, number, number];
  assertShape(c, [T, Ba, Dc], 'infoNCE: c');
  if (!Number.isInteger(anchorOffset) || anchorOffset < 0 || anchorOffset + Ba > B) {
    throw new Error(`infoNCE: c must have shape [${T}, ${B - anchorOffset}, ${Dc}] or fewer columns: its anchors are columns ${anchorOffset}..${anchorOffset + Ba - 1} of z, which has ${B}`);
  }
  assertRank(W, 3, 'infoNCE: W', '[K, Dc, D]');
  const K = W.shape[0] as number;
  assertShape(W, [K, Dc, D], 'infoNCE: W');
  assertShape(dones, [T, Ba], 'infoNCE: dones');
  if (K >= T) throw new Error(`infoNCE: K = ${K} steps ahead needs an unroll longer than K, got T = ${T}`);
  const J = T - 1; // target steps 1..T-1: anchor (t, k) predicts step t + k = j + 1
  return tf.tidy(() => {
    const target = stopGradientTargets ? stopGradient(z) : z;
    // endedBefore[t] = number of episode ends in steps 0..t-1, so steps t..t+k-1 are clean iff
    // endedBefore[t+k] == endedBefore[t].
    const endedBefore = tf.concat([tf.zeros([1, Ba]), tf.cumsum(dones.toFloat(), 0)], 0);
    // one Unpack (gradient: one Pack) instead of K slices (gradient: K pads to [K, Dc, D] and K - 1 adds)
    const Ws = tf.unstack(W);
    // Predictions grouped by target step: A[j, k-1, b] = c_{j+1-k}^b W_k (b: an anchor column), zero where that anchor does not exist.
    // One [n*B, Dc] x [Dc, D] product per k (on wasm K of these beat one [T*B, Dc] x [Dc, K*D], which also
    // computes the ~K/2T of anchors that have no target).
    const preds: tf.Tensor[] = [];
    const masks: tf.Tensor[] = [];
    for (let k = 1; k <= K; k++) {
      const n = T - k;
      const pred = c.slice([0, 0, 0], [n, Ba, Dc]).reshape([n * Ba, Dc]).matMul(Ws[k - 1]!).reshape([n, Ba, D]);
      preds.push(tf.pad(pred, [[k - 1, 0], [0, 0], [0, 0]]));
      // the window's count of episode ends is a whole number >= 0: 1 - it, clipped at 0, is 1 iff it is 0
      const ends = endedBefore.slice([k, 0], [n, Ba]).sub(endedBefore.slice([0, 0], [n, Ba]));
      masks.push(tf.pad(tf.relu(tf.sub(1, ends)), [[k - 1, 0], [0, 0]]));
    }
    const A = tf.stack(preds, 1); // [J, K, Ba, D]
    const mask = tf.stack(masks, 1); // [J, K, Ba]
    // every target step's K*Ba predictions meet its candidates in one product
    const targets = target.slice([1, 0, 0], [J, B, D]);
    const { scores, positiveScore, positiveIndex } =
      negatives === 'batch' ? batchScores(A, targets, anchorOffset) : batchTimeScores(A, targets, target.reshape([T * B, D]), anchorOffset);
    const anchorLoss = logSumExp(scores).sub(positiveScore); // -log softmax(row)[positive]
    const sum = tf.sum(anchorLoss.mul(mask)) as tf.Scalar;
    const counted = tf.sum(mask, [0, 2]) as tf.Tensor1D;
    const correct = tf.sum(tf.equal(tf.argMax(scores, -1), positiveIndex).toFloat().mul(mask), [0, 2]) as tf.Tensor1D;
    const loss = sum.div(tf.maximum(tf.sum(counted), 1)) as tf.Scalar;
    return { loss, sum, counted, correct };
  });
}

/**
 * log(sum(exp(x), -1)) with the softmax as its gradient. tf.logSumExp's gradient goes through Max's, whose
 * broadcast Equal over all of x is most of the CPC head's non-matmul time on wasm.
 */
const logSumExp = tf.customGrad((x, save) => {
  const t = x as tf.Tensor;
  const max = tf.max(t, -1, true);
  const e = tf.exp(t.sub(max));
  const total = tf.sum(e, -1, true);
  (save as tf.GradSaveFunc)([e.div(total)]);
  return { value: tf.log(total).add(max).squeeze([-1]), gradFunc: (dy, [softmax]) => softmax!.mul((dy as tf.Tensor).expandDims(-1)) };
}) as (x: tf.Tensor) => tf.Tensor;

interface Scores {
  /** [J, K, Ba, candidates] */
  scores: tf.Tensor;
  /** [J, K, Ba] */
  positiveScore: tf.Tensor;
  /** int32 [J, K, Ba]: the positive's column in `scores`. */
  positiveIndex: tf.Tensor;
}

/**
 * Negatives are the other unrolls at the target step: per target step one [K*Ba, D] x [D, B] product.
 * A [J, K, Ba, D] (anchor columns offset..offset+Ba-1), targets [J, B, D].
 */
function batchScores(A: tf.Tensor, targets: tf.Tensor, offset: number): Scores {
  const [J, K, Ba, D] = A.shape as [number, number, number, number];
  const B = targets.shape[1] as number;
  const scores = tf.matMul(A.reshape([J, K * Ba, D]), targets, false, true).reshape([J, K, Ba, B]);
  const positiveIndex = tf.range(offset, offset + Ba, 1, 'int32').reshape([1, 1, Ba]).tile([J, K, 1]);
  // the positive of anchor column b is candidate offset + b: a one-hot [Ba, B] picks it (the diagonal when Ba = B)
  const pick = new Float32Array(Ba * B);
  for (let b = 0; b < Ba; b++) pick[b * B + offset + b] = 1;
  return { scores, positiveScore: tf.sum(scores.mul(tf.tensor2d(pick, [Ba, B])), -1), positiveIndex };
}

/** Negatives are every (t', b') of the unroll. A [J, K, Ba, D], targets [J, B, D], flatTarget [T*B, D]. */
function batchTimeScores(A: tf.Tensor, targets: tf.Tensor, flatTarget: tf.Tensor, offset: number): Scores {
  const [J, K, Ba, D] = A.shape as [number, number, number, number];
  const B = targets.shape[1] as number;
  const TB = flatTarget.shape[0];
  const scores = tf.matMul(A.reshape([J * K * Ba, D]), flatTarget, false, true).reshape([J, K, Ba, TB]);
  const index = new Int32Array(J * K * Ba);
  for (let j = 0; j < J; j++) for (let k = 0; k < K; k++) for (let b = 0; b < Ba; b++) index[(j * K + k) * Ba + b] = (j + 1) * B + offset + b;
  const own = Ba === B ? targets : targets.slice([0, offset, 0], [J, Ba, D]);
  const positiveScore = tf.sum(A.mul(own.reshape([J, 1, Ba, D])), -1);
  return { scores, positiveScore, positiveIndex: tf.tensor3d(index, [J, K, Ba], 'int32') };
}

/**
 * InfoNCE with per-k accuracy read back: `accuracy[k-1]` is the fraction of counted anchors at k
 * whose positive wins (NaN where no anchor counts). The caller disposes `loss`.
 */
export function infoNCE(inputs: InfoNCEInputs): { loss: tf.Scalar; accuracy: number[] } {
  const { loss, sum, counted, correct } = infoNCETerms(inputs);
  const accuracy = perStepAccuracy(counted.dataSync(), correct.dataSync());
  tf.dispose([sum, counted, correct]);
  return { loss, accuracy };
}

/** correct / counted per k, NaN where nothing counted. */
export function perStepAccuracy(counted: ArrayLike<number>, correct: ArrayLike<number>): number[] {
  return Array.from(counted, (n, i) => (n > 0 ? correct[i]! / n : Number.NaN));
}

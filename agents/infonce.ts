import * as tf from '@tensorflow/tfjs';
import { assertRank, assertShape, stopGradient } from './ops.js';

export type CpcNegatives = 'batch' | 'batch-time';

export interface InfoNCEInputs {
  /** Encoder latents z_t, [T, B, D]. */
  z: tf.Tensor;
  /** Context (LSTM outputs) c_t, [T, B, Dc] (Dc = D in the paper). */
  c: tf.Tensor;
  /** One linear map per step ahead: prediction for k is c_t W[k-1], [K, Dc, D]. */
  W: tf.Tensor;
  /** 1 where the episode ended at step t (obs t+1 starts a new one), [T, B]. */
  dones: tf.Tensor;
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
 */
export function infoNCETerms({
  z,
  c,
  W,
  dones,
  negatives = 'batch',
  stopGradientTargets = false,
}: InfoNCEInputs): InfoNCETerms {
  assertRank(z, 3, 'infoNCE: z', '[T, B, D]');
  const [T, B, D] = z.shape as [number, number, number];
  assertRank(c, 3, 'infoNCE: c', '[T, B, Dc]');
  const Dc = c.shape[2] as number;
  assertShape(c, [T, B, Dc], 'infoNCE: c');
  assertRank(W, 3, 'infoNCE: W', '[K, Dc, D]');
  const K = W.shape[0] as number;
  assertShape(W, [K, Dc, D], 'infoNCE: W');
  assertShape(dones, [T, B], 'infoNCE: dones');
  if (K >= T) throw new Error(`infoNCE: K = ${K} steps ahead needs an unroll longer than K, got T = ${T}`);
  return tf.tidy(() => {
    const target = stopGradientTargets ? stopGradient(z) : z;
    // endedBefore[t] = number of episode ends in steps 0..t-1, so steps t..t+k-1 are clean iff
    // endedBefore[t+k] == endedBefore[t].
    const endedBefore = tf.concat([tf.zeros([1, B]), tf.cumsum(dones.toFloat(), 0)], 0);
    const flatTarget = target.reshape([T * B, D]);
    // one Unpack (gradient: one Pack) instead of K slices (gradient: K pads to [K, Dc, D] and K - 1 adds)
    const Ws = tf.unstack(W);
    const sums: tf.Tensor[] = [];
    const counted: tf.Tensor[] = [];
    const correct: tf.Tensor[] = [];
    for (let k = 1; k <= K; k++) {
      const n = T - k;
      const pred = c.slice([0, 0, 0], [n, B, Dc]).reshape([n * B, Dc]).matMul(Ws[k - 1]);
      const positives = target.slice([k, 0, 0], [n, B, D]);
      const mask = tf.equal(endedBefore.slice([k, 0], [n, B]), endedBefore.slice([0, 0], [n, B])).toFloat();
      // scores[row, col]: rows are anchors (t, b); the positive column is (t + k, b).
      let scores: tf.Tensor;
      let positiveIndex: tf.Tensor;
      if (negatives === 'batch') {
        scores = tf.matMul(pred.reshape([n, B, D]), positives, false, true); // [n, B, B]
        positiveIndex = tf.range(0, B, 1, 'int32').reshape([1, B]).tile([n, 1]);
      } else {
        scores = tf.matMul(pred, flatTarget, false, true).reshape([n, B, T * B]); // [n, B, T*B]
        positiveIndex = tf.range(k * B, T * B, 1, 'int32').reshape([n, B]);
      }
      const positiveScore = tf.sum(pred.reshape([n, B, D]).mul(positives), -1); // [n, B]
      const anchorLoss = tf.logSumExp(scores, -1).sub(positiveScore);
      sums.push(tf.sum(anchorLoss.mul(mask)));
      counted.push(tf.sum(mask));
      correct.push(tf.sum(tf.equal(tf.argMax(scores, -1), positiveIndex).toFloat().mul(mask)));
    }
    const countedK = tf.stack(counted) as tf.Tensor1D;
    const sum = tf.addN(sums) as tf.Scalar;
    const loss = sum.div(tf.maximum(tf.sum(countedK), 1)) as tf.Scalar;
    return { loss, sum, counted: countedK, correct: tf.stack(correct) as tf.Tensor1D };
  });
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
  return Array.from(counted, (n, i) => (n > 0 ? correct[i] / n : Number.NaN));
}

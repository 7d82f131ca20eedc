import * as tf from '@tensorflow/tfjs';
import { assertRank, assertShape } from './ops.js';

export interface VTraceInputs {
  /** log(pi(a_t|x_t) / mu(a_t|x_t)), [T, B]. */
  logRhos: tf.Tensor;
  /** gamma_t, zero where the episode ended at step t, [T, B]. */
  discounts: tf.Tensor;
  /** r_t (already clipped), [T, B]. */
  rewards: tf.Tensor;
  /** V(x_t), [T, B]. */
  values: tf.Tensor;
  /** V(x_T), [B]. */
  bootstrapValue: tf.Tensor;
  /** rho-bar. */
  clipRhoThreshold?: number;
  /** rho-bar used in the policy-gradient advantage. */
  clipPgRhoThreshold?: number;
}

export interface VTraceReturns {
  /** V-trace targets v_s, [T, B]. */
  vs: tf.Tensor2D;
  /** rho_s (r_s + gamma_s v_{s+1} - V(x_s)), [T, B]. */
  pgAdvantages: tf.Tensor2D;
}

/**
 * V-trace targets (IMPALA, arXiv 1802.01561, eq. 1 and remark 1), computed with the recursion
 * v_s - V(x_s) = delta_s V + gamma_s c_s (v_{s+1} - V(x_{s+1})), with c-bar = 1 (lambda = 1).
 * On-policy (logRhos = 0) this is the n-step return of A2C. The outputs are targets: callers must
 * pass them through `stopGradient` (or compute them from non-differentiated values).
 */
export function vtrace({
  logRhos,
  discounts,
  rewards,
  values,
  bootstrapValue,
  clipRhoThreshold = 1,
  clipPgRhoThreshold = 1,
}: VTraceInputs): VTraceReturns {
  assertRank(logRhos, 2, 'vtrace: logRhos', '[T, B]');
  const [T, B] = logRhos.shape as [number, number];
  assertShape(discounts, [T, B], 'vtrace: discounts');
  assertShape(rewards, [T, B], 'vtrace: rewards');
  assertShape(values, [T, B], 'vtrace: values');
  assertShape(bootstrapValue, [B], 'vtrace: bootstrapValue');
  return tf.tidy(() => {
    const rhos = tf.exp(logRhos);
    const clippedRhos = tf.minimum(rhos, clipRhoThreshold);
    const cs = tf.minimum(rhos, 1);
    const valuesTPlus1 = tf.concat([values.slice([1, 0], [T - 1, B]), bootstrapValue.reshape([1, B])], 0);
    const deltas = clippedRhos.mul(rewards.add(discounts.mul(valuesTPlus1)).sub(values));
    const deltaRows = tf.unstack(deltas);
    const decayRows = tf.unstack(discounts.mul(cs));
    const acc: tf.Tensor[] = new Array(T);
    let next: tf.Tensor = tf.zeros([B]);
    for (let t = T - 1; t >= 0; t--) {
      next = deltaRows[t]!.add(decayRows[t]!.mul(next));
      acc[t] = next;
    }
    const vs = tf.stack(acc).add(values) as tf.Tensor2D;
    const vsTPlus1 = tf.concat([vs.slice([1, 0], [T - 1, B]), bootstrapValue.reshape([1, B])], 0);
    const pgAdvantages = tf
      .minimum(rhos, clipPgRhoThreshold)
      .mul(rewards.add(discounts.mul(vsTPlus1)).sub(values)) as tf.Tensor2D;
    return { vs, pgAdvantages };
  });
}

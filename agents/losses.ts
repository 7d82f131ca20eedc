import * as tf from '@tensorflow/tfjs';

/**
 * The A2C / IMPALA loss terms, each summed over time and batch (scalable_agent's convention).
 * Shapes: logits [T, B, A], actions [T, B] int32, advantages / targets / values [T, B].
 */

/** log pi(a_t | x_t), [T, B], from logits [T, B, A] and actions [T, B]. */
export function actionLogProbs(logits: tf.Tensor, actions: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const numActions = logits.shape[logits.rank - 1]!;
    const oneHot = tf.oneHot(actions.toInt(), numActions);
    return tf.sum(tf.logSoftmax(logits).mul(oneHot), -1);
  });
}

/** -sum_t,b log pi(a_t|x_t) * A_t, with `pgAdvantages` treated as constants. */
export function policyGradientLoss(logits: tf.Tensor, actions: tf.Tensor, pgAdvantages: tf.Tensor): tf.Scalar {
  return tf.tidy(() => tf.neg(tf.sum(actionLogProbs(logits, actions).mul(pgAdvantages))));
}

/** 0.5 * sum (v_s - V(x_s))^2; the agent multiplies it by baselineCost (0.5). */
export function baselineLoss(vs: tf.Tensor, values: tf.Tensor): tf.Scalar {
  return tf.tidy(() => tf.mul(0.5, tf.sum(tf.square(vs.sub(values)))));
}

/** Negative entropy summed over time and batch: sum pi log pi. Minimising it raises entropy. */
export function entropyLoss(logits: tf.Tensor): tf.Scalar {
  return tf.tidy(() => {
    const logPolicy = tf.logSoftmax(logits);
    return tf.sum(tf.exp(logPolicy).mul(logPolicy));
  });
}

import * as tf from '@tensorflow/tfjs';

/** Throws a specific error unless `x` has rank `rank`. */
export function assertRank(x: tf.Tensor, rank: number, name: string, shapeDoc: string): void {
  if (x.rank !== rank) {
    throw new Error(`${name} must have rank ${rank} (${shapeDoc}), got shape [${x.shape.join(', ')}]`);
  }
}

/** Throws unless `x` has exactly `shape`. */
export function assertShape(x: tf.Tensor, shape: number[], name: string): void {
  if (x.rank !== shape.length || x.shape.some((d, i) => d !== shape[i])) {
    throw new Error(`${name} must have shape [${shape.join(', ')}], got [${x.shape.join(', ')}]`);
  }
}

/**
 * Identity in the forward pass, zero gradient in the backward pass (TensorFlow's `stop_gradient`,
 * which tfjs lacks). Used for V-trace targets and, optionally, InfoNCE targets.
 */
export const stopGradient: (x: tf.Tensor) => tf.Tensor = tf.customGrad((x, save) => {
  void save;
  return { value: (x as tf.Tensor).clone(), gradFunc: (dy: tf.Tensor) => tf.zerosLike(dy) };
}) as (x: tf.Tensor) => tf.Tensor;

export type RewardClipping = 'abs_one' | 'soft_asymmetric' | 'none';

/**
 * Reward clipping of scalable_agent: `abs_one` clips to [-1, 1]; `soft_asymmetric` squashes with
 * 5 tanh(r / 5) and scales negatives by 0.3.
 */
export function clipReward(r: number, mode: RewardClipping): number {
  switch (mode) {
    case 'abs_one':
      return Math.max(-1, Math.min(1, r));
    case 'soft_asymmetric': {
      const squeezed = 5 * Math.tanh(r / 5);
      return r < 0 ? 0.3 * squeezed : squeezed;
    }
    case 'none':
      return r;
  }
}

import { clipReward, type RewardClipping } from './ops.js';

/** What the loss needs per transition t = 0..T-1, each [T, B] time-major. */
export interface Transitions {
  /** r_t, the reward action a_t earned, clipped for the loss. */
  rewards: Float32Array;
  /** gamma_t: `discount`, or 0 where a_t ended the episode (V-trace does not bootstrap across it). */
  discounts: Float32Array;
  /** 1 where a_t ended the episode (InfoNCE does not predict across it). */
  dones: Uint8Array;
}

/**
 * The learner's time alignment, shared by V-trace and InfoNCE.
 *
 * An unroll holds T + 1 overlapping steps. At this point entry t of `prevRewards` and `firsts`
 * is the environment output that came with observation t: the reward of action a_{t-1} and
 * whether a_{t-1} ended its episode. The network outputs at entry t are computed from it. After
 * the following shift, entry t is the environment output that action a_t (taken on observation
 * t) led to, which is what the loss of transition t needs:
 *
 *   rewards[t]   = clip(prevRewards[t + 1])
 *   dones[t]     = firsts[t + 1]
 *   discounts[t] = dones[t] ? 0 : discount
 *
 * Entry 0 belongs to the previous unroll's last transition and is dropped; the network output at
 * entry T is used only as the bootstrap value (scalable_agent's `build_learner` does the same with
 * `env_outputs[1:]` and `learner_outputs[:-1]`).
 *
 * `prevRewards` float32 [T + 1, B], `firsts` uint8 [T + 1, B].
 */
export function alignTransitions(
  prevRewards: Float32Array,
  firsts: Uint8Array,
  T: number,
  B: number,
  discount: number,
  rewardClipping: RewardClipping,
): Transitions {
  for (const [name, a] of [['prevRewards', prevRewards], ['firsts', firsts]] as const) {
    if (a.length !== (T + 1) * B) throw new Error(`alignTransitions: ${name} must hold (T + 1) x B = ${(T + 1) * B} entries, got ${a.length}`);
  }
  const rewards = new Float32Array(T * B);
  const discounts = new Float32Array(T * B);
  const dones = firsts.slice(B);
  for (let i = 0; i < T * B; i++) {
    rewards[i] = clipReward(prevRewards[B + i]!, rewardClipping);
    discounts[i] = dones[i] ? 0 : discount;
  }
  return { rewards, discounts, dones };
}

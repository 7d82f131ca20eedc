import * as tf from '@tensorflow/tfjs';
import { Rng } from '../src/rng.js';
import { infoNCETerms, perStepAccuracy, type CpcNegatives } from './infonce.js';
import { actionLogProbs, baselineLoss, entropyLoss, policyGradientLoss } from './losses.js';
import {
  forward,
  IMPALA_SHALLOW,
  initNetworkParams,
  type CoreInputs,
  type CoreState,
  type NetworkSpec,
  type Params,
  type ParamTensors,
  variableFrom,
} from './network.js';
import { stopGradient, type RewardClipping } from './ops.js';
import { annealedLearningRate, clipByGlobalNorm, type RMSProp } from './rmsprop.js';
import { alignTransitions } from './transitions.js';
import { vtrace } from './vtrace.js';

export type AgentKind = 'baseline' | 'cpc';

/**
 * B unrolls of T steps, time-major, as plain arrays (what actors send and the learner trains on).
 * Entry t of the T + 1 observations is the input of step t; the last one overlaps the next unroll.
 */
export interface Unroll extends CoreInputs {
  T: number;
  B: number;
  /** int32 [T, B]: the action taken at step t. */
  actions: Int32Array;
  /** float32 [T, B, A]: the behaviour policy's logits at step t. */
  behaviourLogits: Float32Array;
  /** LSTM state before step 0, h and c each float32 [B, L]. */
  initialState: { h: Float32Array; c: Float32Array };
}

export interface AgentOptions {
  kind: AgentKind;
  obsShape: [number, number, number];
  numActions: number;
  seed: number;
  /** K, the number of steps ahead the CPC head predicts (cpc only). */
  cpcSteps?: number;
  /** Smaller networks for tests; default IMPALA's shallow network. */
  network?: Partial<typeof IMPALA_SHALLOW>;
  /** Only the parameters `step` uses (an actor's copy): no CPC head, which only the learner's loss reads. */
  actingOnly?: boolean;
}

/** The CPC head's parameter: W_k for k = 1..K, [K, L, Z]. */
const CPC_HEAD = 'cpc/W';

/** Loss settings: plain numbers, passed per call. */
export interface LossHyperparameters {
  discount: number;
  entropyCost: number;
  baselineCost: number;
  cpcCost: number;
  rewardClipping: RewardClipping;
  cpcNegatives: CpcNegatives;
  cpcStopGradient: boolean;
}

export interface LossTerms {
  total: tf.Scalar;
  /** The V-trace targets used, [T, B] (constants for the gradient). */
  vs: tf.Tensor2D;
  pgAdvantages: tf.Tensor2D;
  /** log pi(a_t|x_t) - log mu(a_t|x_t) of the actions taken, [T, B]: 0 where the learner's policy is the actor's. */
  logRhos: tf.Tensor2D;
  policyGradient: tf.Scalar;
  baseline: tf.Scalar;
  entropy: tf.Scalar;
  /** Mean InfoNCE over counted anchors (cpc only). */
  cpc?: tf.Scalar;
  cpcCounted?: tf.Tensor1D;
  cpcCorrect?: tf.Tensor1D;
}

export interface StepOutput {
  /** float32 [N, A]. */
  logits: Float32Array;
  /** float32 [N]. */
  values: Float32Array;
  state: CoreState;
}

export class Agent {
  readonly kind: AgentKind;
  readonly spec: NetworkSpec;
  readonly cpcSteps: number;
  readonly params: Params;
  /** The parameters `step` uses, i.e. all but the CPC head: what actors are sent. */
  readonly actingParamNames: string[];

  constructor(options: AgentOptions) {
    this.kind = options.kind;
    this.spec = { ...IMPALA_SHALLOW, ...options.network, obsShape: options.obsShape, numActions: options.numActions };
    this.cpcSteps = options.cpcSteps ?? 30;
    const rng = new Rng(options.seed);
    this.params = initNetworkParams(this.spec, rng);
    this.actingParamNames = Object.keys(this.params);
    if (this.kind === 'cpc' && !options.actingOnly) {
      // One linear map W_k per step ahead, no bias (CPC paper, section 2).
      const L = this.spec.lstmSize;
      const Z = this.spec.latentSize;
      const w = new Float32Array(this.cpcSteps * L * Z);
      for (let i = 0; i < w.length; i++) w[i] = rng.normal() / Math.sqrt(L);
      this.params[CPC_HEAD] = variableFrom(tf.tensor3d(w, [this.cpcSteps, L, Z]));
    }
  }

  /** Zero LSTM state for n environments. */
  initialState(n: number): CoreState {
    return { h: tf.zeros([n, this.spec.lstmSize]), c: tf.zeros([n, this.spec.lstmSize]) };
  }

  /** One batched inference step for N environments (the actor). Disposes nothing it was given. */
  async step(inputs: CoreInputs, n: number, state: CoreState): Promise<StepOutput> {
    const out = forward(this.spec, this.params, inputs, 1, n, state);
    const [logits, values] = await Promise.all([out.logits.data(), out.values.data()]);
    tf.dispose([out.z, out.c, out.logits, out.values]);
    return { logits: logits as Float32Array, values: values as Float32Array, state: out.state };
  }

  /**
   * The loss of DESIGN.md on a batch, as tensors (call inside `tf.variableGrads`). `fixedTargets`
   * replaces the V-trace targets by given constants (finite-difference checks hold them still).
   */
  loss(u: Unroll, hp: LossHyperparameters, fixedTargets?: { vs: tf.Tensor2D; pgAdvantages: tf.Tensor2D }): LossTerms {
    const { terms, z, c, dones } = this.rlLoss(u, hp, fixedTargets);
    if (this.kind === 'cpc') {
      const nce = infoNCETerms({ z, c, W: this.cpcHead(), dones, negatives: hp.cpcNegatives, stopGradientTargets: hp.cpcStopGradient });
      // Averaged over k, summed over (t, b): the same scale as the other terms.
      const total = terms.total.add(nce.sum.mul(hp.cpcCost / this.cpcSteps)) as tf.Scalar;
      Object.assign(terms, { total, cpc: nce.loss, cpcCounted: nce.counted, cpcCorrect: nce.correct });
    }
    return terms;
  }

  /** The CPC head W [K, L, Z] (cpc agents that are not `actingOnly`). */
  cpcHead(): tf.Variable {
    const W = this.params[CPC_HEAD];
    if (!W) throw new Error('Agent.loss: this agent was made actingOnly and has no CPC head');
    return W;
  }

  /**
   * The RL part of `loss` (policy gradient, baseline, entropy: each a sum over the batch's columns)
   * and what the CPC term is computed on: z [T, B, Z], c [T, B, L] and the transitions' dones [T, B].
   */
  rlLoss(u: Unroll, hp: LossHyperparameters, fixedTargets?: { vs: tf.Tensor2D; pgAdvantages: tf.Tensor2D }): { terms: LossTerms; z: tf.Tensor3D; c: tf.Tensor3D; dones: tf.Tensor2D } {
    const { T, B } = u;
    const A = this.spec.numActions;
    const L = this.spec.lstmSize;
    const out = forward(this.spec, this.params, u, T + 1, B, coreState(u.initialState, B));
    const logits = out.logits.slice([0, 0, 0], [T, B, A]);
    const values = out.values.slice([0, 0], [T, B]);
    const bootstrapValue = out.values.slice([T, 0], [1, B]).reshape([B]);
    const { rewards, discounts, dones } = alignTransitions(u.prevRewards, u.firsts, T, B, hp.discount, hp.rewardClipping);
    const actions = tf.tensor2d(u.actions, [T, B], 'int32');
    const behaviourLogits = tf.tensor3d(u.behaviourLogits, [T, B, A]);
    const logRhos = actionLogProbs(logits, actions).sub(actionLogProbs(behaviourLogits, actions)) as tf.Tensor2D;
    const { vs, pgAdvantages } = fixedTargets ?? vtrace({
      logRhos: stopGradient(logRhos),
      discounts: tf.tensor2d(discounts, [T, B]),
      rewards: tf.tensor2d(rewards, [T, B]),
      values: stopGradient(values),
      bootstrapValue: stopGradient(bootstrapValue),
    });
    const policyGradient = policyGradientLoss(logits, actions, pgAdvantages);
    const baseline = baselineLoss(vs, values);
    const entropy = entropyLoss(logits);
    const total = policyGradient.add(baseline.mul(hp.baselineCost)).add(entropy.mul(hp.entropyCost)) as tf.Scalar;
    return {
      terms: { policyGradient, baseline, entropy, total, vs, pgAdvantages, logRhos },
      z: out.z.slice([0, 0, 0], [T, B, this.spec.latentSize]),
      c: out.c.slice([0, 0, 0], [T, B, L]),
      dones: tf.tensor2d(dones, [T, B]),
    };
  }

  /** The values of the named parameters (default: all). */
  async getWeights(names: readonly string[] = Object.keys(this.params)): Promise<Record<string, Float32Array>> {
    const out: Record<string, Float32Array> = {};
    for (const name of names) {
      const v = this.params[name];
      if (!v) throw new Error(`getWeights: no parameter '${name}'`);
      out[name] = (await v.data()) as Float32Array;
    }
    return out;
  }

  /** Sets every parameter of this agent from `weights` (extra entries are ignored). */
  setWeights(weights: Record<string, Float32Array>): void {
    for (const [name, v] of Object.entries(this.params)) {
      const w = weights[name];
      if (!w) throw new Error(`setWeights: missing '${name}'`);
      if (w.length !== v.size) throw new Error(`setWeights: '${name}' has ${w.length} values, expected ${v.size}`);
      tf.tidy(() => v.assign(tf.tensor(w, v.shape)));
    }
  }

  dispose(): void {
    for (const v of Object.values(this.params)) v.dispose();
  }
}

/** LSTM state tensors, each [N, L], from an unroll's plain arrays. */
function coreState(state: { h: Float32Array; c: Float32Array }, n: number): CoreState {
  const L = state.h.length / n;
  return { h: tf.tensor2d(state.h, [n, L]), c: tf.tensor2d(state.c, [n, L]) };
}

/** The inputs of an unroll's first step (the arrays are time-major: its first B entries). */
function firstStep(u: Unroll): CoreInputs {
  const perStep = u.observations.length / (u.T + 1);
  return {
    observations: u.observations.subarray(0, perStep),
    prevActions: u.prevActions.subarray(0, u.B),
    prevRewards: u.prevRewards.subarray(0, u.B),
    firsts: u.firsts.subarray(0, u.B),
  };
}

export function createAgent(options: AgentOptions): Agent {
  return new Agent(options);
}

export interface TrainStepOptions extends LossHyperparameters {
  /** Base learning rate, annealed linearly to 0 over `totalFrames`. */
  learningRate: number;
  frames: number;
  totalFrames: number;
  /** Global-norm clip; 0 = off. */
  gradClip: number;
}

export interface TrainStepMetrics {
  loss: number;
  policyGradientLoss: number;
  baselineLoss: number;
  entropyLoss: number;
  learningRate: number;
  gradNorm?: number;
  cpcLoss?: number;
  /** Per k = 1..K: fraction of counted anchors whose positive wins. */
  cpcAccuracy?: number[];
  /** The loss, a gradient, a new parameter or the policy they give was not finite: nothing was changed. */
  skipped?: true;
}

/** One learner update: loss, gradients, optional clipping, TF1 RMSProp with the annealed rate. */
export async function trainStep(agent: Agent, optimizer: RMSProp, batch: Unroll, o: TrainStepOptions): Promise<TrainStepMetrics> {
  let terms: LossTerms | undefined;
  const { grads: byEngineName, value } = tf.variableGrads(() => {
    terms = agent.loss(batch, o);
    const keep = [terms.policyGradient, terms.baseline, terms.entropy, terms.cpc, terms.cpcCounted, terms.cpcCorrect];
    for (const t of keep) if (t) tf.keep(t);
    return terms.total;
  }, Object.values(agent.params));
  const t = terms!;
  // variableGrads keys gradients by the engine's variable names; the optimizer wants ours
  const grads: Record<string, tf.Tensor> = {};
  for (const [name, v] of Object.entries(agent.params)) {
    const g = byEngineName[v.name];
    if (!g) throw new Error(`trainStep: no gradient for parameter '${name}' (is it trainable?)`);
    grads[name] = g;
  }
  const step = await applyGradientStep(agent, optimizer, batch, grads, [value], o);
  const read = async (x: tf.Tensor) => (await x.data())[0]!;
  const metrics: TrainStepMetrics = {
    loss: await read(value),
    policyGradientLoss: await read(t.policyGradient),
    baselineLoss: await read(t.baseline),
    entropyLoss: await read(t.entropy),
    ...step,
  };
  if (t.cpc && t.cpcCounted && t.cpcCorrect) {
    metrics.cpcLoss = await read(t.cpc);
    metrics.cpcAccuracy = perStepAccuracy(await t.cpcCounted.data(), await t.cpcCorrect.data());
  }
  tf.dispose([value, t.policyGradient, t.baseline, t.entropy, t.cpc, t.cpcCounted, t.cpcCorrect].filter((x) => x !== undefined));
  return metrics;
}

/**
 * The parameter step of an update, given the loss gradient of `batch` by variable name (disposed
 * here): optional global-norm clipping, then TF1 RMSProp with the learning rate annealed to
 * `o.frames`. A non-finite loss (`guards`), gradient or result is never applied: parameters and
 * optimizer stay finite. Nor are finite parameters whose policy is not (a huge step overflows the
 * encoder): actors would play NaN logits and every unroll they sent would be dropped on receipt.
 */
export async function applyGradientStep(
  agent: Agent,
  optimizer: RMSProp,
  batch: Unroll,
  grads: Record<string, tf.Tensor>,
  guards: tf.Tensor[],
  o: Pick<TrainStepOptions, 'learningRate' | 'frames' | 'totalFrames' | 'gradClip'>,
): Promise<{ learningRate: number; gradNorm?: number; skipped?: true }> {
  const learningRate = annealedLearningRate(o.learningRate, o.frames, o.totalFrames);
  let gradNorm: number | undefined;
  let applied = grads;
  if (o.gradClip > 0) {
    const clipped = clipByGlobalNorm(grads, o.gradClip);
    gradNorm = (await clipped.globalNorm.data())[0];
    tf.dispose([clipped.globalNorm, ...Object.values(grads)]);
    applied = clipped.grads;
  }
  const policyProbe = (next: ParamTensors) => {
    const out = forward(agent.spec, next, firstStep(batch), 1, batch.B, coreState(batch.initialState, batch.B));
    return [out.logits, out.values];
  };
  const finite = await optimizer.applyGradientsIfFinite(agent.params, applied, learningRate, guards, policyProbe);
  tf.dispose(Object.values(applied));
  return { learningRate, ...(gradNorm !== undefined ? { gradNorm } : {}), ...(finite ? {} : { skipped: true as const }) };
}

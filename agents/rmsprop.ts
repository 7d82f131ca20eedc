import * as tf from '@tensorflow/tfjs';

export interface RMSPropOptions {
  /** Base learning rate; `applyGradients` may be given the annealed one. */
  learningRate: number;
  decay?: number;
  epsilon?: number;
  momentum?: number;
}

/** Optimizer state as plain arrays, for checkpoints. */
export interface RMSPropState {
  /** Mean square per variable name. */
  ms: Record<string, Float32Array>;
  /** Momentum accumulator per variable name (present when momentum > 0). */
  mom: Record<string, Float32Array>;
}

/**
 * RMSProp as TensorFlow 1's `tf.train.RMSPropOptimizer` defines it, which is what IMPALA's epsilon
 * values refer to: ms starts at 1 (not 0) and epsilon sits inside the square root.
 *   ms  <- decay ms + (1 - decay) g^2
 *   mom <- momentum mom + lr g / sqrt(ms + eps)
 *   var <- var - mom
 * (tfjs's own RMSProp starts ms at 0 and differs, hence this one.)
 */
export class RMSProp {
  readonly learningRate: number;
  readonly decay: number;
  readonly epsilon: number;
  readonly momentum: number;
  private readonly ms = new Map<string, tf.Variable>();
  private readonly mom = new Map<string, tf.Variable>();

  constructor({ learningRate, decay = 0.99, epsilon = 0.1, momentum = 0 }: RMSPropOptions) {
    this.learningRate = learningRate;
    this.decay = decay;
    this.epsilon = epsilon;
    this.momentum = momentum;
  }

  /** One update of every variable in `vars` that has a gradient in `grads` (matched by name). */
  applyGradients(vars: Record<string, tf.Variable>, grads: Record<string, tf.Tensor>, learningRate = this.learningRate): void {
    const next = this.nextValues(vars, grads, learningRate);
    this.assign(next);
  }

  /**
   * `applyGradients` only if every new value (variables and slots), every `guards` tensor (e.g.
   * the loss) and every tensor `probe` computes from the new variable values (e.g. the policy they
   * would play) is finite; otherwise variables and slots stay as they were and it resolves false.
   */
  async applyGradientsIfFinite(
    vars: Record<string, tf.Variable>,
    grads: Record<string, tf.Tensor>,
    learningRate = this.learningRate,
    guards: tf.Tensor[] = [],
    probe: (next: Record<string, tf.Tensor>) => tf.Tensor[] = () => [],
  ): Promise<boolean> {
    const next = this.nextValues(vars, grads, learningRate);
    const finite = tf.tidy(() => {
      const nextVars: Record<string, tf.Tensor> = {};
      for (const [name, v] of Object.entries(vars)) nextVars[name] = next.find((n) => n.target === v)?.value ?? v;
      const checked = [...next.map((n) => n.value), ...guards, ...probe(nextVars)];
      return tf.stack(checked.map((t) => tf.all(tf.isFinite(t)))).all();
    });
    const ok = (await finite.data())[0] === 1;
    finite.dispose();
    if (ok) this.assign(next);
    else tf.dispose(next.map((n) => n.value));
    return ok;
  }

  /** The new value of each variable and slot (TF1 RMSProp), not yet assigned. */
  private nextValues(vars: Record<string, tf.Variable>, grads: Record<string, tf.Tensor>, learningRate: number): { target: tf.Variable; value: tf.Tensor }[] {
    const next: { target: tf.Variable; value: tf.Tensor }[] = [];
    for (const [name, g] of Object.entries(grads)) {
      const v = vars[name];
      if (!v) throw new Error(`rmsprop: gradient for unknown variable '${name}'`);
      const ms = this.slot(this.ms, name, v, 1);
      const mom = this.momentum > 0 ? this.slot(this.mom, name, v, 0) : undefined;
      tf.tidy(() => {
        const newMs = ms.mul(this.decay).add(tf.square(g).mul(1 - this.decay));
        next.push({ target: ms, value: tf.keep(newMs) });
        let step = g.mul(learningRate).div(tf.sqrt(newMs.add(this.epsilon)));
        if (mom) {
          step = mom.mul(this.momentum).add(step);
          next.push({ target: mom, value: tf.keep(step) });
        }
        next.push({ target: v, value: tf.keep(v.sub(step)) });
      });
    }
    return next;
  }

  private assign(next: { target: tf.Variable; value: tf.Tensor }[]): void {
    for (const { target, value } of next) {
      target.assign(value);
      value.dispose();
    }
  }

  private slot(slots: Map<string, tf.Variable>, name: string, like: tf.Variable, init: number): tf.Variable {
    let s = slots.get(name);
    if (!s) {
      s = tf.variable(tf.fill(like.shape, init), false);
      slots.set(name, s);
    }
    return s;
  }

  async getState(): Promise<RMSPropState> {
    const read = async (m: Map<string, tf.Variable>) => {
      const out: Record<string, Float32Array> = {};
      for (const [k, v] of m) out[k] = (await v.data()) as Float32Array;
      return out;
    };
    return { ms: await read(this.ms), mom: await read(this.mom) };
  }

  /** Restores slots saved by `getState`; `vars` gives each slot its shape. */
  setState(state: RMSPropState, vars: Record<string, tf.Variable>): void {
    const load = (m: Map<string, tf.Variable>, saved: Record<string, Float32Array>, init: number) => {
      for (const [name, data] of Object.entries(saved)) {
        const v = vars[name];
        if (!v) throw new Error(`rmsprop: saved state for unknown variable '${name}'`);
        const slot = this.slot(m, name, v, init);
        slot.assign(tf.tensor(data, v.shape));
      }
    };
    load(this.ms, state.ms, 1);
    load(this.mom, state.mom, 0);
  }

  dispose(): void {
    for (const v of [...this.ms.values(), ...this.mom.values()]) v.dispose();
    this.ms.clear();
    this.mom.clear();
  }
}

/** The TF1-style optimizer of DESIGN.md. */
export function rmsprop(options: RMSPropOptions): RMSProp {
  return new RMSProp(options);
}

/** Learning rate annealed linearly from `learningRate` to 0 over `totalFrames`. */
export function annealedLearningRate(learningRate: number, frames: number, totalFrames: number): number {
  return learningRate * Math.max(0, 1 - frames / totalFrames);
}

/**
 * Scales every gradient by min(1, maxNorm / globalNorm) (tf.clip_by_global_norm). Returns new
 * tensors and the global norm before clipping.
 */
export function clipByGlobalNorm(
  grads: Record<string, tf.Tensor>,
  maxNorm: number,
): { grads: Record<string, tf.Tensor>; globalNorm: tf.Scalar } {
  return tf.tidy(() => {
    const globalNorm = tf.sqrt(tf.addN(Object.values(grads).map((g) => tf.sum(tf.square(g))))) as tf.Scalar;
    const scale = tf.minimum(1, tf.div(maxNorm, tf.maximum(globalNorm, 1e-12)));
    const clipped: Record<string, tf.Tensor> = {};
    for (const [k, g] of Object.entries(grads)) clipped[k] = g.mul(scale);
    return { grads: clipped, globalNorm };
  });
}

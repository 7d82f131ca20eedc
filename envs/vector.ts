/**
 * Between the two environment interfaces: `vectorOf` serves one `Environment` as a `VectorEnv` of one
 * (what the actor drives), `SingleEnv` serves a `VectorEnv` of one as an `Environment` (the DeepMind
 * Lab bridge hosting one level).
 */
import type { EnvSpec, EnvState, Environment, StepResult, VectorEnv, VectorStepBuffers } from './types.js';

/** `env` as a vector of one environment. */
export function vectorOf(env: Environment): VectorEnv {
  const size = env.spec.observationShape.reduce((a, b) => a * b, 1);
  const checked = (obs: Uint8Array): Uint8Array => {
    if (obs.length !== size) throw new Error(`environment ${env.spec.level} returned ${obs.length} bytes, expected ${size}`);
    return obs;
  };
  const vector: VectorEnv = {
    spec: env.spec,
    size: 1,
    async reset(seeds, obs) {
      obs.set(checked(await env.reset(seeds[0]!)));
    },
    async step(actions, repeat, out) {
      const r = await env.step(actions[0]!, repeat);
      out.obs.set(checked(r.obs));
      out.rewards[0] = r.reward;
      out.dones[0] = r.done ? 1 : 0;
      out.episodeReturns[0] = r.done ? (r.episodeReturn ?? 0) : 0;
      out.episodeLengths[0] = r.done ? (r.episodeLength ?? 0) : 0;
    },
    close: async () => env.close(),
  };
  if (env.busyMs) vector.busyMs = env.busyMs.bind(env);
  if (env.getState && env.setState) {
    const getState = env.getState.bind(env);
    const setState = env.setState.bind(env);
    vector.getState = () => [getState()];
    vector.setState = (states: readonly EnvState[]) => {
      if (states.length !== 1) throw new Error(`${env.spec.level}: a vector of one environment takes 1 state, got ${states.length}`);
      setState(states[0]!);
    };
  }
  return vector;
}

/** Buffers for one `VectorEnv.step` of `size` environments of `spec`. */
export function vectorStepBuffers(spec: EnvSpec, size: number): VectorStepBuffers {
  const [H, W, C] = spec.observationShape;
  return {
    obs: new Uint8Array(size * H * W * C),
    rewards: new Float64Array(size),
    dones: new Uint8Array(size),
    episodeReturns: new Float64Array(size),
    episodeLengths: new Int32Array(size),
  };
}

/** A vector of one environment as an `Environment`: the single-environment path is the batched one with E = 1. */
export class SingleEnv<V extends VectorEnv> implements Environment {
  private readonly out: VectorStepBuffers;
  private readonly action = new Int32Array(1);

  constructor(readonly vector: V) {
    if (vector.size !== 1) throw new RangeError(`SingleEnv serves a vector of one environment, got ${vector.size}`);
    this.out = vectorStepBuffers(vector.spec, 1);
  }

  get spec(): EnvSpec {
    return this.vector.spec;
  }

  async reset(seed: number): Promise<Uint8Array> {
    const obs = new Uint8Array(this.out.obs.length);
    await this.vector.reset([seed], obs);
    return obs;
  }

  async step(action: number, repeat: number): Promise<StepResult> {
    this.action[0] = action;
    await this.vector.step(this.action, repeat, this.out);
    const { out } = this;
    const obs = out.obs.slice(); // a StepResult's observation is the caller's to keep
    if (!out.dones[0]) return { obs, reward: out.rewards[0]!, done: false };
    return { obs, reward: out.rewards[0]!, done: true, episodeReturn: out.episodeReturns[0]!, episodeLength: out.episodeLengths[0]! };
  }

  close(): Promise<void> {
    return this.vector.close();
  }

  busyMs(): number {
    return this.vector.busyMs?.() ?? 0;
  }
}

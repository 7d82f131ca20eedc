import * as tf from '@tensorflow/tfjs';
import type { Agent, Unroll } from '../agents/agent.js';
import type { CoreState } from '../agents/network.js';
import { sampleActions } from '../agents/policy.js';
import type { Environment, StepResult } from '../envs/types.js';
import { Rng, type RngState } from './rng.js';

/** An episode that ended during an unroll. */
export interface EpisodeStat {
  /** Which environment of the actor. */
  env: number;
  episodeReturn: number;
  /** Agent steps. */
  episodeLength: number;
}

export interface CollectedUnroll {
  unroll: Unroll;
  episodes: EpisodeStat[];
  /** Agent steps taken (T x E). */
  steps: number;
}

/**
 * Drives E environments in lockstep with one batched inference per step and cuts the stream into
 * unrolls of T steps holding T + 1 observations; the last observation of an unroll is the first of
 * the next (IMPALA). The LSTM state carries across unrolls and is reset where episodes start.
 */
export class Actor {
  readonly numEnvs: number;
  private readonly rng: Rng;
  private state: CoreState | null = null;
  private obs: Uint8Array[] = [];
  private readonly prevActions: Int32Array;
  private readonly prevRewards: Float32Array;
  private readonly firsts: Uint8Array;
  private readonly obsSize: number;

  constructor(
    private readonly envs: Environment[],
    private readonly agent: Agent,
    private readonly options: {
      unrollLength: number;
      actionRepeat: number;
      seed: number;
      /**
       * Replaces environment `i` after it failed (e.g. its server process died). The column goes on
       * as if an episode had ended there, without episode stats; without it the failure is thrown.
       */
      replaceEnv?: (i: number, error: Error) => Promise<Environment>;
    },
  ) {
    if (envs.length === 0) throw new Error('Actor needs at least one environment');
    this.numEnvs = envs.length;
    this.rng = new Rng(options.seed);
    this.prevActions = new Int32Array(this.numEnvs);
    this.prevRewards = new Float32Array(this.numEnvs);
    this.firsts = new Uint8Array(this.numEnvs).fill(1);
    const [H, W, C] = agent.spec.obsShape;
    this.obsSize = H * W * C;
    for (const env of envs) {
      const [h, w, c] = env.spec.observationShape;
      if (h !== H || w !== W || c !== C) throw new Error(`environment ${env.spec.level} gives ${h}x${w}x${c} observations, the agent expects ${H}x${W}x${C}`);
    }
  }

  /** Resets every environment with a seed drawn from the actor's generator. */
  async start(): Promise<void> {
    this.obs = await Promise.all(this.envs.map((env) => env.reset(this.rng.seed())));
    this.state = this.agent.initialState(this.numEnvs);
    this.firsts.fill(1);
  }

  /** Generator state, for checkpoints (environment states are not checkpointed: episodes restart). */
  getRngState(): RngState {
    return this.rng.getState();
  }

  setRngState(s: RngState): void {
    this.rng.setState(s);
  }

  /** Plays T steps with the agent's current parameters. */
  async collect(): Promise<CollectedUnroll> {
    if (!this.state) throw new Error('Actor.collect called before start()');
    const T = this.options.unrollLength;
    const E = this.numEnvs;
    const A = this.agent.spec.numActions;
    const L = this.agent.spec.lstmSize;
    const unroll: Unroll = {
      T,
      B: E,
      observations: new Uint8Array((T + 1) * E * this.obsSize),
      prevActions: new Int32Array((T + 1) * E),
      prevRewards: new Float32Array((T + 1) * E),
      firsts: new Uint8Array((T + 1) * E),
      actions: new Int32Array(T * E),
      behaviourLogits: new Float32Array(T * E * A),
      initialState: { h: new Float32Array(E * L), c: new Float32Array(E * L) },
    };
    unroll.initialState.h.set(await this.state.h.data());
    unroll.initialState.c.set(await this.state.c.data());
    const episodes: EpisodeStat[] = [];
    for (let t = 0; t <= T; t++) {
      this.record(unroll, t);
      if (t === T) break;
      const inputs = {
        observations: unroll.observations.subarray(t * E * this.obsSize, (t + 1) * E * this.obsSize),
        prevActions: this.prevActions,
        prevRewards: this.prevRewards,
        firsts: this.firsts,
      };
      const out = await this.agent.step(inputs, E, this.state);
      tf.dispose([this.state.h, this.state.c]);
      this.state = out.state;
      const actions = sampleActions(out.logits, A, this.rng);
      unroll.actions.set(actions, t * E);
      unroll.behaviourLogits.set(out.logits, t * E * A);
      const results = await Promise.all(this.envs.map((env, i) => this.stepEnv(i, actions[i])));
      results.forEach((r, i) => {
        this.obs[i] = r.obs;
        this.prevActions[i] = actions[i];
        this.prevRewards[i] = r.reward;
        this.firsts[i] = r.done ? 1 : 0;
        if (r.done && r.episodeReturn !== undefined && r.episodeLength !== undefined) {
          episodes.push({ env: i, episodeReturn: r.episodeReturn, episodeLength: r.episodeLength });
        }
      });
    }
    return { unroll, episodes, steps: T * E };
  }

  private async stepEnv(i: number, action: number): Promise<StepResult> {
    try {
      return await this.envs[i].step(action, this.options.actionRepeat);
    } catch (err) {
      if (!this.options.replaceEnv) throw err;
      this.envs[i] = await this.options.replaceEnv(i, err as Error);
      const obs = await this.envs[i].reset(this.rng.seed());
      return { obs, reward: 0, done: true };
    }
  }

  private record(u: Unroll, t: number): void {
    const E = this.numEnvs;
    for (let i = 0; i < E; i++) {
      if (this.obs[i].length !== this.obsSize) throw new Error(`environment ${i} returned ${this.obs[i].length} bytes, expected ${this.obsSize}`);
      u.observations.set(this.obs[i], (t * E + i) * this.obsSize);
    }
    u.prevActions.set(this.prevActions, t * E);
    u.prevRewards.set(this.prevRewards, t * E);
    u.firsts.set(this.firsts, t * E);
  }

  dispose(): void {
    if (this.state) tf.dispose([this.state.h, this.state.c]);
    this.state = null;
  }
}

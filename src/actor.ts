import * as tf from '@tensorflow/tfjs';
import type { Agent, Unroll } from '../agents/agent.js';
import type { CoreState } from '../agents/network.js';
import { sampleActions } from '../agents/policy.js';
import type { EnvState, Environment, StepResult } from '../envs/types.js';
import { actorSeed, envsPerActor, localActorSeed, type Config } from './config.js';
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
 * Everything that decides what an actor plays next, for a bit-exact resume: its generator, the LSTM
 * state `[E, L]`, the last observation, action, reward and episode-start flag of each environment,
 * and each environment's own state.
 */
export interface ActorState {
  rng: RngState;
  h: Float32Array;
  c: Float32Array;
  /** One `[H, W, 3]` observation per environment. */
  obs: Uint8Array[];
  prevActions: Int32Array;
  prevRewards: Float32Array;
  firsts: Uint8Array;
  envs: EnvState[];
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

  /** Resets every environment with a seed drawn from the actor's generator (`firstEnvSeeds`). */
  async start(): Promise<void> {
    this.obs = await Promise.all(this.envs.map((env) => env.reset(this.rng.seed())));
    this.state = this.agent.initialState(this.numEnvs);
    this.firsts.fill(1);
  }

  /** Generator state, for checkpoints of actors whose environments cannot save theirs (episodes restart). */
  getRngState(): RngState {
    return this.rng.getState();
  }

  /** Restores the generator before `start()`, which then reseeds the environments as the saved run would have. */
  setRngState(s: RngState): void {
    this.rng.setState(s);
  }

  /** Whether `getState` can capture every environment (in-process ones can; env servers and DeepMind Lab cannot). */
  get canSaveState(): boolean {
    return this.envs.every((e) => e.getState && e.setState);
  }

  /** The whole state between two unrolls (after `start()`), for a bit-exact resume; see `canSaveState`. */
  async getState(): Promise<ActorState> {
    if (!this.state) throw new Error('Actor.getState called before start()');
    return {
      rng: this.rng.getState(),
      h: (await this.state.h.data()) as Float32Array,
      c: (await this.state.c.data()) as Float32Array,
      obs: this.obs.map((o) => o.slice()),
      prevActions: this.prevActions.slice(),
      prevRewards: this.prevRewards.slice(),
      firsts: this.firsts.slice(),
      envs: this.envs.map((e, i) => {
        if (!e.getState) throw new Error(`environment ${i} (${e.spec.level}) cannot save its state`);
        return e.getState();
      }),
    };
  }

  /** Continues from `getState()` of an actor with the same environments and agent; replaces `start()`. */
  setState(s: ActorState): void {
    const E = this.numEnvs;
    const L = this.agent.spec.lstmSize;
    const sizes: [string, number, number][] = [
      ['h', s.h.length, E * L],
      ['c', s.c.length, E * L],
      ['obs', s.obs.length, E],
      ['prevActions', s.prevActions.length, E],
      ['prevRewards', s.prevRewards.length, E],
      ['firsts', s.firsts.length, E],
      ['envs', s.envs.length, E],
    ];
    for (const [what, got, want] of sizes) if (got !== want) throw new Error(`actor state: ${what} has ${got} entries, this actor needs ${want} (${E} environments, LSTM ${L})`);
    s.obs.forEach((o, i) => {
      if (o.length !== this.obsSize) throw new Error(`actor state: observation ${i} has ${o.length} bytes, expected ${this.obsSize}`);
    });
    this.envs.forEach((e, i) => {
      if (!e.setState) throw new Error(`environment ${i} (${e.spec.level}) cannot restore a state`);
      e.setState(s.envs[i]!); // one per environment: checked above
    });
    this.rng.setState(s.rng);
    this.obs = s.obs.map((o) => o.slice());
    this.prevActions.set(s.prevActions);
    this.prevRewards.set(s.prevRewards);
    this.firsts.set(s.firsts);
    if (this.state) tf.dispose([this.state.h, this.state.c]);
    this.state = { h: tf.tensor2d(s.h, [E, L]), c: tf.tensor2d(s.c, [E, L]) };
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
      const results = await Promise.all(this.envs.map((env, i) => this.stepEnv(env, i, actions[i]!)));
      results.forEach((r, i) => {
        this.obs[i] = r.obs;
        this.prevActions[i] = actions[i]!;
        this.prevRewards[i] = r.reward;
        this.firsts[i] = r.done ? 1 : 0;
        if (r.done && r.episodeReturn !== undefined && r.episodeLength !== undefined) {
          episodes.push({ env: i, episodeReturn: r.episodeReturn, episodeLength: r.episodeLength });
        }
      });
    }
    return { unroll, episodes, steps: T * E };
  }

  private async stepEnv(env: Environment, i: number, action: number): Promise<StepResult> {
    try {
      return await env.step(action, this.options.actionRepeat);
    } catch (err) {
      if (!this.options.replaceEnv) throw err;
      const fresh = await this.options.replaceEnv(i, err as Error);
      this.envs[i] = fresh;
      const obs = await fresh.reset(this.rng.seed());
      return { obs, reward: 0, done: true };
    }
  }

  private record(u: Unroll, t: number): void {
    const E = this.numEnvs;
    for (const [i, o] of this.obs.entries()) {
      if (o.length !== this.obsSize) throw new Error(`environment ${i} returned ${o.length} bytes, expected ${this.obsSize}`);
      u.observations.set(o, (t * E + i) * this.obsSize);
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

/** The seeds `Actor.start` resets `numEnvs` environments with: the first draws of its generator. */
export function firstEnvSeeds(seed: number, numEnvs: number): number[] {
  const rng = new Rng(seed);
  return Array.from({ length: numEnvs }, () => rng.seed());
}

/**
 * The reset seeds of every environment of a new run of `config` (one process, or the first incarnation
 * of each actor process), e.g. to compile their DeepMind Lab maps ahead of the run.
 */
export function runEnvSeeds(config: Config): number[] {
  if (config.actors === 0) return firstEnvSeeds(localActorSeed(config), config.batch);
  return Array.from({ length: config.actors }, (_, k) => firstEnvSeeds(actorSeed(config, k + 1), envsPerActor(config))).flat();
}

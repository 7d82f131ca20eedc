import * as tf from '@tensorflow/tfjs';
import type { Agent, Unroll } from '../agents/agent.js';
import type { CoreState } from '../agents/network.js';
import { sampleActions } from '../agents/policy.js';
import type { EnvState, VectorEnv, VectorStepBuffers } from '../envs/types.js';
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

/** One vector of the actor's environments, with views of the actor's buffers for its columns. */
interface Group {
  env: VectorEnv;
  /** Its first column. */
  offset: number;
  actions: Int32Array;
  out: VectorStepBuffers;
}

/**
 * Drives E environments in lockstep with one batched inference per step and cuts the stream into
 * unrolls of T steps holding T + 1 observations; the last observation of an unroll is the first of
 * the next (IMPALA). The LSTM state carries across unrolls and is reset where episodes start.
 *
 * The environments come as vectors (`VectorEnv`), their columns side by side: one DeepMind Lab bridge
 * hosting all E levels, or E environments each a vector of one (`vectorOf`). Every step writes into
 * the same buffers.
 */
export class Actor {
  readonly numEnvs: number;
  /** Busy time of environments replaced after a failure (`busyMs` stays monotone). */
  private retiredBusyMs = 0;
  private readonly rng: Rng;
  private state: CoreState | null = null;
  private readonly groups: Group[];
  /** What every step writes: `[E, H, W, C]` observations, rewards, dones (the next step's `firsts`), episode stats. */
  private readonly out: VectorStepBuffers;
  private readonly actions: Int32Array;
  private readonly prevActions: Int32Array;
  private readonly prevRewards: Float32Array;
  private readonly obsSize: number;

  constructor(
    envs: readonly VectorEnv[],
    private readonly agent: Agent,
    private readonly options: {
      unrollLength: number;
      actionRepeat: number;
      seed: number;
      /**
       * Replaces vector `g` of `envs` after it failed (e.g. its server process died). Its columns go on
       * as if their episodes had ended there, without episode stats; without it the failure is thrown.
       */
      replaceEnv?: (g: number, error: Error) => Promise<VectorEnv>;
    },
  ) {
    if (envs.length === 0) throw new Error('Actor needs at least one environment');
    this.numEnvs = envs.reduce((n, e) => n + e.size, 0);
    this.rng = new Rng(options.seed);
    this.actions = new Int32Array(this.numEnvs);
    this.prevActions = new Int32Array(this.numEnvs);
    this.prevRewards = new Float32Array(this.numEnvs);
    const [H, W, C] = agent.spec.obsShape;
    this.obsSize = H * W * C;
    this.out = {
      obs: new Uint8Array(this.numEnvs * this.obsSize),
      rewards: new Float64Array(this.numEnvs),
      dones: new Uint8Array(this.numEnvs).fill(1),
      episodeReturns: new Float64Array(this.numEnvs),
      episodeLengths: new Int32Array(this.numEnvs),
    };
    let offset = 0;
    this.groups = envs.map((env) => {
      const [h, w, c] = env.spec.observationShape;
      if (h !== H || w !== W || c !== C) throw new Error(`environment ${env.spec.level} gives ${h}x${w}x${c} observations, the agent expects ${H}x${W}x${C}`);
      const at = (a: Uint8Array | Int32Array | Float64Array, per = 1) => a.subarray(offset * per, (offset + env.size) * per);
      const o = this.out;
      const group: Group = {
        env,
        offset,
        actions: at(this.actions) as Int32Array,
        out: {
          obs: at(o.obs, this.obsSize) as Uint8Array,
          rewards: at(o.rewards) as Float64Array,
          dones: at(o.dones) as Uint8Array,
          episodeReturns: at(o.episodeReturns) as Float64Array,
          episodeLengths: at(o.episodeLengths) as Int32Array,
        },
      };
      offset += env.size;
      return group;
    });
  }

  /** `firsts[i]` = 1 where observation i starts an episode: the last step's dones. */
  private get firsts(): Uint8Array {
    return this.out.dones;
  }

  /** Seeds for the columns of `g`, drawn in column order from the actor's generator. */
  private seedsFor(g: Group): number[] {
    return Array.from({ length: g.env.size }, () => this.rng.seed());
  }

  /** Resets every environment with a seed drawn from the actor's generator (`firstEnvSeeds`). */
  async start(): Promise<void> {
    const seeds = this.groups.map((g) => this.seedsFor(g));
    await Promise.all(this.groups.map((g, k) => g.env.reset(seeds[k]!, g.out.obs)));
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

  /** Time the environments have announced themselves busy (map compiles), summed, replaced ones included; monotone. */
  busyMs(): number {
    return this.groups.reduce((ms, g) => ms + (g.env.busyMs?.() ?? 0), this.retiredBusyMs);
  }

  /** Whether `getState` can capture every environment (in-process ones can; env servers and DeepMind Lab cannot). */
  get canSaveState(): boolean {
    return this.groups.every((g) => g.env.getState && g.env.setState);
  }

  /** The whole state between two unrolls (after `start()`), for a bit-exact resume; see `canSaveState`. */
  async getState(): Promise<ActorState> {
    if (!this.state) throw new Error('Actor.getState called before start()');
    return {
      rng: this.rng.getState(),
      h: (await this.state.h.data()) as Float32Array,
      c: (await this.state.c.data()) as Float32Array,
      obs: Array.from({ length: this.numEnvs }, (_, i) => this.out.obs.slice(i * this.obsSize, (i + 1) * this.obsSize)),
      prevActions: this.prevActions.slice(),
      prevRewards: this.prevRewards.slice(),
      firsts: this.firsts.slice(),
      envs: this.groups.flatMap((g) => {
        if (!g.env.getState) throw new Error(`environments ${g.offset}..${g.offset + g.env.size - 1} (${g.env.spec.level}) cannot save their state`);
        return g.env.getState();
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
    for (const g of this.groups) {
      if (!g.env.setState) throw new Error(`environments ${g.offset}..${g.offset + g.env.size - 1} (${g.env.spec.level}) cannot restore a state`);
      g.env.setState(s.envs.slice(g.offset, g.offset + g.env.size));
    }
    this.rng.setState(s.rng);
    s.obs.forEach((o, i) => this.out.obs.set(o, i * this.obsSize));
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
    const { out } = this;
    for (let t = 0; t <= T; t++) {
      this.record(unroll, t);
      if (t === T) break;
      const inputs = {
        observations: unroll.observations.subarray(t * E * this.obsSize, (t + 1) * E * this.obsSize),
        prevActions: this.prevActions,
        prevRewards: this.prevRewards,
        firsts: this.firsts,
      };
      const step = await this.agent.step(inputs, E, this.state);
      tf.dispose([this.state.h, this.state.c]);
      this.state = step.state;
      this.actions.set(sampleActions(step.logits, A, this.rng));
      unroll.actions.set(this.actions, t * E);
      unroll.behaviourLogits.set(step.logits, t * E * A);
      await Promise.all(this.groups.map((_, k) => this.stepGroup(k)));
      this.prevActions.set(this.actions);
      this.prevRewards.set(out.rewards);
      for (let i = 0; i < E; i++) {
        if (out.dones[i] && out.episodeLengths[i]! > 0) episodes.push({ env: i, episodeReturn: out.episodeReturns[i]!, episodeLength: out.episodeLengths[i]! });
      }
    }
    return { unroll, episodes, steps: T * E };
  }

  private async stepGroup(k: number): Promise<void> {
    const g = this.groups[k]!;
    try {
      await g.env.step(g.actions, this.options.actionRepeat, g.out);
    } catch (err) {
      if (!this.options.replaceEnv) throw err;
      this.retiredBusyMs += g.env.busyMs?.() ?? 0;
      g.env = await this.options.replaceEnv(k, err as Error);
      await g.env.reset(this.seedsFor(g), g.out.obs);
      g.out.rewards.fill(0);
      g.out.dones.fill(1);
      g.out.episodeReturns.fill(0);
      g.out.episodeLengths.fill(0);
    }
  }

  private record(u: Unroll, t: number): void {
    const E = this.numEnvs;
    u.observations.set(this.out.obs, t * E * this.obsSize);
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

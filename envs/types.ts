import type { z } from 'zod';

/**
 * The one interface every environment implements: the TypeScript mocks and built-in levels (sync),
 * and remote env servers / the DeepMind Lab bridge (async). Callers always `await` the results.
 *
 * Semantics (DESIGN.md, "Conventions"):
 * - observations are RGB uint8, row-major `[H, W, 3]`, flattened into one `Uint8Array`;
 * - `step(action, repeat)` repeats the action `repeat` environment frames (stopping early if the
 *   episode ends) and returns the summed reward;
 * - on `done` the environment resets itself with a fresh seed from its own seeded generator; the
 *   reward of the `done` step belongs to the episode that ended, and the returned `obs` is the first
 *   observation of the next episode; `episodeReturn` / `episodeLength` (agent steps) describe the
 *   episode that just ended.
 */
export type Awaitable<T> = T | Promise<T>;

export interface EnvSpec {
  /** `[H, W, C]`, C = 3 (RGB). */
  observationShape: [number, number, number];
  /** Number of discrete actions (9 for the IMPALA action set). */
  numActions: number;
  /** Level name, e.g. `mock:memory`, `builtin:rooms_watermaze`, `dmlab:rooms_watermaze`. */
  level: string;
  /** Episode length in agent steps, when fixed. */
  episodeLength?: number;
}

export interface StepResult {
  obs: Uint8Array;
  reward: number;
  done: boolean;
  /** Present only when `done`: the return of the episode that ended (unclipped rewards). */
  episodeReturn?: number;
  /** Present only when `done`: the length in agent steps of the episode that ended. */
  episodeLength?: number;
}

export interface Environment {
  readonly spec: EnvSpec;
  /** Starts a new episode; all randomness of the environment derives from `seed`. */
  reset(seed: number): Awaitable<Uint8Array>;
  step(action: number, repeat: number): Awaitable<StepResult>;
  close(): Awaitable<void>;
  /**
   * Time the environment has announced itself busy so far (a DeepMind Lab map compile, or a wait
   * for one), in ms, monotone; absent where it never is. Lets a watchdog tell a compile from a hang.
   */
  busyMs?(): number;
  /**
   * In-process environments only: everything that decides what the environment does next (its
   * generators, the episode so far, the level's state), as plain msgpack-able data, so a
   * checkpoint can resume it bit-exactly. Environments in other processes (env servers, DeepMind
   * Lab) have none: a resumed run starts new episodes there.
   */
  getState?(): EnvState;
  /** Continues from a `getState()` of an environment of the same spec; a mismatch throws. */
  setState?(state: EnvState): void;
}

/**
 * Where `VectorEnv.step` writes: row i belongs to environment i of the vector. The caller owns the
 * buffers and passes the same ones every step, so a step allocates nothing.
 */
export interface VectorStepBuffers {
  /** `[E, H, W, 3]`: each environment's next observation (the next episode's first where `dones`). */
  obs: Uint8Array;
  /** `[E]` summed over the repeat (unclipped). */
  rewards: Float64Array;
  /** `[E]` 1 where the step ended the episode, else 0. */
  dones: Uint8Array;
  /** `[E]` the return of the episode that ended where `dones`, else 0. */
  episodeReturns: Float64Array;
  /** `[E]` the length in agent steps of the episode that ended where `dones` (0: unknown, e.g. the environment was replaced), else 0. */
  episodeLengths: Int32Array;
}

/**
 * E environments of one spec stepped together (the E levels of one DeepMind Lab bridge, or one
 * `Environment` as a vector of one, `vectorOf`), with the semantics of `Environment` per row.
 */
export interface VectorEnv {
  readonly spec: EnvSpec;
  /** E, the number of environments. */
  readonly size: number;
  /** Starts a new episode in environment i from `seeds[i]`; writes the first observations into `obs` `[E, H, W, 3]`. */
  reset(seeds: readonly number[], obs: Uint8Array): Promise<void>;
  /** Steps environment i with `actions[i]` (`[E]`), `repeat` frames each, and writes the results into `out`. */
  step(actions: Int32Array, repeat: number, out: VectorStepBuffers): Promise<void>;
  close(): Promise<void>;
  /**
   * Time the environment has announced itself busy so far (a DeepMind Lab map compile, or a wait
   * for one), in ms, monotone; absent where it never is. Lets a watchdog tell a compile from a hang.
   */
  busyMs?(): number;
  /** One `Environment.getState` per row, where every environment has one. */
  getState?(): EnvState[];
  setState?(states: readonly EnvState[]): void;
}

/** What `Environment.getState` returns: plain data, checked by the environment that reads it. */
export type EnvState = Record<string, unknown>;

/** The error of a state that the environment of `level` cannot restore. */
export function envStateError(level: string, why: string): Error {
  return new Error(`${level}: cannot restore environment state: ${why}`);
}

/** `state` parsed by the environment's own schema, and checked to be a state of `level`. */
export function parseEnvState<T extends { level: string }>(level: string, schema: z.ZodType<T>, state: EnvState): T {
  const parsed = schema.safeParse(state);
  if (!parsed.success) throw envStateError(level, parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; '));
  if (parsed.data.level !== level) throw envStateError(level, `it is a state of ${parsed.data.level}`);
  return parsed.data;
}

/** Options every environment factory accepts. */
export interface EnvOptions {
  /** Shorter episodes (agent steps), for quick runs and tests; default: the level's own length. */
  episodeLength?: number;
}

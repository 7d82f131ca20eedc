/**
 * `BuiltinEnv`: runs a `Level` behind the `Environment` interface (synchronously), with DeepMind
 * Lab's frame-repeat semantics: an agent step repeats its action for `repeat` frames, sums their
 * rewards, stops early if the episode ends, and renders only the last frame.
 *
 * Episodes last `spec.episodeLength` agent steps (whatever the repeat), except that a level may end
 * one sooner (keys_doors, at its goal).
 */
import { z } from 'zod';
import { ACTION_REPEAT, ACTION_SET } from '../actions.js';
import { envStateError, parseEnvState, type EnvOptions, type EnvSpec, type EnvState, type Environment, type StepResult } from '../types.js';
import { Rng, rngStateSchema } from '../../src/rng.js';
import type { Level } from './level.js';
import { Raycaster } from './raycaster.js';

/** DeepMind Lab runs at 60 frames per second. */
export const FRAMES_PER_SECOND = 60;
export const DEFAULT_HEIGHT = 72;
export const DEFAULT_WIDTH = 96;

export interface BuiltinEnvOptions extends EnvOptions {
  /** Observation height in pixels (default 72). */
  height?: number;
  /** Observation width in pixels (default 96). */
  width?: number;
}

/** Agent steps of a DeepMind Lab episode of `seconds` at 60 fps and action repeat 4. */
export function episodeSteps(seconds: number): number {
  return Math.round((seconds * FRAMES_PER_SECOND) / ACTION_REPEAT);
}

/**
 * A built-in environment's state: a level is a pure function of its episode seed and the actions
 * taken since (levels draw every random event from the episode's generator), so the state is that
 * seed, the actions and the generator of the next episodes' seeds; `setState` replays the actions.
 */
const builtinEnvState = z.strictObject({
  level: z.string(),
  seeds: rngStateSchema,
  episodeSeed: z.number().int().min(0).max(0xffffffff),
  actions: z.array(z.number().int().min(0).max(ACTION_SET.length - 1)),
  repeats: z.array(z.number().int().positive()),
});

export class BuiltinEnv implements Environment {
  readonly spec: EnvSpec;
  /** The running level; scripted policies, the map view and tests read it. */
  readonly level: Level;
  private readonly renderer: Raycaster;
  private readonly episodeLength: number;
  /** Draws each episode's seed; itself seeded by `reset`. */
  private seeds: Rng | undefined;
  private episodeSeed = 0;
  private steps = 0;
  private episodeReturn = 0;
  /** This episode's actions and repeats so far (what `getState` saves). */
  private actions: number[] = [];
  private repeats: number[] = [];

  constructor(level: Level, opts: BuiltinEnvOptions = {}) {
    const height = opts.height ?? DEFAULT_HEIGHT;
    const width = opts.width ?? DEFAULT_WIDTH;
    const episodeLength = opts.episodeLength ?? episodeSteps(level.episodeSeconds);
    if (!Number.isInteger(episodeLength) || episodeLength < 1) {
      throw new RangeError(`episodeLength must be a positive integer, got ${episodeLength}`);
    }
    this.level = level;
    this.episodeLength = episodeLength;
    this.renderer = new Raycaster(width, height);
    this.spec = {
      observationShape: [height, width, 3],
      numActions: ACTION_SET.length,
      level: `builtin:${level.name}`,
      episodeLength,
    };
  }

  reset(seed: number): Uint8Array {
    this.seeds = new Rng(seed);
    this.beginEpisode();
    return this.observe();
  }

  step(action: number, repeat: number): StepResult {
    if (!this.seeds) throw new Error(`${this.spec.level}: step() before reset()`);
    if (!Number.isInteger(action) || action < 0 || action >= ACTION_SET.length) {
      throw new RangeError(`${this.spec.level}: action must be an integer in [0, ${ACTION_SET.length}), got ${action}`);
    }
    if (!Number.isInteger(repeat) || repeat < 1) {
      throw new RangeError(`${this.spec.level}: repeat must be a positive integer, got ${repeat}`);
    }
    const reward = this.advance(action, repeat);
    if (!this.level.finished && this.steps < this.episodeLength) {
      return { obs: this.observe(), reward, done: false };
    }
    const result = { reward, done: true, episodeReturn: this.episodeReturn, episodeLength: this.steps };
    this.beginEpisode();
    return { obs: this.observe(), ...result };
  }

  close(): void {}

  getState(): EnvState {
    if (!this.seeds) throw new Error(`${this.spec.level}: getState() before reset()`);
    return { level: this.spec.level, seeds: this.seeds.getState(), episodeSeed: this.episodeSeed, actions: [...this.actions], repeats: [...this.repeats] };
  }

  setState(state: EnvState): void {
    const s = parseEnvState(this.spec.level, builtinEnvState, state);
    const bad = (why: string) => envStateError(this.spec.level, why);
    if (s.actions.length !== s.repeats.length || s.actions.length >= this.episodeLength) throw bad(`${s.actions.length} actions for an episode of ${this.episodeLength} steps`);
    this.seeds = new Rng(s.seeds);
    this.startEpisode(s.episodeSeed);
    s.actions.forEach((a, i) => {
      this.advance(a, s.repeats[i]!);
      if (this.level.finished) throw bad('the replayed episode ended early');
    });
  }

  /** A copy of the current view, `[H, W, 3]` uint8. */
  observe(): Uint8Array {
    const { level } = this;
    return this.renderer.render(level.grid, level.agent, level.sprites, level.style).slice();
  }

  /** Plays one agent step's frames (no rendering); returns their summed reward. */
  private advance(action: number, repeat: number): number {
    const dmlabAction = ACTION_SET[action]!.action;
    let reward = 0;
    for (let f = 0; f < repeat && !this.level.finished; f++) reward += this.level.frame(dmlabAction);
    this.steps++;
    this.episodeReturn += reward;
    this.actions.push(action);
    this.repeats.push(repeat);
    return reward;
  }

  private beginEpisode(): void {
    this.startEpisode((this.seeds as Rng).seed());
  }

  private startEpisode(seed: number): void {
    this.episodeSeed = seed;
    this.steps = 0;
    this.episodeReturn = 0;
    this.actions = [];
    this.repeats = [];
    this.level.begin(new Rng(seed));
  }
}

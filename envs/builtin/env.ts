/**
 * `BuiltinEnv`: runs a `Level` behind the `Environment` interface (synchronously), with DeepMind
 * Lab's frame-repeat semantics: an agent step repeats its action for `repeat` frames, sums their
 * rewards, stops early if the episode ends, and renders only the last frame.
 *
 * Episodes last `spec.episodeLength` agent steps (whatever the repeat), except that a level may end
 * one sooner (keys_doors, at its goal).
 */
import { ACTION_REPEAT, ACTION_SET } from '../actions.js';
import type { EnvOptions, EnvSpec, Environment, StepResult } from '../types.js';
import { Rng } from '../../src/rng.js';
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

export class BuiltinEnv implements Environment {
  readonly spec: EnvSpec;
  /** The running level; scripted policies, the map view and tests read it. */
  readonly level: Level;
  private readonly renderer: Raycaster;
  private readonly episodeLength: number;
  /** Draws each episode's seed; itself seeded by `reset`. */
  private seeds: Rng | undefined;
  private steps = 0;
  private episodeReturn = 0;

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
    const dmlabAction = ACTION_SET[action].action;
    let reward = 0;
    for (let f = 0; f < repeat && !this.level.finished; f++) reward += this.level.frame(dmlabAction);
    this.steps++;
    this.episodeReturn += reward;
    if (!this.level.finished && this.steps < this.episodeLength) {
      return { obs: this.observe(), reward, done: false };
    }
    const result = { reward, done: true, episodeReturn: this.episodeReturn, episodeLength: this.steps };
    this.beginEpisode();
    return { obs: this.observe(), ...result };
  }

  close(): void {}

  /** A copy of the current view, `[H, W, 3]` uint8. */
  observe(): Uint8Array {
    const { level } = this;
    return this.renderer.render(level.grid, level.agent, level.sprites, level.style).slice();
  }

  private beginEpisode(): void {
    this.steps = 0;
    this.episodeReturn = 0;
    this.level.begin(new Rng((this.seeds as Rng).seed()));
  }
}

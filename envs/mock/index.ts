import { z } from 'zod';
import { Rng, rngStateSchema } from '../../src/rng.js';
import { envStateError, parseEnvState, type EnvOptions, type EnvSpec, type EnvState, type Environment, type StepResult } from '../types.js';

/**
 * Tiny deterministic environments for tests and quick runs. They tick once per agent step (the
 * action repeat only counts frames), and observations are small (24x24) but go through the same
 * encoder as real levels.
 */
export const MOCK_OBS_SHAPE: [number, number, number] = [24, 24, 3];
const NUM_ACTIONS = 9;

/** What a mock level defines; the shared `MockEnv` does seeding, auto-reset and episode stats. */
interface MockLevel {
  episodeLength: number;
  /** Best achievable episode return (for tests and progress). */
  optimalReturn: number;
  /** Starts an episode. */
  begin(rng: Rng): void;
  /** Reward of `action` at step `t` of the episode. */
  reward(action: number, t: number): number;
  /** Draws the observation of step `t` into `obs` (zeroed, [H, W, 3]). */
  draw(obs: Uint8Array, t: number): void;
}

function fill(obs: Uint8Array, rgb: [number, number, number], x0 = 0, x1 = MOCK_OBS_SHAPE[1], y0 = 0, y1 = MOCK_OBS_SHAPE[0]): void {
  const W = MOCK_OBS_SHAPE[1];
  for (let y = y0; y < y1; y++) for (let x = x0; x < x1; x++) obs.set(rgb, (y * W + x) * 3);
}

/** `mock:bandit`: a constant grey screen; action 3 pays +1, every step, 10 steps an episode. */
function bandit(): MockLevel {
  return {
    episodeLength: 10,
    optimalReturn: 10,
    begin: () => {},
    reward: (action) => (action === 3 ? 1 : 0),
    draw: (obs) => fill(obs, [128, 128, 128]),
  };
}

/**
 * `mock:memory`: step 0 shows a cue (red or green); then `delay` grey steps; then a blue query
 * screen where action 0 pays after red and action 1 after green. Only memory beats 0.5.
 */
function memory(delay = 4): MockLevel {
  let cue = 0;
  return {
    episodeLength: delay + 2,
    optimalReturn: 1,
    begin: (rng) => {
      cue = rng.int(2);
    },
    reward: (action, t) => (t === delay + 1 && action === cue ? 1 : 0),
    draw: (obs, t) => {
      if (t === 0) fill(obs, cue === 0 ? [255, 0, 0] : [0, 255, 0]);
      else if (t === delay + 1) fill(obs, [0, 0, 255]);
      else fill(obs, [96, 96, 96]);
    },
  };
}

/**
 * `mock:predictable`: a vertical and a horizontal bar drift at constant speeds from a random start,
 * so the future frames follow from the past ones and differ between episodes (CPC can predict them).
 * No reward.
 */
function predictable(): MockLevel {
  const [H, W] = MOCK_OBS_SHAPE;
  let x0 = 0;
  let y0 = 0;
  return {
    episodeLength: 200,
    optimalReturn: 0,
    begin: (rng) => {
      x0 = rng.int(W);
      y0 = rng.int(H);
    },
    reward: () => 0,
    draw: (obs, t) => {
      // 3-pixel bars that wrap around the edges
      for (let i = 0; i < 3; i++) {
        const x = (x0 + t + i) % W;
        const y = (y0 + 2 * t + i) % H;
        fill(obs, [255, 255, 0], x, x + 1, 0, H);
        fill(obs, [0, 255, 255], 0, W, y, y + 1);
      }
    },
  };
}

/** A mock's state: its seed generator, the episode's seed (the level redraws its layout from it), the step and return so far. */
const mockEnvState = z.strictObject({
  level: z.string(),
  seeds: rngStateSchema,
  episodeSeed: z.number().int().min(0).max(0xffffffff),
  t: z.number().int().nonnegative(),
  episodeReturn: z.number(),
});

export const MOCK_LEVELS = { bandit, memory, predictable } as const;
export type MockName = keyof typeof MOCK_LEVELS;

class MockEnv implements Environment {
  readonly spec: EnvSpec;
  private rng = new Rng(0);
  private episodeSeed = 0;
  private t = 0;
  private episodeReturn = 0;
  private readonly size: number;

  constructor(
    name: MockName,
    private readonly level: MockLevel,
  ) {
    this.spec = { observationShape: MOCK_OBS_SHAPE, numActions: NUM_ACTIONS, level: `mock:${name}`, episodeLength: level.episodeLength };
    this.size = MOCK_OBS_SHAPE[0] * MOCK_OBS_SHAPE[1] * MOCK_OBS_SHAPE[2];
  }

  get optimalReturn(): number {
    return this.level.optimalReturn;
  }

  reset(seed: number): Uint8Array {
    this.rng = new Rng(seed);
    return this.begin();
  }

  step(action: number, repeat: number): StepResult {
    if (!Number.isInteger(action) || action < 0 || action >= NUM_ACTIONS) {
      throw new Error(`${this.spec.level}: action must be an integer in [0, ${NUM_ACTIONS}), got ${action}`);
    }
    if (!Number.isInteger(repeat) || repeat < 1) throw new Error(`${this.spec.level}: repeat must be a positive integer, got ${repeat}`);
    const reward = this.level.reward(action, this.t);
    this.episodeReturn += reward;
    this.t++;
    if (this.t < this.level.episodeLength) return { obs: this.observe(), reward, done: false };
    const ended = { episodeReturn: this.episodeReturn, episodeLength: this.t };
    return { obs: this.begin(), reward, done: true, ...ended };
  }

  close(): void {}

  getState(): EnvState {
    return { level: this.spec.level, seeds: this.rng.getState(), episodeSeed: this.episodeSeed, t: this.t, episodeReturn: this.episodeReturn };
  }

  setState(state: EnvState): void {
    const s = parseEnvState(this.spec.level, mockEnvState, state);
    if (s.t >= this.level.episodeLength) throw envStateError(this.spec.level, `step ${s.t} of an episode of ${this.level.episodeLength}`);
    this.rng = new Rng(s.seeds);
    this.episodeSeed = s.episodeSeed;
    this.level.begin(new Rng(s.episodeSeed));
    this.t = s.t;
    this.episodeReturn = s.episodeReturn;
  }

  private begin(): Uint8Array {
    this.t = 0;
    this.episodeReturn = 0;
    this.episodeSeed = this.rng.seed();
    this.level.begin(new Rng(this.episodeSeed));
    return this.observe();
  }

  private observe(): Uint8Array {
    const obs = new Uint8Array(this.size);
    this.level.draw(obs, this.t);
    return obs;
  }
}

/** `makeMockEnv('memory')` etc.; `opts.episodeLength` is not supported by mocks (their length is their point). */
export function makeMockEnv(name: string, opts: EnvOptions = {}): MockEnv {
  if (!(name in MOCK_LEVELS)) {
    throw new Error(`unknown mock environment 'mock:${name}'; valid: ${Object.keys(MOCK_LEVELS).map((n) => `mock:${n}`).join(', ')}`);
  }
  if (opts.episodeLength !== undefined) throw new Error(`mock:${name} has a fixed episode length (${MOCK_LEVELS[name as MockName]().episodeLength})`);
  return new MockEnv(name as MockName, MOCK_LEVELS[name as MockName]());
}

/**
 * The DeepMind Lab levels of the CPC paper (section 3.4) as presets, and level-name resolution.
 *
 * Paths: in a DeepMind Lab build four of the five live under `contributed/dmlab30/`; only
 * `seekavoid_arena_01` is at the top level of game_scripts/levels (a bare `rooms_watermaze` fails
 * with `Level not found`). Episode lengths are the levels' `episodeLengthSeconds`
 * (google-deepmind/lab game_scripts/levels/contributed/dmlab30/*.lua, seekavoid_arena_01.lua; the
 * explore factory's default of 90 s), at 60 fps.
 *
 * Human and random scores are DMLab-30's, from deepmind/scalable_agent `dmlab30.py`
 * (`HUMAN_SCORES`, `RANDOM_SCORES`), used by IMPALA for the human-normalised score
 * `100 * (return - random) / (human - random)`. seekavoid_arena_01 is not in DMLab-30 and has none.
 */

export interface DmlabLevel {
  /** Path relative to game_scripts/levels, as `deepmind_lab.Lab` takes it. */
  path: string;
  episodeLengthSeconds: number;
  /** DMLab-30 human score, where one exists. */
  humanScore?: number;
  /** DMLab-30 random-agent score, where one exists. */
  randomScore?: number;
}

export const DMLAB_FPS = 60;

export const DMLAB_LEVELS = {
  rooms_watermaze: { path: 'contributed/dmlab30/rooms_watermaze', episodeLengthSeconds: 120, humanScore: 54, randomScore: 4.065 },
  explore_goal_locations_small: {
    path: 'contributed/dmlab30/explore_goal_locations_small',
    episodeLengthSeconds: 90,
    humanScore: 267.5,
    randomScore: 7.66,
  },
  seekavoid_arena_01: { path: 'seekavoid_arena_01', episodeLengthSeconds: 20 },
  lasertag_three_opponents_small: {
    path: 'contributed/dmlab30/lasertag_three_opponents_small',
    episodeLengthSeconds: 240,
    humanScore: 18.55,
    randomScore: -0.214,
  },
  rooms_keys_doors_puzzle: { path: 'contributed/dmlab30/rooms_keys_doors_puzzle', episodeLengthSeconds: 60, humanScore: 53.8, randomScore: 4.135 },
} as const satisfies Record<string, DmlabLevel>;

export type DmlabLevelName = keyof typeof DMLAB_LEVELS;

export interface ResolvedLevel {
  /** What `deepmind_lab.Lab` is given. */
  path: string;
  /** The preset, when the name or path is one of the five. */
  preset?: DmlabLevel & { name: DmlabLevelName };
}

/**
 * `rooms_watermaze` -> `contributed/dmlab30/rooms_watermaze` (a preset); a path with a `/`, or any
 * other name, goes to DeepMind Lab as given (top-level levels such as `lt_chasm` need no prefix).
 */
export function resolveDmlabLevel(name: string): ResolvedLevel {
  for (const [short, level] of Object.entries(DMLAB_LEVELS) as [DmlabLevelName, DmlabLevel][]) {
    if (name === short || name === level.path) return { path: level.path, preset: { name: short, ...level } };
  }
  return { path: name };
}

/** Agent steps in an episode of `seconds` at `fps` with `actionRepeat` frames per step. */
export function episodeSteps(seconds: number, actionRepeat: number, fps = DMLAB_FPS): number {
  return Math.ceil((seconds * fps) / actionRepeat);
}

/** IMPALA's human-normalised score in percent, or undefined for a level without DMLab-30 scores. */
export function humanNormalizedScore(level: string, episodeReturn: number): number | undefined {
  const { preset } = resolveDmlabLevel(level.replace(/^dmlab:/, ''));
  if (preset?.humanScore === undefined || preset.randomScore === undefined) return undefined;
  return (100 * (episodeReturn - preset.randomScore)) / (preset.humanScore - preset.randomScore);
}

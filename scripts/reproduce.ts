/**
 * `npm run reproduce`: the RL experiment of the CPC paper (section 3.4) end to end. A paired random
 * search (baseline and CPC on the same sampled configurations) on the five levels, test-mode
 * evaluation of every run, then the report: figure 6, CPC accuracy against k, tables, HTML.
 *
 *   npm run reproduce                          # built-in levels, the small-budget protocol (README), ~2 hours on 2 cores
 *   npm run reproduce -- --tiny                # minutes: proves the pipeline, learns nothing
 *   npm run reproduce -- --dmlab [--paper]     # DeepMind Lab levels (--python, --dmlab-path), optionally the paper's scale
 *
 * Killed, it continues where it stopped when run again with the same flags.
 */
import fs from 'node:fs';
import path from 'node:path';
import { Command } from 'commander';
import { BUILTIN_LEVEL_NAMES } from '../envs/builtin/index.js';
import { DMLAB_LEVELS } from '../envs/dmlab/levels.js';
import { evaluate, formatEval } from '../src/eval.js';
import { EVAL_FILE, findRunDirs, readRunRecord, type EvalRecord } from '../src/experiments/results.js';
import { runSearch } from '../src/experiments/search.js';
import { type Distribution, SEARCH_SPACE, SearchConfigSchema, type SearchSpace } from '../src/experiments/study.js';
import { loadLatestCheckpoint } from '../src/checkpoint.js';
import { formatDuration } from '../src/metrics.js';
import { writeReport } from '../src/plots/report.js';
import { RECIPE_NAMES, type Recipe, SMALL_BUDGET_LEVEL_RECIPES, SMALL_BUDGET_RECIPE, SMALL_BUDGET_TRAIN } from '../src/experiments/protocol.js';

/** The small-budget protocol's recipe as a search space that fixes every setting. */
const SMALL_RECIPE = {
  entropyCost: { choice: [SMALL_BUDGET_RECIPE.entropyCost] },
  learningRate: { choice: [SMALL_BUDGET_RECIPE.learningRate] },
  rmspropEpsilon: { choice: [SMALL_BUDGET_RECIPE.rmspropEpsilon] },
};

/**
 * The scales. `small` (the default): 3 seeds of the recipe x 2 agents x 5 levels = 30 runs of 800k
 * frames (B = 16, T = 20), two at a time: ~1 h 40 min of training at the throughput measured on
 * this 2-core machine (below), plus a few minutes of evaluation. `tiny`: the pipeline in minutes.
 * `paper`: IMPALA D.1's search, 24 configurations, B = 32, full-length episodes, 1e9 frames per run
 * (the horizon of the paper's figure 6). Every scale trains the paper's batched A2C (`--mode sync`,
 * lag 0), not the `train` default (async, lag 1): it is the algorithm the study reproduces.
 */
const SCALES = {
  small: {
    trials: 3,
    frames: 800_000,
    evalEpisodes: 2,
    parallel: 2,
    space: SMALL_RECIPE,
    levelRecipes: true,
    train: { ...SMALL_BUDGET_TRAIN, returnWindow: 20 },
  },
  tiny: { trials: 3, frames: 1_280, evalEpisodes: 2, parallel: 1, space: SMALL_RECIPE, levelRecipes: true, train: { batch: 4, unroll: 40, cpcSteps: 10, episodeLength: 20, returnWindow: 8, mode: 'sync' } },
  paper: { trials: 24, frames: 1_000_000_000, evalEpisodes: 100, parallel: 1, space: SEARCH_SPACE, levelRecipes: false, train: { batch: 32, unroll: 100, returnWindow: 100, mode: 'sync' } },
} as const;

/**
 * Training throughput (frames/s, whole runs, two runs side by side, one per core) measured on this
 * 2-core machine with the small protocol's settings (B = 16, T = 20, K = 10, wasm): baseline on
 * rooms_keys_doors_puzzle 2,139, CPC on seekavoid_arena_01 ~2,080; for the estimate.
 */
const MEASURED_FPS = { baseline: 2100, cpc: 2000 } as const;
/** Seconds between one run's end and the next one's first frame (process, tfjs, wasm start). */
const PROCESS_START_S = 3;

const program = new Command()
  .name('reproduce')
  .description("the CPC paper's RL study: paired random search, evaluation, figure 6 and report")
  .option('--tiny', 'a minutes-long run of the whole pipeline (learns nothing)')
  .option('--dmlab', 'the DeepMind Lab levels instead of the built-in ones (needs DeepMind Lab; see README)')
  .option('--paper', "the paper's scale: 24 configurations, B = 32, full episodes, 1e9 frames a run")
  .option('--trials <n>', 'sampled configurations (overrides the scale)', Number)
  .option('--frames <n>', 'frames per run (overrides the scale)', Number)
  .option('--parallel <n>', 'runs at once, each in its own process (a run keeps one core busy; default: 2 for the small scale, 1 otherwise)', Number)
  .option('--seed <n>', 'seed of the configurations', Number, 1)
  .option('--eval-episodes <n>', 'test episodes per run (overrides the scale)', Number)
  .option('--out <dir>', 'study folder (default runs/reproduce-<builtin|dmlab>[-tiny|-paper])')
  .option('--python <path>', 'Python 3 with deepmind_lab (--dmlab)')
  .option('--dmlab-path <dir>', 'directory holding deepmind_lab (--dmlab)')
  .parse();

interface Options {
  tiny?: boolean;
  dmlab?: boolean;
  paper?: boolean;
  trials?: number;
  frames?: number;
  parallel?: number;
  seed: number;
  evalEpisodes?: number;
  out?: string;
  python?: string;
  dmlabPath?: string;
}

/** Whether the space fixes every setting (one value each): the runs differ only in their seeds. */
function fixedRecipe(space: SearchSpace): boolean {
  return Object.values(space).every((d) => 'choice' in d && d.choice.length === 1);
}

function describeRecipe(space: SearchSpace): string {
  const value = (d: Distribution) => ('choice' in d ? d.choice.join('|') : d.logUniform.join('..'));
  return (Object.keys(RECIPE_NAMES) as (keyof Recipe)[]).map((k) => `${RECIPE_NAMES[k]} ${value(space[k])}`).join(', ');
}

function describeDeparture(r: Partial<Recipe>): string {
  return (Object.keys(r) as (keyof Recipe)[]).map((k) => `${RECIPE_NAMES[k]} ${r[k]}`).join(', ') + ' (its own, see src/experiments/protocol.ts)';
}

/** Was this run evaluated already with these settings (a restarted reproduce skips it)? */
function evaluated(runDir: string, episodes: number): boolean {
  const file = path.join(runDir, EVAL_FILE);
  if (!fs.existsSync(file)) return false;
  const e = JSON.parse(fs.readFileSync(file, 'utf8')) as EvalRecord;
  return e.episodes === episodes && e.checkpointFrames === loadLatestCheckpoint(runDir)?.frames;
}

async function main(o: Options): Promise<number> {
  if (o.tiny && o.paper) throw new Error('--tiny and --paper exclude each other');
  const scaleName = o.tiny ? 'tiny' : o.paper ? 'paper' : 'small';
  const scale = SCALES[scaleName];
  const family = o.dmlab ? 'dmlab' : 'builtin';
  const levels = (o.dmlab ? Object.keys(DMLAB_LEVELS) : BUILTIN_LEVEL_NAMES).map((l) => `${family}:${l}`);
  const out = o.out ?? path.join('runs', `reproduce-${family}${scaleName === 'small' ? '' : `-${scaleName}`}`);
  // the recipe's per-level departures were measured on the built-in levels, so only they get them
  const levelTrain = scale.levelRecipes && !o.dmlab ? Object.fromEntries(Object.entries(SMALL_BUDGET_LEVEL_RECIPES).map(([l, r]) => [`builtin:${l}`, r])) : {};
  const config = SearchConfigSchema.parse({
    levels,
    trials: o.trials ?? scale.trials,
    seed: o.seed,
    parallel: o.parallel ?? scale.parallel,
    space: scale.space,
    levelTrain,
    out,
    train: { ...scale.train, frames: o.frames ?? scale.frames, ...(o.dmlab ? { python: o.python, dmlabPath: o.dmlabPath } : {}) },
  });
  const evalEpisodes = o.evalEpisodes ?? scale.evalEpisodes;
  const runsPerAgent = config.trials * levels.length;
  const trainSeconds = (runsPerAgent * config.train.frames!) / MEASURED_FPS.baseline + (runsPerAgent * config.train.frames!) / MEASURED_FPS.cpc;
  const estimate = (trainSeconds + 2 * runsPerAgent * PROCESS_START_S) / config.parallel;
  console.log(
    `reproduce (${scaleName}${o.dmlab ? ', DeepMind Lab' : ''}): ${config.trials} ${fixedRecipe(config.space) ? `seeds of one recipe (${describeRecipe(config.space)})` : 'sampled configurations'} x 2 agents x ${levels.length} levels = ${2 * runsPerAgent} runs of ` +
      `${config.train.frames} frames (B = ${config.train.batch}, T = ${config.train.unroll}${config.train.episodeLength ? `, episodes of ${config.train.episodeLength} steps` : ''}), ` +
      `${config.parallel} at a time, into ${out}\n` +
      Object.entries(levelTrain).map(([l, r]) => `  ${l}: ${describeDeparture(r)}\n`).join('') +
      `estimated training time at this machine's measured ${MEASURED_FPS.baseline} (baseline) / ${MEASURED_FPS.cpc} (cpc) frames/s: ${formatDuration(estimate)}` +
      (o.dmlab ? ' (DeepMind Lab itself renders slower than the built-in levels: expect more)' : ''),
  );

  const stop = new AbortController();
  process.once('SIGINT', () => {
    console.error('\nreproduce: stopping after the current updates, with checkpoints; run the same command again to continue');
    stop.abort();
  });
  const search = await runSearch(config, { signal: stop.signal });
  if (stop.signal.aborted) return 130;

  const finished = new Set([...search.skipped, ...search.finished].map((k) => path.resolve(out, k)));
  const toEvaluate = findRunDirs([out]).filter((d) => finished.has(d) && !evaluated(d, evalEpisodes));
  console.log(`evaluating ${toEvaluate.length} runs in test mode (${evalEpisodes} episodes each)`);
  for (const runDir of toEvaluate) {
    if (stop.signal.aborted) return 130;
    const r = await evaluate({ runDir, episodes: evalEpisodes, seed: readRunRecord(runDir).seed, backend: config.train.backend });
    console.log(formatEval({ ...r, runDir: path.relative(out, runDir) }));
  }

  const report = await writeReport({ paths: [out], out: path.join(out, 'report'), title: `CPC paper, section 3.4, reproduced (${scaleName} scale, ${family} levels)` });
  console.log(`report: ${report.html}\nfigures: ${report.figures.map((f) => f.png).join(', ')}\ntables: ${report.tables.join(', ')}`);
  if (search.failed.length || search.unfinished.length) {
    console.log(`${search.failed.length} runs failed, ${search.unfinished.length} unfinished: run the same command again to continue them`);
    return 1;
  }
  return 0;
}

main(program.opts<Options>()).then(
  (code) => (process.exitCode = code),
  (err: unknown) => {
    console.error(`reproduce: ${err instanceof Error ? err.message : String(err)}`);
    process.exitCode = 1;
  },
);

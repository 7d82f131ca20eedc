/**
 * A study: the paired random search of the CPC paper (section 3.4) and IMPALA (appendix D.1).
 * One seeded list of N hyperparameter configurations is shared by every agent and level, so each
 * CPC run has a baseline twin with the same hyperparameters and seed. This module holds the
 * settings schema, the sampling, the study file and the run plan; `search.ts` runs the plan.
 */
import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { ConfigSchema, verifyConfig, type ConfigInput } from '../config.js';
import { Rng } from '../rng.js';
import { gitCommit, writeFileAtomic } from '../run.js';

const positive = z.number().positive();
/** A distribution of one searched setting: log-uniform between two bounds, or uniform over a list (one value: fixed). */
const DistributionSchema = z.union([
  z.object({ logUniform: z.tuple([positive, positive]).refine(([lo, hi]) => lo <= hi, 'logUniform: lo must be <= hi') }).strict(),
  z.object({ choice: z.array(positive).min(1) }).strict(),
]);
export type Distribution = z.output<typeof DistributionSchema>;

/** IMPALA D.1: the distributions the paper's search draws from (the default space). */
export const SEARCH_SPACE = {
  entropyCost: { logUniform: [5e-5, 1e-2] },
  learningRate: { logUniform: [5e-6, 5e-3] },
  rmspropEpsilon: { choice: [1e-1, 1e-3, 1e-5, 1e-7] },
} as const satisfies Record<string, Distribution>;

export const SearchSpaceSchema = z
  .object({ entropyCost: DistributionSchema, learningRate: DistributionSchema, rmspropEpsilon: DistributionSchema })
  .strict()
  .default(SEARCH_SPACE);
export type SearchSpace = z.output<typeof SearchSpaceSchema>;

/** Train settings the search sets per run; every other train setting is shared by the whole study. */
const PER_RUN = { env: true, agent: true, seed: true, name: true, runDir: true, entropyCost: true, learningRate: true, rmspropEpsilon: true } as const;
export const PER_RUN_KEYS = Object.keys(PER_RUN) as (keyof typeof PER_RUN)[];

/**
 * Settings of one level's runs that replace the study's (shared and sampled alike): a level that
 * needs its own entropy cost, say. What identifies a run (level, agent, seed, folder) stays the plan's.
 */
const levelKeys = ConfigSchema.omit({ env: true, agent: true, seed: true, name: true, runDir: true });
export type LevelTrain = Partial<z.output<typeof levelKeys>>;
/** Every setting optional and without its default: an unset one must not replace the study's. */
const LevelTrainSchema = z
  .object(Object.fromEntries(Object.entries(levelKeys.shape).map(([k, t]) => [k, (t instanceof z.ZodDefault ? t.unwrap() : t).optional()])))
  .strict() as unknown as z.ZodType<LevelTrain>;

export const SearchConfigSchema = z
  .object({
    levels: z.array(z.string().min(1)).min(1).describe('environments, one figure panel each: builtin:<level>, dmlab:<level> or mock:<name>'),
    agents: z.array(ConfigSchema.shape.agent.unwrap()).min(1).default(['baseline', 'cpc']).describe('agents trained on every configuration'),
    trials: z.number().int().positive().default(24).describe('N, sampled hyperparameter configurations (24 in the paper)'),
    seed: z.number().int().nonnegative().default(1).describe('seeds the list of configurations, and through it every run'),
    parallel: z.number().int().positive().default(1).describe('runs trained at once, each in its own process'),
    out: z.string().min(1).describe('study folder: study.json and one run folder per (level, agent, trial)'),
    train: ConfigSchema.omit(PER_RUN).partial().default({}).describe('train settings shared by every run (frames, batch, unroll, ...)'),
    space: SearchSpaceSchema.describe("distributions of entropy cost, learning rate and RMSProp epsilon (default IMPALA D.1's)"),
    levelTrain: z.record(z.string(), LevelTrainSchema).default({}).describe('per level: settings that replace the shared and sampled ones on that level'),
  })
  .strict()
  .superRefine((c, ctx) => {
    for (const level of Object.keys(c.levelTrain)) {
      if (!c.levels.includes(level)) {
        ctx.addIssue({ code: 'custom', path: ['levelTrain', level], message: `levelTrain: ${level} is not one of the study's levels (${c.levels.join(', ')})` });
      }
    }
  });

export type SearchConfigInput = z.input<typeof SearchConfigSchema>;
export type SearchConfig = z.output<typeof SearchConfigSchema>;

/** One sampled configuration, shared by every (level, agent) of the study. */
export interface Trial {
  trial: number;
  /** The run seed of every run of this trial (paired runs share it). */
  seed: number;
  entropyCost: number;
  learningRate: number;
  rmspropEpsilon: number;
}

/** `study.json`: what a restarted search must reproduce exactly. */
export interface Study {
  version: 1;
  levels: string[];
  agents: SearchConfig['agents'];
  seed: number;
  train: SearchConfig['train'];
  /** Absent in studies written before it existed: IMPALA D.1's. */
  space?: SearchSpace;
  /** Absent in studies written before it existed: none. */
  levelTrain?: Record<string, LevelTrain>;
  trials: Trial[];
  createdAt: string;
  gitCommit: string | null;
}

/** One run of the plan. */
export interface PlannedRun {
  /** `<level folder>/<agent>-t<trial>`, unique in the study. */
  key: string;
  level: string;
  agent: SearchConfig['agents'][number];
  trial: number;
  runDir: string;
  config: ConfigInput;
}

export const STUDY_FILE = 'study.json';

/** Uniform in log space: log(x) ~ U[log lo, log hi]. */
export function logUniform(rng: Rng, lo: number, hi: number): number {
  return Math.exp(rng.uniform(Math.log(lo), Math.log(hi)));
}

/** One draw from `d` (exactly one draw from `rng` whatever `d` is, so the run seeds do not depend on the space). */
function sample(rng: Rng, d: Distribution): number {
  return 'logUniform' in d ? logUniform(rng, ...d.logUniform) : d.choice[rng.int(d.choice.length)]!;
}

/** The seeded list of `n` configurations drawn from `space`; the same seed gives the same list. */
export function sampleTrials(n: number, seed: number, space: SearchSpace = SEARCH_SPACE): Trial[] {
  const rng = new Rng(seed);
  return Array.from({ length: n }, (_, trial) => ({
    trial,
    seed: rng.int(2 ** 31),
    entropyCost: sample(rng, space.entropyCost),
    learningRate: sample(rng, space.learningRate),
    rmspropEpsilon: sample(rng, space.rmspropEpsilon),
  }));
}

/** `builtin:rooms_watermaze` -> `builtin-rooms_watermaze` (a folder name that keeps the family). */
export function levelFolder(level: string): string {
  return level.replace(':', '-').replace(/[^\w.-]/g, '_');
}

/** The study a search config describes (sampling its trials). */
export function createStudy(c: SearchConfig): Study {
  return {
    version: 1,
    levels: c.levels,
    agents: c.agents,
    seed: c.seed,
    train: c.train,
    space: c.space,
    levelTrain: c.levelTrain,
    trials: sampleTrials(c.trials, c.seed, c.space),
    createdAt: new Date().toISOString(),
    gitCommit: gitCommit(),
  };
}

/** Every run of the study, trial by trial, so the first finished trials already pair every agent on every level. */
export function planRuns(study: Study, outDir: string): PlannedRun[] {
  const runs: PlannedRun[] = [];
  for (const t of study.trials) {
    for (const level of study.levels) {
      for (const agent of study.agents) {
        const key = `${levelFolder(level)}/${agent}-t${String(t.trial).padStart(2, '0')}`;
        const runDir = path.join(outDir, key);
        const config: ConfigInput = {
          ...study.train,
          env: level,
          agent,
          seed: t.seed,
          learningRate: t.learningRate,
          entropyCost: t.entropyCost,
          rmspropEpsilon: t.rmspropEpsilon,
          ...study.levelTrain?.[level],
          name: key.replace('/', '-'),
          runDir,
        };
        runs.push({ key, level, agent, trial: t.trial, runDir, config });
      }
    }
  }
  return runs;
}

/** Every invalid setting of every planned run, reported at once before anything starts. */
export function verifyPlan(runs: PlannedRun[]): string[] {
  return runs.flatMap((r) => {
    const v = verifyConfig(r.config);
    const errors = v.ok ? [] : v.errors;
    // each run is one process (actor and learner together, the paper's batched A2C); --parallel runs several
    if ((r.config.actors ?? 0) > 0) errors.push('actors: a search trains each run in one process (--actors 0); use --parallel to run several at once');
    return errors.map((e) => `${r.key}: ${e}`);
  });
}

export function readStudy(outDir: string): Study | null {
  const file = path.join(outDir, STUDY_FILE);
  if (!fs.existsSync(file)) return null;
  const study = JSON.parse(fs.readFileSync(file, 'utf8')) as Study;
  if (study.version !== 1) throw new Error(`${file} has study format version ${String(study.version)}, expected 1`);
  return study;
}

export function writeStudy(outDir: string, study: Study): void {
  fs.mkdirSync(outDir, { recursive: true });
  writeFileAtomic(path.join(outDir, STUDY_FILE), JSON.stringify(study, null, 2) + '\n');
}

/**
 * The study stored in `outDir`, or a new one written there. A stored study must match `c`
 * (levels, agents, trials, seed, train settings, space, per-level settings): a restarted search continues the same runs.
 */
export function openStudy(c: SearchConfig): Study {
  const fresh = createStudy(c);
  const stored = readStudy(c.out);
  if (!stored) {
    writeStudy(c.out, fresh);
    return fresh;
  }
  const storedWithDefaults = { ...stored, space: stored.space ?? SEARCH_SPACE, levelTrain: stored.levelTrain ?? {} };
  const differs = (['levels', 'agents', 'seed', 'train', 'space', 'levelTrain', 'trials'] as const).filter(
    (k) => JSON.stringify(storedWithDefaults[k]) !== JSON.stringify(fresh[k]),
  );
  if (differs.length) {
    throw new Error(
      `${path.join(c.out, STUDY_FILE)} holds another study (different ${differs.join(', ')}); continue it with \`cpc-lab search --resume ${c.out}\`, or choose another --out`,
    );
  }
  return stored;
}

/** The search config of a stored study, to resume it (optionally with another `parallel`). */
export function searchConfigOf(outDir: string, parallel?: number): SearchConfig {
  const study = readStudy(outDir);
  if (!study) throw new Error(`cannot resume: ${path.join(outDir, STUDY_FILE)} does not exist (is ${outDir} a study folder?)`);
  return SearchConfigSchema.parse({
    levels: study.levels,
    agents: study.agents,
    trials: study.trials.length,
    seed: study.seed,
    train: study.train,
    space: study.space ?? SEARCH_SPACE,
    levelTrain: study.levelTrain ?? {},
    out: outDir,
    ...(parallel !== undefined ? { parallel } : {}),
  });
}

import { z } from 'zod';

/**
 * The one configuration schema of cpc-lab: every setting with its type, default and a one-line doc.
 * The CLI only translates flags into it; tests and the random search call `train(config)` directly.
 * Defaults are scalable_agent's (IMPALA) and the CPC paper's.
 */
export const BACKEND_CHOICES = ['auto', 'tfjs-node-gpu', 'tfjs-node', 'webgpu', 'wasm', 'cpu'] as const;

export const ConfigSchema = z
  .object({
    env: z.string().min(1).default('builtin:rooms_watermaze').describe('environment: mock:<name>, builtin:<level> or dmlab:<level>'),
    episodeLength: z.number().int().positive().optional().describe('shorten episodes to this many agent steps (levels that allow it)'),
    agent: z.enum(['baseline', 'cpc']).default('cpc').describe('baseline A2C/IMPALA agent, or with the CPC auxiliary loss'),
    frames: z.number().int().positive().default(200_000).describe('environment frames to train for (agent steps x action repeat)'),
    seed: z.number().int().nonnegative().default(1).describe('seed of every random choice of the run'),
    name: z
      .string()
      .regex(/^[\w.-]+$/, 'letters, digits, ".", "_" and "-" only')
      .max(100, 'at most 100 characters')
      .refine((n) => n !== '.' && n !== '..', 'must name a folder inside runs/, not "." or ".."')
      .optional()
      .describe('run name (default <agent>-<level>-s<seed>)'),
    runDir: z.string().optional().describe('run directory (default runs/<name>)'),
    backend: z.enum(BACKEND_CHOICES).default('auto').describe('tensor backend; auto picks the best available'),
    actors: z.number().int().nonnegative().default(0).describe('actor processes; 0 = actor and learner in this process (--local)'),
    envsPerActor: z.number().int().positive().optional().describe('environments per actor, each in its own process (dmlab: all in one bridge process); default batch / actors'),
    mode: z
      .enum(['sync', 'async'])
      .default('async')
      .describe('async (default): IMPALA, acting overlaps learning, V-trace corrects the lag (at most maxPolicyLag); sync: the CPC paper\'s batched A2C, every batch from the latest parameters (lag 0, acting and learning alternate)'),
    maxPolicyLag: z
      .number()
      .int()
      .nonnegative()
      .default(1)
      .describe('async: the learner asks actor processes for no more than it trains within L versions, and drops (counts) any unroll older; one process plays the next batch during an update when L >= 1 (lag exactly 1); sync is always 0'),
    learnerThreads: z
      .union([z.literal('auto'), z.number().int().positive()])
      .default('auto')
      .describe('learner worker threads, each computing the gradient of its share of the batch (wasm, cpu); auto = the cores actors and environments leave free (of the run\'s share: a search with --parallel P gives each run 1/P); 1 = on the main thread (async single process: one worker)'),
    learnerEndpoint: z.string().default('tcp://127.0.0.1:*').describe('where the learner binds for actors (port * = any free port)'),
    curveKeys: z.string().optional().describe('file of ZeroMQ CURVE keys (cpc-lab keygen); required to bind beyond 127.0.0.1'),
    heartbeatTimeout: z.number().positive().default(120).describe('seconds of silence after which a process is declared dead and replaced'),
    stallTimeout: z.number().positive().default(300).describe('seconds without a learner update, every process alive and ready and no DeepMind Lab map compiling, after which the actors (then the learner) are restarted'),
    batch: z.number().int().positive().default(32).describe('B, unrolls per learner batch'),
    unroll: z.number().int().positive().default(100).describe('T, agent steps per unroll'),
    actionRepeat: z.number().int().positive().default(4).describe('environment frames per agent step'),
    learningRate: z.number().positive().default(0.00048).describe('RMSProp learning rate, annealed linearly to 0 over the run'),
    entropyCost: z.number().nonnegative().default(0.00025).describe('weight of the entropy regulariser'),
    baselineCost: z.number().nonnegative().default(0.5).describe('weight of the value loss'),
    cpcCost: z.number().nonnegative().default(1).describe('weight of InfoNCE (cpc agent)'),
    cpcSteps: z.number().int().positive().default(30).describe('K, steps ahead predicted by the CPC head'),
    cpcNegatives: z.enum(['batch', 'batch-time']).default('batch').describe('InfoNCE negatives: other unrolls at t+k, or every other (t, b)'),
    cpcStopGradient: z.boolean().default(false).describe('treat z_{t+k} as a constant target in InfoNCE'),
    discount: z.number().min(0).max(1).default(0.99).describe('gamma'),
    rewardClipping: z.enum(['abs_one', 'soft_asymmetric', 'none']).default('abs_one').describe('reward clipping for the loss'),
    rmspropEpsilon: z.number().positive().default(0.1).describe('RMSProp epsilon (TF1: inside the square root)'),
    rmspropDecay: z.number().min(0).max(1).default(0.99).describe('RMSProp decay'),
    rmspropMomentum: z.number().min(0).max(1).default(0).describe('RMSProp momentum'),
    gradClip: z.number().nonnegative().default(0).describe('global-norm gradient clip; 0 = off (40 is the usual value)'),
    python: z.string().optional().describe('Python 3 for dmlab: levels (default $CPC_LAB_PYTHON, else python3)'),
    dmlabPath: z.string().optional().describe('directory holding the deepmind_lab module of your build (default $CPC_LAB_DMLAB_PATH)'),
    dmlabCompileTimeout: z
      .number()
      .positive()
      .default(600)
      .describe("seconds one DeepMind Lab map compile may last before its bridge is stopped and replaced (a wait for another bridge's compile ends with it)"),
    maxSkippedUpdates: z.number().int().positive().default(5).describe('non-finite updates in a row (skipped, never applied) after which training stops with an error'),
    checkpointEvery: z.number().positive().default(600).describe('seconds between checkpoints (one is also written at the end and on Ctrl-C)'),
    keepCheckpoints: z.number().int().positive().default(3).describe('checkpoints kept (older ones are deleted)'),
    progressEvery: z.number().positive().default(5).describe('seconds between progress lines'),
    imageEvery: z.number().nonnegative().default(300).describe('seconds between observation images in the TensorBoard events (the first update has one; 0 = none)'),
    returnWindow: z.number().int().positive().default(100).describe('episodes averaged in the reported mean return'),
  })
  .strict();

export type ConfigInput = z.input<typeof ConfigSchema>;
export type Config = z.output<typeof ConfigSchema>;

/** The sections of `train --help`, in order; every setting is in exactly one (checked below). */
export const CONFIG_GROUPS = {
  Environment: ['env', 'episodeLength', 'actionRepeat', 'python', 'dmlabPath', 'dmlabCompileTimeout'],
  Agent: ['agent', 'discount', 'rewardClipping', 'baselineCost', 'entropyCost'],
  CPC: ['cpcCost', 'cpcSteps', 'cpcNegatives', 'cpcStopGradient'],
  Optimisation: ['frames', 'batch', 'unroll', 'learningRate', 'rmspropEpsilon', 'rmspropDecay', 'rmspropMomentum', 'gradClip', 'maxSkippedUpdates'],
  Runtime: ['seed', 'backend', 'actors', 'envsPerActor', 'mode', 'maxPolicyLag', 'learnerThreads', 'learnerEndpoint', 'curveKeys', 'heartbeatTimeout', 'stallTimeout'],
  Logging: ['name', 'runDir', 'progressEvery', 'returnWindow', 'imageEvery', 'checkpointEvery', 'keepCheckpoints'],
} as const satisfies Record<string, readonly (keyof Config)[]>;

/** A setting of the schema missing from CONFIG_GROUPS is a type error here. */
type Ungrouped = Exclude<keyof Config, (typeof CONFIG_GROUPS)[keyof typeof CONFIG_GROUPS][number]>;
const everySettingGrouped: [Ungrouped] extends [never] ? true : Ungrouped = true;
void everySettingGrouped;

/** What the learner can bind: TCP with a host and a port (or * for any free one), or an ipc:// path. */
const ENDPOINT = /^(tcp:\/\/(\[[0-9a-fA-F:.]+\]|[\w.-]+|\*):(\d{1,5}|\*)|ipc:\/\/\S+)$/;

export type VerifyResult = { ok: true; config: Config } | { ok: false; errors: string[] };

/** Parses and cross-checks a configuration, reporting every problem at once. */
export function verifyConfig(input: unknown): VerifyResult {
  const parsed = ConfigSchema.safeParse(input);
  if (!parsed.success) {
    return { ok: false, errors: parsed.error.issues.map((i) => `${i.path.join('.') || '(config)'}: ${i.message}`) };
  }
  const c = parsed.data;
  const errors: string[] = [];
  if (c.agent === 'cpc' && c.cpcSteps >= c.unroll) errors.push(`cpcSteps: K = ${c.cpcSteps} must be smaller than the unroll length T = ${c.unroll}`);
  if (c.frames < c.batch * c.unroll * c.actionRepeat) {
    errors.push(`frames: ${c.frames} is less than one batch (batch x unroll x actionRepeat = ${c.batch * c.unroll * c.actionRepeat})`);
  }
  if (c.actors > 0) {
    const E = c.envsPerActor ?? c.batch / c.actors;
    if (!Number.isInteger(E)) errors.push(`envsPerActor: batch ${c.batch} is not divisible by ${c.actors} actors; give --envs-per-actor`);
    else if (c.batch % E !== 0) errors.push(`envsPerActor: a batch of ${c.batch} unroll columns cannot be made of unrolls of ${E} environments`);
    else if (c.mode === 'sync' && E * c.actors !== c.batch) {
      errors.push(`mode: sync trains every batch on unrolls of the latest parameters, so actors x envsPerActor (${c.actors} x ${E}) must equal batch (${c.batch})`);
    }
  }
  if (typeof c.learnerThreads === 'number' && c.learnerThreads > c.batch) {
    errors.push(`learnerThreads: ${c.learnerThreads} threads cannot share a batch of ${c.batch} columns; give at most ${c.batch}`);
  }
  if (!ENDPOINT.test(c.learnerEndpoint)) {
    errors.push(`learnerEndpoint: '${c.learnerEndpoint}' is not a ZeroMQ endpoint; expected tcp://HOST:PORT (PORT may be *), e.g. tcp://127.0.0.1:5555, or ipc://PATH`);
  }
  if (!/^(mock|builtin|dmlab):.+/.test(c.env)) errors.push(`env: '${c.env}' must look like mock:<name>, builtin:<level> or dmlab:<level>`);
  return errors.length ? { ok: false, errors } : { ok: true, config: c };
}

/** `verifyConfig` that throws one error listing every problem. */
export function resolveConfig(input: unknown): Config {
  const r = verifyConfig(input);
  if (!r.ok) throw new Error(`invalid configuration:\n  ${r.errors.join('\n  ')}`);
  return r.config;
}

/**
 * Options every environment of a run is made with; `notes` gets the DeepMind Lab bridges' own notes (a wait
 * for another bridge's map compile, request errors).
 */
export function envOptions(config: Config, notes?: (line: string) => void) {
  const dmlab = { python: config.python, dmlabPath: config.dmlabPath, actionRepeat: config.actionRepeat, compileTimeoutMs: config.dmlabCompileTimeout * 1000, notes };
  return { episodeLength: config.episodeLength, dmlab };
}

/** Environments per actor process. */
export function envsPerActor(c: Config): number {
  return c.envsPerActor ?? c.batch / Math.max(c.actors, 1);
}

/** Seed of the actor of a run in one process (`--actors 0`). */
export function localActorSeed(c: Config): number {
  return c.seed + 1;
}

/** Seed of the `incarnation`-th actor process a supervisor starts (1, 2, ...: actor k starts as incarnation k + 1). */
export function actorSeed(c: Config, incarnation: number): number {
  return c.seed + 7919 * incarnation;
}

/** The run's name: given, or <agent>-<level>-s<seed>. */
export function runName(c: Config): string {
  return c.name ?? `${c.agent}-${c.env.replace(/^[^:]+:/, '').replace(/[^\w.-]/g, '_')}-s${c.seed}`;
}

/**
 * Every message that crosses a process boundary, defined once: one discriminated union on `type`,
 * validated with zod on receipt (see `codec.ts`). On the wire each message also carries
 * `v: PROTOCOL_VERSION`; `encode` adds it and `decode` checks and strips it, so in-memory messages
 * never hold it.
 *
 * Families:
 * - env protocol (request/reply, actor -> env server): `env.spec`, `env.reset`, `env.step`,
 *   `env.close`, each answered by its `*.reply` or by `error`; a server hosting E environments (the
 *   DeepMind Lab bridge, one per actor) serves `env.batch.reset` and `env.batch.step` instead of
 *   `env.reset` and `env.step`: one request carries E seeds or actions, one reply E observations;
 * - actor <-> learner: `hello`, `heartbeat`, `unroll`, `params`.
 *
 * Arrays are `WireArray`s (`ndarray.ts`); every array field fixes its dtype and rank, and
 * cross-field shape agreement (T, B, ...) is checked here, so a receiver never sees a
 * malformed tensor.
 */
import { z } from 'zod';
import type { EnvSpec, StepResult } from '../../envs/types.js';
import { ITEMSIZE, product, type Dtype, type WireArray } from './ndarray.js';

/** Bump on any incompatible change to a message below (the Python bridge checks it too). */
export const PROTOCOL_VERSION = 3; // 2: hello carries the run token and the actor's column count; 3: batched env messages

/** Which check a custom zod issue stands for; the codec turns these into specific error codes. */
export type IssueKind = 'bad_shape' | 'bad_array';

function issue(ctx: z.RefinementCtx, kind: IssueKind, path: (string | number)[], message: string): void {
  ctx.addIssue({ code: 'custom', path, message, params: { kind } });
}

const int = z.number().int();
const nonNegInt = int.min(0);
const posInt = int.min(1);
const uint32 = nonNegInt.max(0xffff_ffff);
const name = z.string().min(1).max(256);

/** Dims are bounded so `product(shape)` stays an exact integer. */
const shapeSchema = z.array(nonNegInt.max(2 ** 31));

/**
 * A wire array of one dtype and (when given) one rank. A payload whose byte length differs from
 * `product(shape) * itemsize` is a `bad_array`; a wrong rank is a `bad_shape`.
 */
export function wireArraySchema<D extends Dtype>(dtype: D, rank?: number): z.ZodType<WireArray<D>> {
  return z
    .strictObject({
      dtype: z.literal(dtype),
      shape: shapeSchema,
      data: z.instanceof(Uint8Array),
    })
    .superRefine((a, ctx) => {
      if (rank !== undefined && a.shape.length !== rank) {
        issue(ctx, 'bad_shape', ['shape'], `expected rank ${rank}, got shape [${a.shape.join(', ')}]`);
        return;
      }
      const want = product(a.shape) * ITEMSIZE[a.dtype];
      if (a.data.byteLength !== want) {
        issue(ctx, 'bad_array', ['data'], `${a.dtype} [${a.shape.join(', ')}] needs ${want} bytes, got ${a.data.byteLength}`);
      }
    }) as unknown as z.ZodType<WireArray<D>>;
}

// ---------------------------------------------------------------------------------------------
// Env protocol

export const envSpecSchema = z.strictObject({
  observationShape: z.tuple([posInt, posInt, posInt]),
  numActions: posInt,
  level: name,
  episodeLength: posInt.optional(),
});
// The wire spec is exactly the `EnvSpec` every environment exposes.
type AssertSame<A, B> = [A] extends [B] ? ([B] extends [A] ? true : never) : never;
const envSpecMatches: AssertSame<z.infer<typeof envSpecSchema>, EnvSpec> = true;
void envSpecMatches;

const observation = wireArraySchema('uint8', 3);

/** Most environments one env server hosts (the Python bridge checks the same bound). */
export const MAX_BATCH_ENVS = 1024;

export const envSpecRequest = z.strictObject({ type: z.literal('env.spec') });
export const envResetRequest = z.strictObject({ type: z.literal('env.reset'), seed: uint32 });
export const envStepRequest = z.strictObject({
  type: z.literal('env.step'),
  /** Index into the environment's action set; the server checks it against `numActions`. */
  action: nonNegInt,
  /** Environment frames to repeat the action for. */
  repeat: posInt.max(1000),
});
export const envCloseRequest = z.strictObject({ type: z.literal('env.close') });

export const envSpecReply = z.strictObject({
  type: z.literal('env.spec.reply'),
  spec: envSpecSchema,
  /** Environments the server hosts (a DeepMind Lab bridge: its `--envs`); absent: one. */
  size: posInt.max(MAX_BATCH_ENVS).optional(),
});
export const envResetReply = z.strictObject({ type: z.literal('env.reset.reply'), obs: observation });
export const envStepReply = z
  .strictObject({
    type: z.literal('env.step.reply'),
    obs: observation,
    reward: z.number(),
    done: z.boolean(),
    episodeReturn: z.number().optional(),
    episodeLength: posInt.optional(),
  })
  .superRefine((m, ctx) => {
    // Episode stats describe the episode that just ended, so they come exactly with `done`.
    const has = m.episodeReturn !== undefined && m.episodeLength !== undefined;
    const none = m.episodeReturn === undefined && m.episodeLength === undefined;
    if (m.done ? !has : !none) {
      ctx.addIssue({
        code: 'custom',
        path: ['episodeReturn'],
        message: m.done ? 'done without episodeReturn and episodeLength' : 'episode stats without done',
      });
    }
  });
export const envCloseReply = z.strictObject({ type: z.literal('env.close.reply') });

/** Resets every environment of a batch server: environment i from `seeds[i]`. */
export const envBatchResetRequest = z.strictObject({ type: z.literal('env.batch.reset'), seeds: z.array(uint32).min(1).max(MAX_BATCH_ENVS) });
/** Steps every environment of a batch server: environment i with `actions[i]` (int32 [E]), `repeat` frames each. */
export const envBatchStepRequest = z.strictObject({ type: z.literal('env.batch.step'), actions: wireArraySchema('int32', 1), repeat: posInt.max(1000) });
/** uint8 [E, H, W, C]: the first observation of each environment. */
export const envBatchResetReply = z.strictObject({ type: z.literal('env.batch.reset.reply'), obs: wireArraySchema('uint8', 4) });

/**
 * One step of E environments. Row i describes environment i; where `dones[i]` is 1 its episode ended
 * (`episodeReturns[i]`, `episodeLengths[i]` >= 1 describe it) and `obs[i]` is the first observation of
 * the next; elsewhere both stats are 0.
 */
export const envBatchStepReply = z
  .strictObject({
    type: z.literal('env.batch.step.reply'),
    /** uint8 [E, H, W, C] */
    obs: wireArraySchema('uint8', 4),
    /** float64 [E] */
    rewards: wireArraySchema('float64', 1),
    /** uint8 [E], 0 or 1 */
    dones: wireArraySchema('uint8', 1),
    /** float64 [E] */
    episodeReturns: wireArraySchema('float64', 1),
    /** int32 [E] */
    episodeLengths: wireArraySchema('int32', 1),
  })
  .superRefine((m, ctx) => {
    const E = m.obs.shape[0];
    if (E === undefined) return; // a rank-0 observation is reported by its own schema
    const rows = [m.rewards, m.dones, m.episodeReturns, m.episodeLengths] as const;
    (['rewards', 'dones', 'episodeReturns', 'episodeLengths'] as const).forEach((key, k) => {
      const row = rows[k]!;
      if (row.shape[0] !== E) issue(ctx, 'bad_shape', [key, 'shape'], `expected [${E}] (one per environment of obs), got [${row.shape.join(', ')}]`);
    });
    // rows are read only where every array is whole (a bad length is reported by its own schema)
    if (rows.some((a) => a.shape[0] !== E || a.data.byteLength !== E * ITEMSIZE[a.dtype])) return;
    const view = (a: { data: Uint8Array }) => new DataView(a.data.buffer, a.data.byteOffset, a.data.byteLength);
    const [rewards, returns, lengths] = [view(m.rewards), view(m.episodeReturns), view(m.episodeLengths)];
    for (let i = 0; i < E; i++) {
      const done = m.dones.data[i]!;
      const length = lengths.getInt32(4 * i, true);
      const ret = returns.getFloat64(8 * i, true);
      let why: string | undefined;
      if (!Number.isFinite(rewards.getFloat64(8 * i, true)) || !Number.isFinite(ret)) why = 'a non-finite reward or return';
      else if (done > 1) why = `done ${done} (0 or 1)`;
      else if (done === 1 && length < 1) why = `done with episodeLength ${length}`;
      else if (done === 0 && (length !== 0 || ret !== 0)) why = 'episode stats without done';
      if (why) ctx.addIssue({ code: 'custom', path: ['dones', i], message: `environment ${i}: ${why}` });
    }
  });

// ---------------------------------------------------------------------------------------------
// Errors

/** Errors found while decoding a frame (see `codec.ts`). */
export const DECODE_ERROR_CODES = [
  'oversized',
  'not_msgpack',
  'no_type',
  'bad_version',
  'unknown_type',
  'schema',
  'bad_dtype',
  'bad_shape',
  'bad_array',
] as const;
export type DecodeErrorCode = (typeof DECODE_ERROR_CODES)[number];

export const ERROR_CODES = [
  ...DECODE_ERROR_CODES,
  /** A request of more than one ZeroMQ frame. */
  'multipart',
  /** A valid message this peer does not serve (e.g. an `unroll` sent to an env server). */
  'unexpected_message',
  /** `env.step` with an action outside `[0, numActions)`. */
  'bad_action',
  /** `env.step` before any `env.reset`. */
  'not_reset',
  /** The environment itself raised (DeepMind Lab error, crash in `step`, ...). */
  'env_error',
] as const;
export type ErrorCode = (typeof ERROR_CODES)[number];

export const errorReply = z.strictObject({
  type: z.literal('error'),
  code: z.enum(ERROR_CODES),
  message: z.string().max(16_384),
  /** The `type` of the request that failed, when it could be read. */
  requestType: z.string().max(256).optional(),
  /** Which environment of a batch request failed (`env.batch.*`), when one did. */
  env: nonNegInt.max(MAX_BATCH_ENVS).optional(),
});

// ---------------------------------------------------------------------------------------------
// Actor <-> learner

/**
 * First message of a peer on a learner socket; the learner ignores every other message of a peer
 * until a valid hello (its `token` the run's, its `id` the socket's routing id).
 */
export const hello = z.strictObject({
  type: z.literal('hello'),
  role: z.enum(['actor', 'learner', 'envServer']),
  id: name,
  pid: nonNegInt,
  /** The run's secret token (`<runDir>/run-token`); empty when CURVE keys authenticate peers instead. */
  token: z.string().max(256),
  /** Unroll columns (environments) in every unroll this peer will send. */
  columns: posInt,
});

/** Sent periodically by every peer; a peer silent past its timeout is declared dead. */
export const heartbeat = z.strictObject({
  type: z.literal('heartbeat'),
  role: z.enum(['actor', 'learner', 'envServer']),
  id: name,
  /** Per-sender counter. */
  seq: nonNegInt,
  /** Sender's clock, ms since the epoch. */
  sentAt: z.number(),
});

export const episodeStats = z.strictObject({
  /** Batch column b of the env whose episode ended. */
  env: nonNegInt,
  /** Undiscounted, unclipped return. */
  episodeReturn: z.number(),
  /** In agent steps. */
  episodeLength: posInt,
});

/**
 * T steps from B environments, IMPALA layout (time-major, T+1 observations: the last overlaps the
 * next unroll). Row t of `prevActions`/`prevRewards` is what the core saw together with
 * observation t; `firsts[t, b] = 1` where observation t starts an episode (the LSTM state is reset
 * there).
 */
export const unroll = z
  .strictObject({
    type: z.literal('unroll'),
    actorId: name,
    /** Per-actor counter, so the learner can drop a duplicate or notice a gap after a restart. */
    seq: nonNegInt,
    /** Version of the parameters that chose `actions`. */
    paramsVersion: nonNegInt,
    /** uint8 [T+1, B, H, W, C] */
    observations: wireArraySchema('uint8', 5),
    /** int32 [T+1, B] */
    prevActions: wireArraySchema('int32', 2),
    /** float32 [T+1, B] (unclipped) */
    prevRewards: wireArraySchema('float32', 2),
    /** uint8 [T+1, B], 0 or 1 */
    firsts: wireArraySchema('uint8', 2),
    /** int32 [T, B] */
    actions: wireArraySchema('int32', 2),
    /** float32 [T, B, A] */
    behaviourLogits: wireArraySchema('float32', 3),
    /** LSTM state before step 0: float32 [B, L] each. */
    initialState: z.strictObject({ h: wireArraySchema('float32', 2), c: wireArraySchema('float32', 2) }),
    /** Episodes that ended inside this unroll. */
    episodes: z.array(episodeStats),
  })
  .superRefine((u, ctx) => {
    const [T1, B] = u.observations.shape;
    // A wrong rank is the array's own issue; comparing shapes with sizes it lacks would only add
    // misleading ones. Below, `want` is undefined where the array that gives that size lacks it.
    if (T1 === undefined) return;
    if (T1 < 2) issue(ctx, 'bad_shape', ['observations', 'shape'], `need T+1 >= 2 observations, got ${T1}`);
    const expect = (path: string[], shape: number[], want: (number | undefined)[]): void => {
      if (shape.length === want.length && shape.some((d, i) => want[i] !== undefined && d !== want[i])) {
        issue(ctx, 'bad_shape', [...path, 'shape'], `expected [${want.join(', ')}], got [${shape.join(', ')}]`);
      }
    };
    expect(['prevActions'], u.prevActions.shape, [T1, B]);
    expect(['prevRewards'], u.prevRewards.shape, [T1, B]);
    expect(['firsts'], u.firsts.shape, [T1, B]);
    expect(['actions'], u.actions.shape, [T1 - 1, B]);
    expect(['behaviourLogits'], u.behaviourLogits.shape, [T1 - 1, B, u.behaviourLogits.shape[2]]);
    const L = u.initialState.h.shape[1];
    expect(['initialState', 'h'], u.initialState.h.shape, [B, L]);
    expect(['initialState', 'c'], u.initialState.c.shape, [B, L]);
    u.episodes.forEach((e, i) => {
      if (B !== undefined && e.env >= B) issue(ctx, 'bad_shape', ['episodes', i, 'env'], `env ${e.env} outside batch of ${B}`);
    });
  });

/** One named parameter tensor. */
export const namedTensor = z.strictObject({ name, array: wireArraySchema('float32') });

/** The parameters of the acting network, as published by the learner (auxiliary heads such as CPC's W_k stay with the learner). */
export const params = z.strictObject({
  type: z.literal('params'),
  /** Increases by one per learner update; 0 is the initial network. */
  version: nonNegInt,
  tensors: z.array(namedTensor),
});

// ---------------------------------------------------------------------------------------------

export const messageSchema = z.discriminatedUnion('type', [
  envSpecRequest,
  envResetRequest,
  envStepRequest,
  envCloseRequest,
  envSpecReply,
  envResetReply,
  envStepReply,
  envCloseReply,
  envBatchResetRequest,
  envBatchStepRequest,
  envBatchResetReply,
  envBatchStepReply,
  errorReply,
  hello,
  heartbeat,
  unroll,
  params,
]);

export type Message = z.infer<typeof messageSchema>;
export type MessageType = Message['type'];
export type MessageOf<T extends MessageType> = Extract<Message, { type: T }>;

export const MESSAGE_TYPES: ReadonlySet<string> = new Set<MessageType>(
  messageSchema.options.map((o) => o.shape.type.value),
);

export type EnvRequest = MessageOf<'env.spec' | 'env.reset' | 'env.step' | 'env.close' | 'env.batch.reset' | 'env.batch.step'>;
export type EnvReply = MessageOf<'env.spec.reply' | 'env.reset.reply' | 'env.step.reply' | 'env.close.reply' | 'env.batch.reset.reply' | 'env.batch.step.reply' | 'error'>;
export type ErrorMessage = MessageOf<'error'>;

// The step reply carries exactly the fields of a `StepResult` (obs as a wire array).
const stepReplyMatches: AssertSame<Omit<MessageOf<'env.step.reply'>, 'type' | 'obs'>, Omit<StepResult, 'obs'>> = true;
void stepReplyMatches;

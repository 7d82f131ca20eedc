/**
 * Serves one `Environment` over a ZeroMQ Reply socket speaking the env protocol (`messages.ts`).
 * One owner loop reads a request, awaits the environment, sends the reply. A malformed request
 * gets an `error` reply with a specific code, is logged and counted, and the loop goes on; only
 * `env.close` (or `close()`) ends it. The server owns the environment and closes it on the way out.
 */
import { Reply } from 'zeromq';
import type { EnvSpec, Environment } from '../../envs/types.js';
import { decode, encode, toWire } from './codec.js';
import { isLoopbackEndpoint } from './endpoint.js';
import type { EnvReply, ErrorCode, Message } from './messages.js';

/** Env requests are tiny; anything near this is garbage. */
export const ENV_REQUEST_MAX_BYTES = 64 * 1024;

export interface EnvServerOptions {
  /** Requests above this many bytes are rejected with `oversized` (default `ENV_REQUEST_MAX_BYTES`). */
  maxBytes?: number;
  /** Where error lines go (default `console.error`). */
  log?: (line: string) => void;
}

export interface EnvServerStats {
  /** Frames received, valid or not. */
  requests: number;
  /** Requests answered with an `error` reply. */
  errors: number;
  errorsByCode: Partial<Record<ErrorCode, number>>;
}

export interface EnvServer {
  /** The bound endpoint, with a wildcard port resolved (`tcp://127.0.0.1:*` -> the real port). */
  readonly endpoint: string;
  readonly spec: EnvSpec;
  readonly stats: Readonly<EnvServerStats>;
  /** Resolves when the loop has ended and the environment is closed (never rejects; failures are logged). */
  readonly done: Promise<void>;
  /** Stops serving and closes the environment. */
  close(): Promise<void>;
}

/** Env servers always run beside their actor: binds other machines could reach are refused. */
export function assertLocalEndpoint(endpoint: string): void {
  if (!isLoopbackEndpoint(endpoint)) throw new Error(`refusing to bind env server to ${endpoint}: use ipc:// (the default), 127.0.0.1 or inproc://`);
}

/** Log every error of a kind up to this many, then one in `LOG_EVERY`, so a flood cannot fill a disk. */
const LOG_FIRST = 20;
const LOG_EVERY = 1000;

class EnvRequestError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
  }
}

export async function serveEnv(env: Environment, endpoint: string, opts: EnvServerOptions = {}): Promise<EnvServer> {
  assertLocalEndpoint(endpoint);
  const maxBytes = opts.maxBytes ?? ENV_REQUEST_MAX_BYTES;
  const log = opts.log ?? ((line: string) => console.error(line));
  // maxMessageSize is a backstop: ZeroMQ drops a peer sending far beyond the limit before buffering
  // it. A short linger lets the `env.close` reply leave before the socket goes.
  const sock = new Reply({ linger: 1000, maxMessageSize: Math.max(maxBytes * 16, 1 << 20) });
  await sock.bind(endpoint);
  const bound = sock.lastEndpoint ?? endpoint;
  const stats: EnvServerStats = { requests: 0, errors: 0, errorsByCode: {} };
  const { numActions } = env.spec;
  let hasReset = false;
  let stopping = false;

  const errorReply = (code: ErrorCode, message: string, requestType?: string): EnvReply => {
    stats.errors++;
    const n = (stats.errorsByCode[code] ?? 0) + 1;
    stats.errorsByCode[code] = n;
    if (n <= LOG_FIRST || n % LOG_EVERY === 0) {
      log(`[env-server ${bound}] ${code}${requestType ? ` (${requestType})` : ''}: ${message} [${n} so far]`);
    }
    // truncated to the schema's bounds, so the reply to any request (a long unknown type) decodes
    return { type: 'error', code, message: message.slice(0, 16_384), requestType: requestType?.slice(0, 256) };
  };

  const handle = async (msg: Message): Promise<EnvReply> => {
    switch (msg.type) {
      case 'env.spec':
        return { type: 'env.spec.reply', spec: env.spec };
      case 'env.reset': {
        const obs = await env.reset(msg.seed);
        hasReset = true;
        return { type: 'env.reset.reply', obs: toWire(obs, env.spec.observationShape) };
      }
      case 'env.step': {
        if (msg.action >= numActions) {
          throw new EnvRequestError('bad_action', `action ${msg.action} outside [0, ${numActions})`);
        }
        if (!hasReset) throw new EnvRequestError('not_reset', 'env.step before env.reset');
        const r = await env.step(msg.action, msg.repeat);
        const obs = toWire(r.obs, env.spec.observationShape);
        if (!r.done) return { type: 'env.step.reply', obs, reward: r.reward, done: false };
        if (r.episodeReturn === undefined || r.episodeLength === undefined) {
          throw new Error('environment returned done without episodeReturn and episodeLength');
        }
        return { type: 'env.step.reply', obs, reward: r.reward, done: true, episodeReturn: r.episodeReturn, episodeLength: r.episodeLength };
      }
      case 'env.close':
        stopping = true;
        return { type: 'env.close.reply' };
      case 'env.batch.reset':
      case 'env.batch.step':
        throw new EnvRequestError('unexpected_message', `this env server hosts one environment: send ${msg.type.replace('batch.', '')}`);
      case 'env.spec.reply':
      case 'env.reset.reply':
      case 'env.step.reply':
      case 'env.close.reply':
      case 'env.batch.reset.reply':
      case 'env.batch.step.reply':
      case 'error':
      case 'hello':
      case 'heartbeat':
      case 'unroll':
      case 'params':
        throw new EnvRequestError('unexpected_message', `an env server does not serve ${msg.type}`);
      default: {
        const unreachable: never = msg;
        throw new Error(`unhandled message ${JSON.stringify(unreachable)}`);
      }
    }
  };

  const answer = async (frames: Buffer[]): Promise<EnvReply> => {
    stats.requests++;
    if (frames.length !== 1) return errorReply('multipart', `expected 1 frame, got ${frames.length}`);
    const decoded = decode(frames[0]!, { maxBytes });
    if (!decoded.ok) return errorReply(decoded.error.code, decoded.error.message, decoded.error.type);
    try {
      return await handle(decoded.msg);
    } catch (e) {
      if (e instanceof EnvRequestError) return errorReply(e.code, e.message, decoded.msg.type);
      const err = e as Error;
      return errorReply('env_error', err?.message ?? String(e), decoded.msg.type);
    }
  };

  const loop = async (): Promise<void> => {
    try {
      while (!stopping) {
        let frames: Buffer[];
        try {
          frames = await sock.receive();
        } catch (e) {
          if (sock.closed) break;
          throw e;
        }
        const reply = await answer(frames);
        await sock.send(encode(reply));
      }
    } finally {
      sock.close();
      await env.close();
    }
  };
  const done = loop().catch((e: unknown) => log(`[env-server ${bound}] stopped: ${(e as Error)?.stack ?? String(e)}`));

  return {
    endpoint: bound,
    spec: env.spec,
    stats,
    done,
    async close() {
      stopping = true;
      sock.close();
      await done;
    },
  };
}

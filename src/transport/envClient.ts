/**
 * `RemoteEnv`: an `Environment` whose calls go to an env server (TypeScript `envServer.ts`) over a
 * ZeroMQ Request socket; `RemoteVectorEnv`: the E environments of a server that hosts several (the
 * DeepMind Lab bridge), stepped by one request. Every request has a deadline; a timeout, an
 * `error` reply and an invalid reply each reject with their own error class.
 */
import { Request } from 'zeromq';
import type { EnvSpec, Environment, StepResult, VectorEnv, VectorStepBuffers } from '../../envs/types.js';
import { decode, encode, fromWire, toWire, type DecodeError } from './codec.js';
import type { EnvRequest, ErrorCode, MessageOf, MessageType } from './messages.js';
import type { WireArray } from './ndarray.js';

/** `close` should not hold a shutdown for a full request deadline. */
const CLOSE_TIMEOUT_MS = 5000;

/** Replies carry observations; a generous cap that still stops a runaway peer. */
export const ENV_REPLY_MAX_BYTES = 64 * 2 ** 20;

export interface RemoteEnvOptions {
  /** Deadline of each request in ms (default 30 000). */
  timeoutMs?: number;
  /** Replies above this many bytes are rejected (default `ENV_REPLY_MAX_BYTES`). */
  maxBytes?: number;
  /**
   * Monotone clock (ms) of the time the server has announced long work (a DeepMind Lab map compile,
   * a wait for one): a deadline does not count it, so a long compile never times a request out.
   */
  pausedMs?: () => number;
}

/** No reply within the deadline: the server is gone, hung, or slower than `timeoutMs`. */
export class EnvTimeoutError extends Error {
  override readonly name = 'EnvTimeoutError';
  constructor(
    readonly endpoint: string,
    readonly requestType: string,
    readonly timeoutMs: number,
  ) {
    super(`env server ${endpoint} did not answer ${requestType} within ${timeoutMs} ms`);
  }
}

/** The connection was closed (by `close()`) while this request was queued or in flight. */
export class EnvClosedError extends Error {
  override readonly name = 'EnvClosedError';
  constructor(
    readonly endpoint: string,
    readonly requestType: string,
  ) {
    super(`env server ${endpoint}: ${requestType} was cut short, the connection was closed`);
  }
}

/** The server answered with an `error` reply (bad request, or the environment itself failed). */
export class EnvRemoteError extends Error {
  override readonly name = 'EnvRemoteError';
  constructor(
    readonly endpoint: string,
    readonly code: ErrorCode,
    readonly remoteMessage: string,
    readonly requestType: string,
    /** The environment of a batch that failed, when the server said which. */
    readonly env?: number,
  ) {
    super(`env server ${endpoint} failed ${requestType}${env === undefined ? '' : ` (environment ${env})`}: [${code}] ${remoteMessage}`);
  }
}

/** The reply could not be decoded, or was not the reply the request asks for. */
export class EnvProtocolError extends Error {
  override readonly name = 'EnvProtocolError';
  constructor(
    readonly endpoint: string,
    readonly requestType: string,
    message: string,
    readonly decodeError?: DecodeError,
  ) {
    super(`env server ${endpoint}, ${requestType}: ${message}`);
  }
}

type ReplyTypeOf = {
  'env.spec': 'env.spec.reply';
  'env.reset': 'env.reset.reply';
  'env.step': 'env.step.reply';
  'env.close': 'env.close.reply';
  'env.batch.reset': 'env.batch.reset.reply';
  'env.batch.step': 'env.batch.step.reply';
};
const REPLY_TYPE: ReplyTypeOf = {
  'env.spec': 'env.spec.reply',
  'env.reset': 'env.reset.reply',
  'env.step': 'env.step.reply',
  'env.close': 'env.close.reply',
  'env.batch.reset': 'env.batch.reset.reply',
  'env.batch.step': 'env.batch.step.reply',
};

/** One Request socket to an env server: requests one at a time, each with its deadline, replies decoded and checked. */
class EnvConnection {
  private readonly sock: Request;
  readonly timeoutMs: number;
  private readonly maxBytes: number;
  private readonly pausedMs: () => number;
  /** The deadline the socket is set to (options are native calls; set only on change). */
  private socketTimeout = -1;
  /** Requests run one at a time (a Request socket alternates send and receive). */
  private queue: Promise<unknown> = Promise.resolve();
  private closed = false;

  constructor(
    readonly endpoint: string,
    opts: RemoteEnvOptions,
  ) {
    // relaxed + correlate: after a timeout the socket may send again, and a late reply to the
    // abandoned request is discarded instead of being taken for the next one.
    this.sock = new Request({ linger: 0, relaxed: true, correlate: true });
    this.sock.connect(endpoint);
    this.timeoutMs = opts.timeoutMs ?? 30_000;
    this.maxBytes = opts.maxBytes ?? ENV_REPLY_MAX_BYTES;
    this.pausedMs = opts.pausedMs ?? (() => 0);
  }

  /** The spec (and hosted environment count) of the server; closes the socket if that fails. */
  async hello(): Promise<MessageOf<'env.spec.reply'>> {
    try {
      return await this.request({ type: 'env.spec' });
    } catch (e) {
      this.closed = true;
      this.sock.close();
      throw e;
    }
  }

  /**
   * Asks the server to close its environment and stop (waiting at most 5 s, or `timeoutMs` if
   * shorter, counted from this call), then closes the socket. Never throws.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    const boundMs = Math.min(this.timeoutMs, CLOSE_TIMEOUT_MS);
    // A dead or hung server has nothing left to close. The bound is not the request's own: that
    // starts only after the requests queued before it, and one of those may be a map compile.
    const asked = this.request({ type: 'env.close' }, boundMs).catch(() => {});
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([asked, new Promise<void>((r) => (timer = setTimeout(r, boundMs)))]);
    clearTimeout(timer);
    // closing fails the requests still waiting on the socket
    this.closed = true;
    this.sock.close();
  }

  /** An observation-shaped wire array checked against `spec` (`[H, W, C]`, or `[E, H, W, C]` with `size`). */
  observations(wire: WireArray<'uint8'>, spec: EnvSpec, requestType: string, size?: number): Uint8Array {
    const want = size === undefined ? spec.observationShape : [size, ...spec.observationShape];
    if (wire.shape.length !== want.length || wire.shape.some((d, i) => d !== want[i])) {
      throw new EnvProtocolError(this.endpoint, requestType, `observation shape [${wire.shape}] differs from [${want}] (the spec${size === undefined ? '' : ` for ${size} environments`})`);
    }
    return fromWire(wire);
  }

  request<R extends EnvRequest>(req: R, timeoutMs = this.timeoutMs): Promise<MessageOf<ReplyTypeOf[R['type']]>> {
    const run = async (): Promise<MessageOf<ReplyTypeOf[R['type']]>> => {
      if (this.closed) throw new EnvClosedError(this.endpoint, req.type);
      this.setSocketTimeout(timeoutMs);
      const start = performance.now();
      const paused0 = this.pausedMs();
      try {
        await this.sock.send(encode(req));
        for (;;) {
          let frames: Buffer[];
          try {
            frames = await this.sock.receive();
          } catch (e) {
            if ((e as { code?: string }).code !== 'EAGAIN') throw e;
            // the deadline moves by the time the server announced as busy meanwhile (a map compile)
            const left = start + timeoutMs + (this.pausedMs() - paused0) - performance.now();
            if (left < 1) throw e;
            // not less than 100 ms a wait: a compile that began just before the deadline keeps `left` tiny
            this.setSocketTimeout(Math.max(Math.ceil(left), 100));
            continue;
          }
          return this.parse<R['type']>(req.type, frames);
        }
      } catch (e) {
        if (this.closed) throw new EnvClosedError(this.endpoint, req.type);
        if ((e as { code?: string }).code === 'EAGAIN') throw new EnvTimeoutError(this.endpoint, req.type, timeoutMs);
        throw e;
      }
    };
    const result = this.queue.then(run, run);
    this.queue = result.catch(() => undefined);
    return result;
  }

  /** Socket options are native calls: set only on change. */
  private setSocketTimeout(ms: number): void {
    if (ms === this.socketTimeout) return;
    this.sock.sendTimeout = ms;
    this.sock.receiveTimeout = ms;
    this.socketTimeout = ms;
  }

  private parse<T extends EnvRequest['type']>(requestType: T, frames: Buffer[]): MessageOf<ReplyTypeOf[T]> {
    if (frames.length !== 1) throw new EnvProtocolError(this.endpoint, requestType, `expected 1 frame, got ${frames.length}`);
    const decoded = decode(frames[0]!, { maxBytes: this.maxBytes });
    if (!decoded.ok) {
      throw new EnvProtocolError(this.endpoint, requestType, `bad reply: [${decoded.error.code}] ${decoded.error.message}`, decoded.error);
    }
    const msg = decoded.msg;
    if (msg.type === 'error') throw new EnvRemoteError(this.endpoint, msg.code, msg.message, requestType, msg.env);
    const want: MessageType = REPLY_TYPE[requestType];
    if (msg.type !== want) throw new EnvProtocolError(this.endpoint, requestType, `expected ${want}, got ${msg.type}`);
    return msg as MessageOf<ReplyTypeOf[T]>;
  }
}

export class RemoteEnv implements Environment {
  private constructor(
    private readonly conn: EnvConnection,
    readonly spec: EnvSpec,
  ) {}

  get endpoint(): string {
    return this.conn.endpoint;
  }

  /** Connects and fetches the spec (so `spec` is available synchronously afterwards). */
  static async connect(endpoint: string, opts: RemoteEnvOptions = {}): Promise<RemoteEnv> {
    const conn = new EnvConnection(endpoint, opts);
    const { spec, size } = await conn.hello();
    if (size !== undefined && size !== 1) {
      await conn.close();
      throw new EnvProtocolError(endpoint, 'env.spec', `the server hosts ${size} environments: connect with RemoteVectorEnv`);
    }
    return new RemoteEnv(conn, spec);
  }

  async reset(seed: number): Promise<Uint8Array> {
    const reply = await this.conn.request({ type: 'env.reset', seed });
    return this.conn.observations(reply.obs, this.spec, 'env.reset');
  }

  async step(action: number, repeat: number): Promise<StepResult> {
    const r = await this.conn.request({ type: 'env.step', action, repeat });
    const obs = this.conn.observations(r.obs, this.spec, 'env.step');
    if (!r.done) return { obs, reward: r.reward, done: false };
    return { obs, reward: r.reward, done: true, episodeReturn: r.episodeReturn, episodeLength: r.episodeLength };
  }

  /** Asks the server to close its environment and stop; never throws. */
  close(): Promise<void> {
    return this.conn.close();
  }
}

/**
 * `RemoteVectorEnv`: the E environments of one env server that hosts several (the DeepMind Lab bridge
 * started with `--envs E`), stepped together: one request carries E actions, one reply E observations,
 * copied straight into the caller's buffers.
 */
export class RemoteVectorEnv implements VectorEnv {
  /** The request of every step: its int32 [E] actions are overwritten in place. */
  private readonly stepRequest: MessageOf<'env.batch.step'>;
  private readonly actions: Int32Array;

  private constructor(
    private readonly conn: EnvConnection,
    readonly spec: EnvSpec,
    readonly size: number,
  ) {
    this.actions = new Int32Array(size);
    this.stepRequest = { type: 'env.batch.step', actions: toWire(this.actions, [size]), repeat: 1 };
  }

  get endpoint(): string {
    return this.conn.endpoint;
  }

  /** Connects and fetches the spec and the number of environments the server hosts. */
  static async connect(endpoint: string, opts: RemoteEnvOptions = {}): Promise<RemoteVectorEnv> {
    const conn = new EnvConnection(endpoint, opts);
    const { spec, size } = await conn.hello();
    return new RemoteVectorEnv(conn, spec, size ?? 1);
  }

  async reset(seeds: readonly number[], obs: Uint8Array): Promise<void> {
    if (seeds.length !== this.size) throw new RangeError(`reset needs ${this.size} seeds, got ${seeds.length}`);
    const reply = await this.conn.request({ type: 'env.batch.reset', seeds: [...seeds] });
    obs.set(this.conn.observations(reply.obs, this.spec, 'env.batch.reset', this.size));
  }

  async step(actions: Int32Array, repeat: number, out: VectorStepBuffers): Promise<void> {
    if (actions.length !== this.size) throw new RangeError(`step needs ${this.size} actions, got ${actions.length}`);
    this.actions.set(actions);
    this.stepRequest.repeat = repeat;
    const r = await this.conn.request(this.stepRequest);
    // the schema holds every row array to the observations' E, checked here against the server's
    out.obs.set(this.conn.observations(r.obs, this.spec, 'env.batch.step', this.size));
    out.rewards.set(fromWire(r.rewards));
    out.dones.set(r.dones.data);
    out.episodeReturns.set(fromWire(r.episodeReturns));
    out.episodeLengths.set(fromWire(r.episodeLengths));
  }

  /** Asks the server to close its environments and stop; never throws. */
  close(): Promise<void> {
    return this.conn.close();
  }
}

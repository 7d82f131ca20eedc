import * as zmq from 'zeromq';
import { createAgent } from '../../agents/agent.js';
import { makeEnvVectors, startEnvs } from '../../envs/index.js';
import type { VectorEnv } from '../../envs/types.js';
import { vectorOf } from '../../envs/vector.js';
import { Actor } from '../actor.js';
import { initBackend } from '../backend/index.js';
import { envsPerActor, type Config } from '../config.js';
import { decode, encode } from '../transport/codec.js';
import { serialSender } from '../transport/send.js';
import { spawnTsEnvServer } from '../transport/envProcess.js';
import { envOptions } from '../train.js';
import { clientCurveOptions, readCurveKeys } from './curve.js';
import { report } from './ipc.js';
import { maxParamsInFlight } from './unrollRequests.js';
import { maxParamsBytes, unrollToMessage, weightsFromParams, type ParamsMessage } from './wire.js';

export interface ActorProcessOptions {
  /** Learner endpoint, e.g. tcp://127.0.0.1:5555. */
  learner: string;
  /** Unique per incarnation (a restarted actor gets a new id, so the learner never mistakes its unrolls). */
  actorId: string;
  /** The run's token (`<runDir>/run-token`); empty with CURVE keys. */
  token: string;
  /** Seeds this actor's action sampling and environments. */
  seed: number;
  signal: AbortSignal;
  log: (line: string) => void;
}

/**
 * The environments of a distributed actor, in processes of their own: `dmlab:` levels all in one bridge
 * (stepped by one message; a crash restarts the bridge), others one process each (a crash costs one column).
 */
async function spawnEnvs(config: Config, count: number, log: (line: string) => void): Promise<VectorEnv[]> {
  if (config.env.startsWith('dmlab:')) return makeEnvVectors(config.env, count, { ...envOptions(config, log), bridges: 1 });
  return startEnvs(count, async () => vectorOf(await spawnTsEnvServer(config.env, { episodeLength: config.episodeLength })));
}

/**
 * The actor process: E environment servers driven in lockstep, one batched inference per step,
 * unrolls of T steps sent to the learner tagged with the parameter version that played them. In
 * `sync` mode it waits for the parameters of the next version after each unroll; in `async` it plays
 * one unroll per parameters message after the first (the learner's ask, `UnrollRequests`), with the
 * newest ones it has. Dead environment servers are replaced.
 */
export async function runActor(config: Config, opts: ActorProcessOptions): Promise<void> {
  const { log } = opts;
  await initBackend(config.backend === 'auto' ? 'wasm' : config.backend); // inference only: wasm beats cpu, no GPU needed
  const E = envsPerActor(config);
  const envs = await spawnEnvs(config, E, log);
  const spec = envs[0]!.spec;
  const agent = createAgent({ kind: config.agent, obsShape: spec.observationShape, numActions: spec.numActions, seed: config.seed, cpcSteps: config.cpcSteps, actingOnly: true });
  const actor = new Actor(envs, agent, {
    unrollLength: config.unroll,
    actionRepeat: config.actionRepeat,
    seed: opts.seed,
    replaceEnv: async (g, err) => {
      const size = envs[g]!.size;
      log(`${opts.actorId}: ${size > 1 ? `the ${size} environments of server ${g}` : `environment ${g}`} failed (${err.message.split('\n')[0]}); starting ${size > 1 ? 'them' : 'a new one'} again`);
      await envs[g]!.close().catch(() => {});
      const [fresh] = await spawnEnvs(config, size, log);
      envs[g] = fresh!;
      return fresh!;
    },
  });

  const keys = config.curveKeys ? readCurveKeys(config.curveKeys) : undefined;
  const shapes = Object.fromEntries(Object.entries(agent.params).map(([k, v]) => [k, v.shape]));
  // a learner's largest message is the parameters; anything bigger cuts the connection
  const dealer = new zmq.Dealer({ routingId: opts.actorId, ...(keys ? clientCurveOptions(keys) : {}), sendHighWaterMark: 2, receiveHighWaterMark: maxParamsInFlight({ batch: config.batch, maxPolicyLag: config.maxPolicyLag, columns: E }), maxMessageSize: maxParamsBytes(shapes) });
  const send = serialSender(dealer, (l) => log(`${opts.actorId}: ${l}`));
  const hello = encode({ type: 'hello', role: 'actor', id: opts.actorId, pid: process.pid, token: opts.token, columns: E });
  // hello on every (re)connection: a restarted learner knows no peers and answers a hello with its parameters
  // (a receive loop, not events.on(): zeromq's emitter mode rejects unhandled when the socket closes)
  const watching = (async () => {
    try {
      for (;;) {
        const event = await dealer.events.receive();
        if (event.type === 'handshake') void send(hello);
        if (event.type === 'end') return;
      }
    } catch {
      // the socket closed
    }
  })();
  dealer.connect(opts.learner);

  // the receive loop owns incoming parameters; the main loop reads the newest
  let latest: ParamsMessage | undefined;
  let received = 0;
  let arrived: (() => void) | undefined;
  const receiving = (async () => {
    for (;;) {
      let frames: Buffer[];
      try {
        frames = await dealer.receive();
      } catch {
        return; // socket closed
      }
      const [frame] = frames;
      const r = frame && frames.length === 1 ? decode(frame) : undefined;
      if (!r) log(`${opts.actorId}: dropped a message of ${frames.length} frames from the learner, expected 1`);
      else if (!r.ok) log(`${opts.actorId}: dropped a message from the learner: ${r.error.code}: ${r.error.message}`);
      else if (r.msg.type === 'params') {
        latest = r.msg;
        received++;
        arrived?.();
      } else log(`${opts.actorId}: unexpected '${r.msg.type}' from the learner`);
    }
  })();
  /**
   * Parameters that arrived after the first `after` ones. Sync waits for a new message, not a new
   * version: a learner restarted from a checkpoint republishes a version the actor already played.
   */
  const nextParams = (after: number) =>
    new Promise<ParamsMessage | undefined>((resolve) => {
      const check = () => {
        if (opts.signal.aborted) return resolve(undefined);
        if (received > after) return resolve(latest);
        arrived = check;
        setTimeout(check, 500);
      };
      check();
    });

  let seq = 0;
  let beat = 0;
  const heartbeat = setInterval(() => {
    void send(encode({ type: 'heartbeat', role: 'actor', id: opts.actorId, seq: beat++, sentAt: Date.now() }));
    report({ type: 'alive', busyMs: actor.busyMs() });
  }, 1000);
  try {
    let params = await nextParams(0);
    let appliedParams: ParamsMessage | undefined;
    await actor.start();
    // async: the answer to the hello is the parameters to start from; every later message asks for one unroll
    const asked = config.mode === 'async' ? 1 : 0;
    if (asked) params = await nextParams(1);
    report({ type: 'ready' });
    log(`${opts.actorId}: ${E} x ${config.env} connected to ${opts.learner}`);
    while (params && !opts.signal.aborted) {
      if (latest && latest !== params) params = latest;
      const version = params.version;
      if (params !== appliedParams) agent.setWeights(weightsFromParams(params));
      appliedParams = params;
      const { unroll, episodes } = await actor.collect();
      const before = received;
      await send(encode(unrollToMessage(unroll, spec.observationShape, { actorId: opts.actorId, seq: seq++, paramsVersion: version, episodes })));
      // async: each parameters message asks for one unroll (the learner keeps what it asks for within the lag bound)
      params = await nextParams(asked ? seq + 1 : before);
    }
  } finally {
    clearInterval(heartbeat);
    dealer.close();
    await Promise.all([receiving, watching]);
    actor.dispose();
    agent.dispose();
    await Promise.all(envs.map((e) => Promise.resolve(e.close()).catch(() => {})));
  }
}

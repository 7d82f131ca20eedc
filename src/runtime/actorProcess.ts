import * as zmq from 'zeromq';
import { createAgent } from '../../agents/agent.js';
import { makeEnv, startEnvs } from '../../envs/index.js';
import type { Environment } from '../../envs/types.js';
import { Actor } from '../actor.js';
import { initBackend } from '../backend/index.js';
import { envsPerActor, type Config } from '../config.js';
import { decode, encode } from '../transport/codec.js';
import { spawnTsEnvServer } from '../transport/envProcess.js';
import { envOptions } from '../train.js';
import { clientCurveOptions, readCurveKeys } from './curve.js';
import { report } from './ipc.js';
import { unrollToMessage, weightsFromParams, type ParamsMessage } from './wire.js';

export interface ActorProcessOptions {
  /** Learner endpoint, e.g. tcp://127.0.0.1:5555. */
  learner: string;
  /** Unique per incarnation (a restarted actor gets a new id, so the learner never mistakes its unrolls). */
  actorId: string;
  /** Seeds this actor's action sampling and environments. */
  seed: number;
  signal: AbortSignal;
  log: (line: string) => void;
}

/** Each environment of a distributed actor runs in a process of its own: a crash costs one column. */
async function spawnEnv(config: Config): Promise<Environment> {
  // dmlab: environments are bridge processes already
  if (config.env.startsWith('dmlab:')) return makeEnv(config.env, envOptions(config));
  return spawnTsEnvServer(config.env, { episodeLength: config.episodeLength });
}

/**
 * The actor process: E environment servers driven in lockstep, one batched inference per step,
 * unrolls of T steps sent to the learner tagged with the parameter version that played them. In
 * `sync` mode it waits for the parameters of the next version after each unroll; in `async` it
 * takes new parameters whenever they arrive. Dead environment servers are replaced.
 */
export async function runActor(config: Config, opts: ActorProcessOptions): Promise<void> {
  const { log } = opts;
  await initBackend(config.backend === 'auto' ? 'wasm' : config.backend); // inference only: wasm beats cpu, no GPU needed
  const E = envsPerActor(config);
  const envs = await startEnvs(E, () => spawnEnv(config));
  const spec = envs[0].spec;
  const agent = createAgent({ kind: config.agent, obsShape: spec.observationShape, numActions: spec.numActions, seed: config.seed, cpcSteps: config.cpcSteps, actingOnly: true });
  const actor = new Actor(envs, agent, {
    unrollLength: config.unroll,
    actionRepeat: config.actionRepeat,
    seed: opts.seed,
    replaceEnv: async (i, err) => {
      log(`${opts.actorId}: environment ${i} failed (${err.message.split('\n')[0]}); starting a new one`);
      await Promise.resolve(envs[i].close()).catch(() => {});
      return spawnEnv(config);
    },
  });

  const keys = config.curveKeys ? readCurveKeys(config.curveKeys) : undefined;
  const dealer = new zmq.Dealer({ routingId: opts.actorId, ...(keys ? clientCurveOptions(keys) : {}), sendHighWaterMark: 2, maxMessageSize: 64 * 2 ** 20 });
  dealer.connect(opts.learner);

  // the receive loop owns incoming parameters; the main loop reads the newest
  let latest: ParamsMessage | undefined;
  let arrived: (() => void) | undefined;
  const receiving = (async () => {
    for (;;) {
      let frames: Buffer[];
      try {
        frames = await dealer.receive();
      } catch {
        return; // socket closed
      }
      const r = decode(frames[0]);
      if (!r.ok) log(`${opts.actorId}: dropped a message from the learner: ${r.error.code}: ${r.error.message}`);
      else if (r.msg.type === 'params') {
        latest = r.msg;
        arrived?.();
      } else log(`${opts.actorId}: unexpected '${r.msg.type}' from the learner`);
    }
  })();
  const nextParams = (notVersion: number) =>
    new Promise<ParamsMessage | undefined>((resolve) => {
      const check = () => {
        if (opts.signal.aborted) return resolve(undefined);
        if (latest && latest.version !== notVersion) return resolve(latest);
        arrived = check;
        setTimeout(check, 500);
      };
      check();
    });

  // one owner of the socket's sends: heartbeats and unrolls are queued behind each other
  let sending = Promise.resolve();
  const send = (frame: Uint8Array) => (sending = sending.then(() => dealer.send(frame)));
  let seq = 0;
  let beat = 0;
  const heartbeat = setInterval(() => {
    void send(encode({ type: 'heartbeat', role: 'actor', id: opts.actorId, seq: beat++, sentAt: Date.now() }));
    report({ type: 'alive' });
  }, 1000);
  try {
    await send(encode({ type: 'hello', role: 'actor', id: opts.actorId, pid: process.pid }));
    let params = await nextParams(-1);
    let applied = -1;
    await actor.start();
    report({ type: 'ready' });
    log(`${opts.actorId}: ${E} x ${config.env} connected to ${opts.learner}`);
    while (params && !opts.signal.aborted) {
      if (latest && latest !== params) params = latest;
      const version = params.version;
      if (version !== applied) agent.setWeights(weightsFromParams(params));
      applied = version;
      const { unroll, episodes } = await actor.collect();
      await send(encode(unrollToMessage(unroll, spec.observationShape, { actorId: opts.actorId, seq: seq++, paramsVersion: version, episodes })));
      if (config.mode === 'sync') params = await nextParams(version);
    }
  } finally {
    clearInterval(heartbeat);
    dealer.close();
    await receiving;
    actor.dispose();
    agent.dispose();
    await Promise.all(envs.map((e) => Promise.resolve(e.close()).catch(() => {})));
  }
}

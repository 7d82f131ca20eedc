import * as zmq from 'zeromq';
import type { Unroll } from '../../agents/agent.js';
import { makeEnv } from '../../envs/index.js';
import type { EpisodeStat } from '../actor.js';
import type { Checkpoint } from '../checkpoint.js';
import type { Config } from '../config.js';
import { Learner, openRun } from '../learner.js';
import { decode, encode } from '../transport/codec.js';
import type { Message } from '../transport/messages.js';
import { envOptions } from '../train.js';
import { assertBindAllowed, readCurveKeys, serverCurveOptions } from './curve.js';
import { report } from './ipc.js';
import { concatUnrolls, paramsToMessage, unrollFromMessage, type UnrollShape } from './wire.js';

/** Largest message a learner accepts (an unroll of 32 environments at 72x96 is ~70 MB). */
const MAX_MESSAGE_BYTES = 512 * 2 ** 20;

interface QueuedUnroll {
  actorId: string;
  paramsVersion: number;
  unroll: Unroll;
  episodes: EpisodeStat[];
}

interface ActorPeer {
  routingId: Buffer;
  lastSeen: number;
  lastSeq: number;
}

export interface LearnerProcessOptions {
  resume?: Checkpoint;
  signal: AbortSignal;
  log: (line: string) => void;
}

/**
 * The learner process: binds a Router socket for actors, batches B unroll columns, trains, and sends
 * the new parameters (with their version) to every actor. `sync` trains only on unrolls made by the
 * current parameters (policy lag 0); `async` trains on whatever arrives (V-trace corrects the lag).
 * Malformed or misfit messages are logged, counted and dropped; they never reach the batch.
 */
export async function runLearner(input: Config, opts: LearnerProcessOptions): Promise<void> {
  const { log } = opts;
  const { config, runDir } = await openRun(input, !!opts.resume, log);
  // the learner owns no environment: one is made briefly to learn the observation shape
  const probe = await makeEnv(config.env, envOptions(config));
  const spec = probe.spec;
  await probe.close();
  const learner = new Learner(config, runDir, spec, log, opts.resume);
  if (!opts.resume) await learner.checkpoint({}); // a restarted learner always has a checkpoint to resume
  const want: UnrollShape = { T: config.unroll, obsShape: spec.observationShape, numActions: spec.numActions, lstmSize: learner.agent.spec.lstmSize };
  const keys = config.curveKeys ? readCurveKeys(config.curveKeys) : undefined;
  assertBindAllowed(config.learnerEndpoint, keys);
  const router = new zmq.Router({ ...(keys ? serverCurveOptions(keys) : {}), receiveHighWaterMark: 64, sendHighWaterMark: 64, maxMessageSize: MAX_MESSAGE_BYTES });
  await router.bind(config.learnerEndpoint);
  report({ type: 'ready', endpoint: router.lastEndpoint ?? config.learnerEndpoint });
  log(`learner: listening on ${router.lastEndpoint} (${config.mode}, batch ${config.batch}${keys ? ', CURVE' : ''})`);

  const peers = new Map<string, ActorPeer>();
  const queue: QueuedUnroll[] = [];
  const maxQueued = 2 * config.batch; // columns; beyond this the learner stops reading and actors block
  let rejected = 0;
  const shapes = Object.fromEntries(Object.entries(learner.agent.params).map(([k, v]) => [k, v.shape]));
  let paramsFrame = encode(paramsToMessage(await learner.agent.getWeights(learner.agent.actingParamNames), shapes, learner.version));

  // one owner of the socket's sends, so a broadcast and a reply never overlap
  let sending = Promise.resolve();
  const send = (routingId: Buffer, frame: Uint8Array) => {
    sending = sending.then(() => router.send([routingId, frame])).catch((e: Error) => log(`learner: send failed: ${e.message}`));
    return sending;
  };
  const reject = (from: string, why: string) => {
    rejected++;
    if (rejected <= 20 || rejected % 1000 === 0) log(`learner: dropped a message from ${from}: ${why} (${rejected} dropped so far)`);
  };
  const columnsQueued = () => queue.reduce((n, q) => n + q.unroll.B, 0);
  const alive = () => [...peers.values()].filter((p) => Date.now() - p.lastSeen < config.heartbeatTimeout * 1000).length;

  const handle = (routingId: Buffer, msg: Message) => {
    const from = routingId.toString();
    let peer = peers.get(from);
    if (!peer) {
      peer = { routingId, lastSeen: Date.now(), lastSeq: -1 };
      peers.set(from, peer);
      void send(routingId, paramsFrame); // a new (or restarted) actor starts from the current parameters
    }
    peer.lastSeen = Date.now();
    switch (msg.type) {
      case 'hello':
      case 'heartbeat':
        return;
      case 'unroll': {
        if (msg.seq <= peer.lastSeq) return reject(from, `duplicate unroll seq ${msg.seq}`);
        peer.lastSeq = msg.seq;
        if (config.mode === 'sync' && msg.paramsVersion !== learner.version) {
          void send(routingId, paramsFrame);
          return reject(from, `unroll of parameters v${msg.paramsVersion} in sync mode (current v${learner.version})`);
        }
        const r = unrollFromMessage(msg, want);
        if (!r.ok) return reject(from, r.error);
        queue.push({ actorId: from, paramsVersion: msg.paramsVersion, unroll: r.unroll, episodes: r.episodes });
        return;
      }
      default:
        return reject(from, `unexpected message '${msg.type}'`);
    }
  };

  let wake: (() => void) | undefined;
  const receiving = (async () => {
    while (!opts.signal.aborted && !learner.done) {
      if (columnsQueued() >= maxQueued) {
        await new Promise((r) => setTimeout(r, 5));
        continue;
      }
      let frames: Buffer[];
      try {
        frames = await router.receive();
      } catch {
        return; // socket closed
      }
      const [routingId, ...body] = frames;
      if (body.length !== 1) {
        reject(routingId.toString(), `${body.length} frames, expected 1`);
        continue;
      }
      const r = decode(body[0], { maxBytes: MAX_MESSAGE_BYTES });
      if (!r.ok) reject(routingId.toString(), `${r.error.code}: ${r.error.message}`);
      else handle(routingId, r.msg);
      wake?.();
    }
  })();

  const rng = () => ({});
  try {
    while (!opts.signal.aborted && !learner.done) {
      if (columnsQueued() < config.batch) {
        await new Promise<void>((r) => {
          wake = r;
          setTimeout(r, 200);
        });
        continue;
      }
      const batch: QueuedUnroll[] = [];
      for (let n = 0; n < config.batch; n += batch[batch.length - 1].unroll.B) batch.push(queue.shift()!);
      const policyLag = batch.reduce((s, q) => s + (learner.version - q.paramsVersion) * q.unroll.B, 0) / config.batch;
      const queueDepth = columnsQueued();
      await learner.update(
        concatUnrolls(batch.map((q) => q.unroll)),
        offsetEpisodes(batch),
        { policyLag, queueDepth, actorsAlive: alive() },
      );
      paramsFrame = encode(paramsToMessage(await learner.agent.getWeights(learner.agent.actingParamNames), shapes, learner.version));
      for (const p of peers.values()) void send(p.routingId, paramsFrame);
      learner.progress({ actors: alive(), lag: policyLag.toFixed(2), queue: queueDepth, dropped: rejected });
      await learner.checkpoint(rng(), true);
      report({ type: 'alive' });
    }
    await learner.checkpoint(rng());
    report({
      type: 'finished',
      frames: learner.frames,
      updates: learner.updates,
      episodes: learner.returns.count,
      meanReturn: Number.isNaN(learner.returns.mean()) ? null : learner.returns.mean(),
      checkpoint: learner.checkpointFile,
      cpcAccuracy: learner.last?.cpcAccuracy?.map((a) => (Number.isNaN(a) ? null : a)),
    });
  } finally {
    router.close();
    await receiving;
    learner.close();
  }
}

/** Episode stats of a batch, with each unroll's columns shifted to its place in the batch. */
function offsetEpisodes(batch: QueuedUnroll[]): EpisodeStat[] {
  const out: EpisodeStat[] = [];
  let col = 0;
  for (const q of batch) {
    for (const e of q.episodes) out.push({ ...e, env: e.env + col });
    col += q.unroll.B;
  }
  return out;
}

import * as zmq from 'zeromq';
import { makeEnv } from '../../envs/index.js';
import type { Checkpoint } from '../checkpoint.js';
import type { Config } from '../config.js';
import { Learner, openRun } from '../learner.js';
import { decode, encode } from '../transport/codec.js';
import { serialSender } from '../transport/send.js';
import type { Message } from '../transport/messages.js';
import { envOptions } from '../train.js';
import { allowedClientKeys, assertBindAllowed, readCurveKeys, serverCurveOptions, startZapHandler } from './curve.js';
import { report } from './ipc.js';
import { PeerTable } from './peerTable.js';
import { Rejections, type Rejection } from './rejections.js';
import { readOrCreateRunToken } from './runToken.js';
import { UnrollQueue } from './unrollQueue.js';
import { maxParamsInFlight, UnrollRequests } from './unrollRequests.js';
import { maxUnrollBytes, paramsToMessage, type UnrollShape } from './wire.js';

export interface LearnerProcessOptions {
  resume?: Checkpoint;
  signal: AbortSignal;
  log: (line: string) => void;
}

/**
 * The learner process: binds a Router socket for actors, batches B unroll columns, trains, and sends
 * the new parameters (with their version) to actors. `sync` sends them to every actor and trains
 * only on unrolls made by the current parameters (policy lag 0); `async` sends them as asks for the
 * unrolls it can train at most `maxPolicyLag` versions old (`UnrollRequests`; V-trace corrects the
 * lag) and drops any older when their batch is taken. Only actors that said a valid hello are heard
 * and sent parameters; every unroll is checked (`UnrollQueue.accept`) before it can reach a batch.
 * Whatever is dropped is logged, counted per reason (metrics `dropped`) and changes nothing else.
 */
export async function runLearner(input: Config, opts: LearnerProcessOptions): Promise<void> {
  const { log } = opts;
  // the supervisor holds the run folder's lock
  const { config, runDir } = await openRun(input, !!opts.resume, log, { lock: false });
  // the learner owns no environment: one is made briefly to learn the observation shape
  const probe = await makeEnv(config.env, envOptions(config));
  const spec = probe.spec;
  await probe.close();
  const learner = new Learner(config, runDir, spec, log, opts.resume);
  if (!opts.resume) await learner.checkpoint({}); // a restarted learner always has a checkpoint to resume
  const want: UnrollShape = { T: config.unroll, obsShape: spec.observationShape, numActions: spec.numActions, lstmSize: learner.agent.spec.lstmSize };
  const keys = config.curveKeys ? readCurveKeys(config.curveKeys) : undefined;
  assertBindAllowed(config.learnerEndpoint, keys);
  // with CURVE the ZAP handler admits only listed client keys; without, a hello must carry the run's token
  const token = keys ? undefined : readOrCreateRunToken(runDir);
  // a context of its own: ZAP's endpoint is one per context (tests run learners side by side)
  const context = new zmq.Context();
  const zap = keys ? await startZapHandler(allowedClientKeys(keys), log, context) : undefined;
  // one unroll of a whole batch is the largest message an actor may send; a peer sending more is cut off
  const maxBytes = maxUnrollBytes(want, config.batch);
  const router = new zmq.Router({ context, ...(keys ? serverCurveOptions(keys) : {}), receiveHighWaterMark: 2, sendHighWaterMark: maxParamsInFlight({ batch: config.batch, maxPolicyLag: config.maxPolicyLag, columns: 1 }), maxMessageSize: maxBytes });
  await router.bind(config.learnerEndpoint);
  report({ type: 'ready', endpoint: router.lastEndpoint ?? config.learnerEndpoint });
  log(`learner: listening on ${router.lastEndpoint} (${config.mode}, batch ${config.batch}${keys ? ', CURVE' : ''})`);

  const peers = new PeerTable({ token, batch: config.batch, timeoutMs: config.heartbeatTimeout * 1000 });
  const maxPolicyLag = config.mode === 'sync' ? 0 : config.maxPolicyLag;
  const queue = new UnrollQueue({ ...want, batch: config.batch, maxPolicyLag, maxEpisodeLength: spec.episodeLength });
  const rejections = new Rejections(log);
  const shapes = Object.fromEntries(Object.entries(learner.agent.params).map(([k, v]) => [k, v.shape]));
  const publish = async () => ({ version: learner.version, frame: encode(paramsToMessage(await learner.agent.getWeights(learner.agent.actingParamNames), shapes, learner.version)) });
  let params = await publish();
  const send = serialSender(router, (l) => log(`learner: ${l}`));
  // async: actors play what they are asked for; sync: every actor plays one unroll a version
  const lost = (id: string, n: number, why: 'silent' | 'unanswered') =>
    log(`learner: ${n} ask(s) of ${id} presumed lost (${why === 'silent' ? 'no heartbeat for 30 s' : 'unanswered past 3x the slowest answer'})`);
  const requests = config.mode === 'async' ? new UnrollRequests({ batch: config.batch, maxPolicyLag, onLost: lost }) : undefined;
  let training = false;
  const ask = () => {
    for (const p of requests?.toAsk(peers.all(), queue.columns, training, params.version) ?? []) void send([p.routingId, params.frame]);
  };

  const handle = (routingId: Buffer, msg: Message): Rejection | undefined => {
    if (msg.type === 'hello') {
      const r = peers.hello(routingId, msg);
      if ('reason' in r) return r;
      // a new, restarted or reconnected actor starts from the current parameters (async: asks follow;
      // were this one an ask, actors joining a full pipeline would overfill it and their unrolls go stale)
      void send([routingId, params.frame]);
      return undefined;
    }
    const peer = peers.get(routingId);
    if (!peer) return { reason: 'not_a_peer', detail: `${msg.type} before a valid hello` };
    switch (msg.type) {
      case 'heartbeat':
        return peers.sequence(peer, 'heartbeat', msg.seq);
      case 'unroll': {
        const seqError = peers.sequence(peer, 'unroll', msg.seq);
        if (!seqError) requests?.answered(peer.id);
        const r = seqError ?? queue.accept(peer.id, msg, peer.columns, learner.version);
        // a sync actor that played old parameters (it missed a broadcast) gets the current ones
        if (r?.reason === 'stale' && config.mode === 'sync') void send([routingId, params.frame]);
        return r;
      }
      default:
        return { reason: 'unexpected_message', detail: `'${msg.type}'` };
    }
  };

  const drop = (from: string, why: Rejection) => {
    rejections.add(from, why);
    if (why.episodes) learner.recordEpisodes(why.episodes);
  };

  let wake: (() => void) | undefined;
  const receiving = (async () => {
    while (!opts.signal.aborted && !learner.done) {
      if (queue.full) {
        // a batch is waiting: unrolls stay in the actors' queues (bounded by the sockets' high-water marks)
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
      if (!routingId) continue; // a ROUTER socket prepends the sender's id to every message
      const from = routingId.toString('latin1');
      const [payload] = body;
      if (!payload || body.length !== 1) {
        rejections.add(from, { reason: 'malformed', detail: `${body.length} frames, expected 1` });
        continue;
      }
      const r = decode(payload, { maxBytes });
      const why = r.ok ? handle(routingId, r.msg) : { reason: 'malformed' as const, detail: `${r.error.code}: ${r.error.message}` };
      if (why) drop(from, why);
      ask(); // also on heartbeats: asks presumed lost are made again while the learner waits
      wake?.();
    }
  })();

  const rng = () => ({});
  try {
    while (!opts.signal.aborted && !learner.done) {
      // async: an unroll on its way that can be trained now and not later is waited for
      const batch = requests?.awaits(peers.all(), learner.version) && !queue.full ? undefined : queue.takeBatch(learner.version, drop);
      if (!batch) {
        ask(); // stale unrolls dropped from the queue make room
        await new Promise<void>((r) => {
          wake = r;
          setTimeout(r, 200);
        });
        continue;
      }
      const queueDepth = queue.columns;
      training = true;
      ask();
      await learner.update(batch.unroll, batch.episodes, {
        policyLag: batch.policyLag,
        policyLagMax: batch.maxLag,
        queueDepth,
        actorsAlive: peers.size,
        dropped: rejections.nonZero(),
      });
      params = await publish();
      training = false;
      if (requests) ask();
      else for (const p of peers.all()) void send([p.routingId, params.frame]);
      learner.progress({ actors: peers.size, lag: `${batch.policyLag.toFixed(2)} (max ${batch.maxLag})`, queue: queueDepth, dropped: formatDropped(rejections) });
      await learner.checkpoint(rng(), true);
      report({ type: 'updated', updates: learner.updates });
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
    zap?.close();
    await receiving;
    await learner.close();
  }
}

/** "12 (stale 10, malformed 2)": dropped messages and unrolls, by reason. */
function formatDropped(r: Rejections): string {
  const parts = Object.entries(r.nonZero()).map(([k, n]) => `${k} ${n}`);
  return parts.length ? `${r.total} (${parts.join(', ')})` : '0';
}

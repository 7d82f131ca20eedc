/** One valid message of every type (a `Record` over `MessageType`, so a new type must be added here). */
import type { Message, MessageOf, MessageType } from '../../../src/transport/messages.js';
import { toWire } from '../../../src/transport/ndarray.js';

function filled<A extends Uint8Array | Int32Array | Float32Array>(a: A, f: (i: number) => number): A {
  for (let i = 0; i < a.length; i++) a[i] = f(i);
  return a;
}

export function unrollMessage(T = 3, B = 2, H = 4, W = 5, A = 9, L = 6): MessageOf<'unroll'> {
  return {
    type: 'unroll',
    actorId: 'actor-0',
    seq: 7,
    paramsVersion: 12,
    observations: toWire(filled(new Uint8Array((T + 1) * B * H * W * 3), (i) => i % 251), [T + 1, B, H, W, 3]),
    prevActions: toWire(filled(new Int32Array((T + 1) * B), (i) => i % A), [T + 1, B]),
    prevRewards: toWire(filled(new Float32Array((T + 1) * B), (i) => i * 0.5 - 1), [T + 1, B]),
    firsts: toWire(filled(new Uint8Array((T + 1) * B), (i) => (i === 0 ? 1 : 0)), [T + 1, B]),
    actions: toWire(filled(new Int32Array(T * B), (i) => (i * 3) % A), [T, B]),
    behaviourLogits: toWire(filled(new Float32Array(T * B * A), (i) => Math.sin(i)), [T, B, A]),
    initialState: {
      h: toWire(filled(new Float32Array(B * L), (i) => i / 10), [B, L]),
      c: toWire(filled(new Float32Array(B * L), (i) => -i / 10), [B, L]),
    },
    episodes: [{ env: 1, episodeReturn: 2.5, episodeLength: 40 }],
  };
}

/** A step of 3 environments: the second ended an episode of 40 steps. */
export function batchStepReply(): MessageOf<'env.batch.step.reply'> {
  return {
    type: 'env.batch.step.reply',
    obs: toWire(filled(new Uint8Array(3 * 4 * 5 * 3), (i) => (i * 7) % 256), [3, 4, 5, 3]),
    rewards: toWire(new Float64Array([0.5, -1, 10]), [3]),
    dones: toWire(new Uint8Array([0, 1, 0]), [3]),
    episodeReturns: toWire(new Float64Array([0, 12.5, 0]), [3]),
    episodeLengths: toWire(new Int32Array([0, 40, 0]), [3]),
  };
}

export function sampleMessages(): { [T in MessageType]: MessageOf<T> } {
  const obs = toWire(filled(new Uint8Array(4 * 5 * 3), (i) => i), [4, 5, 3]);
  return {
    'env.spec': { type: 'env.spec' },
    'env.reset': { type: 'env.reset', seed: 0xffff_fffe },
    'env.step': { type: 'env.step', action: 8, repeat: 4 },
    'env.close': { type: 'env.close' },
    'env.spec.reply': { type: 'env.spec.reply', spec: { observationShape: [72, 96, 3], numActions: 9, level: 'dmlab:rooms_watermaze', episodeLength: 1800 } },
    'env.reset.reply': { type: 'env.reset.reply', obs },
    'env.step.reply': { type: 'env.step.reply', obs, reward: -0.25, done: true, episodeReturn: 12.5, episodeLength: 300 },
    'env.close.reply': { type: 'env.close.reply' },
    'env.batch.reset': { type: 'env.batch.reset', seeds: [0, 0xffff_ffff, 7] },
    'env.batch.step': { type: 'env.batch.step', actions: toWire(new Int32Array([8, 0, 3]), [3]), repeat: 4 },
    'env.batch.reset.reply': { type: 'env.batch.reset.reply', obs: toWire(filled(new Uint8Array(2 * 4 * 5 * 3), (i) => i % 256), [2, 4, 5, 3]) },
    'env.batch.step.reply': batchStepReply(),
    error: { type: 'error', code: 'env_error', message: 'Failed to init environment', requestType: 'env.reset' },
    hello: { type: 'hello', role: 'actor', id: 'actor-3', pid: 4242, token: 'ab'.repeat(24), columns: 4 },
    heartbeat: { type: 'heartbeat', role: 'learner', id: 'learner', seq: 99, sentAt: 1_700_000_000_123 },
    unroll: unrollMessage(),
    params: {
      type: 'params',
      version: 5,
      tensors: [
        { name: 'encoder/conv1/w', array: toWire(filled(new Float32Array(2 * 3 * 4), (i) => i * 0.1), [2, 3, 4]) },
        { name: 'core/lstm/b', array: toWire(new Float32Array([1, 2, 3]), [3]) },
      ],
    },
  };
}

export const allSampleMessages = (): Message[] => Object.values(sampleMessages());

import type { Unroll } from '../../agents/agent.js';
import { MOCK_OBS_SHAPE } from '../../envs/mock/index.js';
import type { EpisodeStat } from '../../src/actor.js';
import { unrollToMessage, type UnrollMessage, type UnrollShape } from '../../src/runtime/wire.js';

/** The shapes of a mock-level learner with a small LSTM. */
export const SHAPE: UnrollShape = { T: 5, obsShape: MOCK_OBS_SHAPE, numActions: 9, lstmSize: 4 };

/** A valid unroll of `B` columns: one episode ends in column 0 at step 2 (firsts[3, 0] = 1). */
export function validUnroll(B: number, shape: UnrollShape = SHAPE): Unroll {
  const { T, numActions: A, lstmSize: L } = shape;
  const obs = shape.obsShape.reduce((n, d) => n * d, 1);
  const firsts = new Uint8Array((T + 1) * B);
  firsts[3 * B] = 1;
  return {
    T,
    B,
    observations: new Uint8Array((T + 1) * B * obs).map((_, i) => i % 251),
    prevActions: new Int32Array((T + 1) * B).map((_, i) => i % A),
    prevRewards: new Float32Array((T + 1) * B).map((_, i) => (i % 3) - 1),
    firsts,
    actions: new Int32Array(T * B).map((_, i) => (i * 7) % A),
    behaviourLogits: new Float32Array(T * B * A).map((_, i) => Math.sin(i)),
    initialState: { h: new Float32Array(B * L).fill(0.1), c: new Float32Array(B * L).fill(-0.1) },
  };
}

export const EPISODE: EpisodeStat = { env: 0, episodeReturn: 1.5, episodeLength: 40 };

export function unrollMessage(
  u: Unroll,
  meta: Partial<{ actorId: string; seq: number; paramsVersion: number; episodes: EpisodeStat[] }> = {},
  shape: UnrollShape = SHAPE,
): UnrollMessage {
  return unrollToMessage(u, shape.obsShape, { actorId: 'a', seq: 0, paramsVersion: 0, episodes: [EPISODE], ...meta });
}

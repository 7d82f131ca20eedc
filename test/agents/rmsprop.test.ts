import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { annealedLearningRate, clipByGlobalNorm, rmsprop } from '../../agents/rmsprop.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe('rmsprop (TensorFlow 1 semantics)', () => {
  it('matches hand-computed values: ms starts at 1, epsilon inside the square root', async () => {
    // lr 0.1, decay 0.9, eps 0.1; step 1 of the first entry:
    // ms = 0.9 * 1 + 0.1 * 0.5^2 = 0.925, var = 1 - 0.1 * 0.5 / sqrt(0.925 + 0.1) = 0.9506135
    const vars = { w: tf.variable(tf.tensor1d([1, -2])) };
    const opt = rmsprop({ learningRate: 0.1, decay: 0.9, epsilon: 0.1 });
    const expected = [
      [0.9506135, -1.9046537],
      [0.8995159, -2.1222966],
      [0.9261963, -2.1222966],
    ];
    const gradients = [
      [0.5, -1],
      [0.5, 3],
      [-0.25, 0],
    ];
    for (let i = 0; i < 3; i++) {
      opt.applyGradients(vars, { w: tf.tensor1d(gradients[i]!) });
      const w = Array.from(await vars.w.data());
      expect(w[0]).toBeCloseTo(expected[i]![0]!, 6);
      expect(w[1]).toBeCloseTo(expected[i]![1]!, 6);
    }
    const state = await opt.getState();
    expect(Array.from(state.ms.w!)).toEqual([expect.closeTo(0.778, 6), expect.closeTo(1.62, 6)]);
  });

  it('applies momentum as TF1 does (mom = m mom + lr g / sqrt(ms + eps))', async () => {
    const vars = { w: tf.variable(tf.scalar(1)) };
    const opt = rmsprop({ learningRate: 0.1, decay: 0.9, epsilon: 0.1, momentum: 0.5 });
    opt.applyGradients(vars, { w: tf.scalar(0.5) });
    opt.applyGradients(vars, { w: tf.scalar(0.5) });
    expect((await vars.w.data())[0]).toBeCloseTo(0.8748227, 6);
  });

  it('uses the learning rate it is given (annealing) and restores its state exactly', async () => {
    const a = { w: tf.variable(tf.tensor1d([1, 2])) };
    const b = { w: tf.variable(tf.tensor1d([1, 2])) };
    const optA = rmsprop({ learningRate: 0.1 });
    optA.applyGradients(a, { w: tf.tensor1d([0.3, -0.7]) }, 0.05);
    const optB = rmsprop({ learningRate: 0.1 });
    optB.setState(await optA.getState(), b);
    b.w.assign(a.w);
    optA.applyGradients(a, { w: tf.tensor1d([1, 1]) }, 0.02);
    optB.applyGradients(b, { w: tf.tensor1d([1, 1]) }, 0.02);
    expect(Array.from(await b.w.data())).toEqual(Array.from(await a.w.data()));
    expect(() => optA.applyGradients(a, { nope: tf.scalar(1) })).toThrow(/gradient for unknown variable 'nope'/);
    expect(() => optB.setState({ ms: { nope: new Float32Array(2) }, mom: {} }, b)).toThrow(/saved state for unknown variable 'nope'/);
    // without momentum there is no momentum slot to save
    expect(Object.keys((await optA.getState()).mom)).toEqual([]);
    const before = tf.memory().numTensors;
    optA.dispose();
    expect(tf.memory().numTensors).toBe(before - 1); // the one ms slot
    expect(await optA.getState()).toEqual({ ms: {}, mom: {} });
  });

  it('applies only finite updates: non-finite gradients leave the variables and slots as they were', async () => {
    const vars = { w: tf.variable(tf.tensor1d([1, -2])) };
    const opt = rmsprop({ learningRate: 0.1, decay: 0.9, epsilon: 0.1 });
    expect(await opt.applyGradientsIfFinite(vars, { w: tf.tensor1d([Number.NaN, 1]) })).toBe(false);
    expect(Array.from(await vars.w.data())).toEqual([1, -2]);
    expect(await opt.applyGradientsIfFinite(vars, { w: tf.tensor1d([1, 1]) })).toBe(true);
    const moved = Array.from(await vars.w.data());
    expect(moved[0]).toBeLessThan(1);
    expect(await opt.applyGradientsIfFinite(vars, { w: tf.tensor1d([Infinity, 1]) })).toBe(false);
    expect(Array.from(await vars.w.data())).toEqual(moved);
  });

  it('refuses finite new values whose probe is not finite, and the probe sees the new values, not the old', async () => {
    const vars = { w: tf.variable(tf.tensor1d([1, -2])), b: tf.variable(tf.scalar(3)) };
    const opt = rmsprop({ learningRate: 0.1, decay: 0.9, epsilon: 0.1 });
    const seen: number[][] = [];
    // a probe that is finite for the old w and overflows for the new one (w[0] < 1 after a positive gradient)
    const probe = (next: Record<string, tf.Tensor>) => {
      seen.push(Array.from(next.w!.dataSync()), Array.from(next.b!.dataSync()));
      return [tf.div(1, tf.sub(next.w!.slice(0, 1), 1).sign().add(1))];
    };
    expect(await opt.applyGradientsIfFinite(vars, { w: tf.tensor1d([0, 0]), b: tf.scalar(0) })).toBe(true);
    const before = await opt.getState();
    expect(await opt.applyGradientsIfFinite(vars, { w: tf.tensor1d([1, 1]) }, 0.1, [], probe)).toBe(false);
    expect(Array.from(await vars.w.data())).toEqual([1, -2]);
    expect((await opt.getState()).ms).toEqual(before.ms);
    // the probe got the proposed w (moved) and the unchanged b (no gradient: the variable itself)
    expect(seen[0]![0]).toBeLessThan(1);
    expect(seen[1]).toEqual([3]);
    // an always-finite probe lets the same step through
    expect(await opt.applyGradientsIfFinite(vars, { w: tf.tensor1d([1, 1]) }, 0.1, [], () => [tf.scalar(1)])).toBe(true);
    expect((await vars.w.data())[0]).toBeLessThan(1);
  });

  it('anneals the learning rate linearly to zero over the run', () => {
    expect(annealedLearningRate(0.001, 0, 1000)).toBe(0.001);
    expect(annealedLearningRate(0.001, 250, 1000)).toBeCloseTo(0.00075, 12);
    expect(annealedLearningRate(0.001, 1000, 1000)).toBe(0);
    expect(annealedLearningRate(0.001, 2000, 1000)).toBe(0);
  });

  it('clips by global norm like tf.clip_by_global_norm', async () => {
    // norm of (3, 4) and (12) = 13; clip to 6.5 halves everything
    const { grads, globalNorm } = clipByGlobalNorm({ a: tf.tensor1d([3, 4]), b: tf.scalar(12) }, 6.5);
    expect((await globalNorm.data())[0]).toBeCloseTo(13, 5);
    expect(Array.from(await grads.a!.data())).toEqual([1.5, 2]);
    expect((await grads.b!.data())[0]).toBeCloseTo(6, 5);
    const small = clipByGlobalNorm({ a: tf.tensor1d([3, 4]) }, 40);
    expect(Array.from(await small.grads.a!.data())).toEqual([3, 4]);
  });
});

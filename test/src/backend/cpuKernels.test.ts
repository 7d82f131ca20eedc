/**
 * The cpu backend's Conv2DBackpropFilter (src/backend/cpuKernels.ts) against the stock tfjs-backend-cpu kernel:
 * results are computed with the stock kernel first, then with ours after registering it.
 */
import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { registerCpuKernels } from '../../../src/backend/cpuKernels.js';

interface Case {
  x: [number, number, number, number];
  w: [number, number, number, number];
  stride: number | [number, number];
  pad: 'valid' | 'same';
}

const cases: Case[] = [
  { x: [2, 72, 96, 3], w: [8, 8, 3, 16], stride: 4, pad: 'valid' }, // conv1 of the encoder
  { x: [3, 17, 23, 16], w: [4, 4, 16, 32], stride: 2, pad: 'valid' }, // conv2
  { x: [2, 9, 10, 3], w: [3, 3, 3, 4], stride: 2, pad: 'same' },
  { x: [2, 11, 14, 3], w: [3, 4, 3, 5], stride: [3, 2], pad: 'valid' },
];

/** Filter gradient of sum(conv2d(x, w) * r), x = relu(noise): dy is non-uniform and x has exact zeros (the skip path). */
async function filterGrad(c: Case, seed: number): Promise<Float32Array> {
  const g = tf.tidy(() => {
    const x = tf.randomNormal(c.x, 0, 1, 'float32', seed).relu() as tf.Tensor4D;
    const w = tf.randomNormal(c.w, 0, 1, 'float32', seed + 1) as tf.Tensor4D;
    const r = tf.randomNormal(tf.conv2d(x, w, c.stride, c.pad).shape, 0, 1, 'float32', seed + 2);
    return tf.grad((f: tf.Tensor) => tf.conv2d(x, f as tf.Tensor4D, c.stride, c.pad).mul(r).sum())(w);
  });
  const v = new Float32Array(await g.data());
  g.dispose();
  return v;
}

describe('cpu Conv2DBackpropFilter', () => {
  it('matches the stock cpu kernel on our network shapes, padding and unequal strides', async () => {
    await tf.setBackend('cpu');
    const stockGrads = [];
    for (const [i, c] of cases.entries()) stockGrads.push(await filterGrad(c, 10 * i + 1));
    const stockFunc = tf.getKernel('Conv2DBackpropFilter', 'cpu').kernelFunc;
    registerCpuKernels();
    registerCpuKernels(); // idempotent
    expect(tf.getKernel('Conv2DBackpropFilter', 'cpu').kernelFunc).not.toBe(stockFunc);
    for (const [i, c] of cases.entries()) {
      const ours = await filterGrad(c, 10 * i + 1);
      const ref = stockGrads[i]!;
      expect(ours.length).toBe(ref.length);
      let diff = 0;
      let scale = 0;
      for (let j = 0; j < ref.length; j++) {
        diff = Math.max(diff, Math.abs(ours[j]! - ref![j]!));
        scale = Math.max(scale, Math.abs(ref![j]!));
      }
      expect(scale).toBeGreaterThan(0);
      expect(diff / scale).toBeLessThan(1e-5);
    }
  });
});

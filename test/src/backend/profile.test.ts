import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { formatKernelProfile, profileKernels } from '../../../src/backend/profile.js';

describe('profileKernels', () => {
  it('sums kernel time and calls per kernel, sorted, and returns the result', async () => {
    await tf.setBackend('cpu');
    const a = tf.ones([64, 64]);
    const p = await profileKernels(() => {
      let x = a;
      for (let i = 0; i < 3; i++) x = tf.matMul(x, a).add(1);
      return x;
    });
    expect(p.result.shape).toEqual([64, 64]);
    const mm = p.kernels.find((k) => k.name === 'BatchMatMul');
    const add = p.kernels.find((k) => k.name === 'Add');
    expect(mm?.calls).toBe(3);
    expect(add?.calls).toBe(3);
    for (let i = 1; i < p.kernels.length; i++) expect(p.kernels[i - 1]!.totalMs).toBeGreaterThanOrEqual(p.kernels[i]!.totalMs);
    expect(p.kernels.reduce((s, k) => s + k.share, 0)).toBeCloseTo(1, 6);
    expect(p.kernelMs).toBeGreaterThan(0);
    expect(p.wallMs).toBeGreaterThanOrEqual(p.kernelMs * 0.5);
    expect(formatKernelProfile(p)).toMatch(/^kernel +total ms +calls +mean ms +share\n/);
    tf.dispose([a, p.result]);
  });

  it('groups by input shapes when asked', async () => {
    await tf.setBackend('cpu');
    const p = await profileKernels(() => tf.tidy(() => tf.matMul(tf.ones([2, 3]), tf.ones([3, 4])).add(tf.matMul(tf.ones([2, 5]), tf.ones([5, 4])))), { byShape: true });
    const names = p.kernels.map((k) => k.name);
    expect(names).toContain('BatchMatMul [2,3] [3,4]');
    expect(names).toContain('BatchMatMul [2,5] [5,4]');
    tf.dispose(p.result);
  });
});

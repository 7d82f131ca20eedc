/**
 * Backend selection. The optional packages (tfjs-node, tfjs-node-gpu, webgpu) are not installed in this project's
 * own environment; the tests that rely on that say so and are skipped where a user has installed them.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterAll, describe, expect, it } from 'vitest';
import { BackendUnavailableError, initBackend } from '../../../src/backend/index.js';

const installed = (pkg: string): boolean => fs.existsSync(path.join(process.cwd(), 'node_modules', pkg, 'package.json'));
const hasNode = installed('@tensorflow/tfjs-node');
const hasNodeGpu = installed('@tensorflow/tfjs-node-gpu');
const hasWebGPU = installed('webgpu') && installed('@tensorflow/tfjs-backend-webgpu');

afterAll(async () => {
  await tf.setBackend('wasm');
});

describe('initBackend', () => {
  it("'wasm' succeeds and trains a tiny conv net one step (Conv2DBackpropFilter exists)", async () => {
    const info = await initBackend('wasm');
    expect(info.name).toBe('wasm');
    expect(tf.getBackend()).toBe('wasm');
    expect(info.detail).toMatch(/^wasm: XNNPACK, \d+ threads?, (no )?SIMD, project kernels$/);
    expect(tf.getKernel('Conv2DBackpropFilter', 'wasm')).toBeDefined();

    const x = tf.randomNormal([4, 9, 11, 3], 0, 1, 'float32', 1) as tf.Tensor4D;
    const target = tf.randomNormal([4, 2], 0, 1, 'float32', 2);
    const wConv = tf.variable(tf.randomNormal([3, 3, 3, 4], 0, 0.3, 'float32', 3));
    const wDense = tf.variable(tf.randomNormal([4 * 5 * 4, 2], 0, 0.3, 'float32', 4));
    const loss = () =>
      tf.tidy(() => {
        const h = tf.conv2d(x, wConv as tf.Variable<tf.Rank.R4>, 2, 'valid').relu().reshape([4, -1]);
        return tf.losses.meanSquaredError(target, tf.matMul(h, wDense)) as tf.Scalar;
      });
    const before = await loss().data();
    const w0 = await wConv.data();
    const opt = tf.train.sgd(0.002);
    const { value, grads } = tf.variableGrads(loss);
    expect((await grads[wConv.name]!.abs().sum().data())[0]).toBeGreaterThan(0);
    opt.applyGradients(grads);
    const after = await loss().data();
    const w1 = await wConv.data();
    expect(w1.some((v, i) => v !== w0[i])).toBe(true);
    expect(after[0]).toBeLessThan(before[0]!);
    tf.dispose([x, target, wConv, wDense, value, ...Object.values(grads)]);
    opt.dispose();
  });

  it("'cpu' succeeds", async () => {
    const info = await initBackend('cpu');
    expect(info.name).toBe('cpu');
    expect(tf.getBackend()).toBe('cpu');
  });

  it.skipIf(hasNode)("'tfjs-node' throws an actionable error when @tensorflow/tfjs-node is not installed", async () => {
    const err = await initBackend('tfjs-node').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BackendUnavailableError);
    expect((err as BackendUnavailableError).backend).toBe('tfjs-node');
    expect((err as Error).message).toMatch(
      /^backend 'tfjs-node' requested but @tensorflow\/tfjs-node is not installed: npm install @tensorflow\/tfjs-node@4\.22\.0 /,
    );
  });

  it.skipIf(hasNodeGpu)("'tfjs-node-gpu' throws an actionable error when it is not installed", async () => {
    await expect(initBackend('tfjs-node-gpu')).rejects.toThrow(
      /^backend 'tfjs-node-gpu' requested but @tensorflow\/tfjs-node-gpu is not installed: npm install @tensorflow\/tfjs-node-gpu@/,
    );
  });

  it.skipIf(hasWebGPU)("'webgpu' throws an actionable error when its packages are not installed", async () => {
    await expect(initBackend('webgpu')).rejects.toThrow(/^backend 'webgpu' requested but .* npm install webgpu @tensorflow\/tfjs-backend-webgpu@/);
  });

  it.skipIf(hasNode || hasNodeGpu || hasWebGPU)("'auto' picks wasm here and says why it passed over the others", async () => {
    await tf.setBackend('cpu');
    const info = await initBackend();
    expect(info.name).toBe('wasm');
    expect(tf.getBackend()).toBe('wasm');
    expect(info.skipped.map((s) => s.name)).toEqual(['tfjs-node-gpu', 'tfjs-node', 'webgpu']);
    expect(info.skipped[0]!.reason).toBe('not installed');
    expect(info.skipped[2]!.reason).toMatch(/not installed/);
  });

  it('rejects an unknown backend name', async () => {
    await expect(initBackend('tpu' as never)).rejects.toThrow(/unknown backend 'tpu': expected one of auto, tfjs-node-gpu, tfjs-node, webgpu, wasm, cpu/);
  });

  it('the chosen backend computes correctly after switching back and forth', async () => {
    await initBackend('cpu');
    await initBackend('wasm');
    const y = tf.matMul(tf.tensor2d([[1, 2], [3, 4]]), tf.tensor2d([[5, 6], [7, 8]]), false, true);
    expect(Array.from(await y.data())).toEqual([17, 23, 39, 53]);
    y.dispose();
  });
});

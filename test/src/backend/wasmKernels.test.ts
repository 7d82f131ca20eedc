/**
 * Every kernel of src/backend/wasmKernels.ts against the `cpu` backend on random inputs, including the shapes of
 * our network. Both backends stay registered; each computation runs on one of them and is read back with data().
 */
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { derivedCacheSize, registerWasmKernels, WASM_KERNEL_NAMES, wasmKernelChunks } from '../../../src/backend/wasmKernels.js';

type Name = 'cpu' | 'wasm';

/** Deterministic uniform [-1, 1) values (mulberry32). */
function randoms(n: number, seed: number): Float32Array {
  let s = seed >>> 0;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = Math.imul(s ^ (s >>> 15), 1 | s);
    t ^= t + Math.imul(t ^ (t >>> 7), 61 | t);
    out[i] = (((t ^ (t >>> 14)) >>> 0) / 4294967296) * 2 - 1;
  }
  return out;
}

let seed = 1;
/** A random tensor on the current backend. */
function rand(shape: number[]): tf.Tensor {
  return tf.tensor(randoms(shape.reduce((a, b) => a * b, 1), seed++), shape);
}

/** Runs f on one backend and reads every output. Inputs must be created inside f (from fixed data). */
async function run(backend: Name, f: () => tf.Tensor | tf.Tensor[]): Promise<{ shape: number[]; data: Float32Array }[]> {
  await tf.setBackend(backend);
  expect(tf.getBackend()).toBe(backend);
  const out = tf.tidy(f);
  const list = Array.isArray(out) ? out : [out];
  const res = await Promise.all(list.map(async (t) => ({ shape: t.shape, data: new Float32Array(await t.data()) })));
  tf.dispose(out);
  return res;
}

/** max |a - b| / max(|b|) over the whole tensor. */
function relErr(a: Float32Array, b: Float32Array): number {
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < b.length; i++) {
    diff = Math.max(diff, Math.abs(a[i]! - b[i]!));
    scale = Math.max(scale, Math.abs(b[i]!));
  }
  return diff / Math.max(scale, 1e-30);
}

/**
 * Computes f on wasm and `reference` (default f) on cpu from the same inputs (`makeInputs` is re-seeded for each)
 * and expects equal shapes and values within `tol` relative.
 */
async function expectSameOnBoth<I>(
  makeInputs: () => I,
  f: (inputs: I) => tf.Tensor | tf.Tensor[],
  reference: (inputs: I) => tf.Tensor | tf.Tensor[] = f,
  tol = 1e-4,
): Promise<void> {
  const s0 = seed;
  const w = await run('wasm', () => f(makeInputs()));
  seed = s0;
  const c = await run('cpu', () => reference(makeInputs()));
  expect(w.length).toBe(c.length);
  for (let i = 0; i < w.length; i++) {
    expect(w[i]!.shape).toEqual(c[i]!.shape);
    expect(w[i]!.data.length).toBe(c[i]!.data.length);
    expect(relErr(w[i]!.data, c[i]!.data)).toBeLessThan(tol);
    // guard against comparing two empty or all-zero results
    expect(c[i]!.data.some((v) => v !== 0)).toBe(true);
  }
}

beforeAll(async () => {
  registerWasmKernels();
  registerWasmKernels(); // idempotent
  expect(await tf.setBackend('wasm')).toBe(true);
});

afterAll(async () => {
  await tf.setBackend('wasm');
});

describe('registration', () => {
  it('registers each kernel once and keeps it on a second call', () => {
    const before = WASM_KERNEL_NAMES.map((n) => tf.getKernel(n, 'wasm').kernelFunc);
    registerWasmKernels();
    const after = WASM_KERNEL_NAMES.map((n) => tf.getKernel(n, 'wasm').kernelFunc);
    expect(after).toEqual(before);
    expect(WASM_KERNEL_NAMES).toEqual(
      expect.arrayContaining(['Conv2DBackpropFilter', 'Conv2DBackpropInput', 'BatchMatMul', 'Slice', 'Unpack', 'Identity']),
    );
  });
});

describe('conv2d gradients (Conv2DBackpropFilter, Conv2DBackpropInput)', () => {
  /** Gradients of sum(conv2d(x, w) * r) with respect to x and w; r makes dy non-uniform. */
  async function expectConvGradsMatch(xShape: number[], wShape: number[], stride: number | [number, number], pad: 'valid' | 'same') {
    await expectSameOnBoth(
      () => {
        const x = rand(xShape) as tf.Tensor4D;
        const w = rand(wShape) as tf.Tensor4D;
        return { x, w, r: rand(tf.conv2d(x, w, stride, pad).shape) };
      },
      ({ x, w, r }) => tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, stride, pad).mul(r).sum())([x, w]),
    );
  }

  it('conv1 of the encoder: 8x8 stride 4, 3 -> 16 channels, 72x96 input, N = 3', async () => {
    await expectConvGradsMatch([3, 72, 96, 3], [8, 8, 3, 16], 4, 'valid');
  });

  it('conv2 of the encoder: 4x4 stride 2, 16 -> 32 channels, 17x23 input, N = 3', async () => {
    await expectConvGradsMatch([3, 17, 23, 16], [4, 4, 16, 32], 2, 'valid');
  });

  it('several chunks in both kernels (chunk sizes forced small), phase and col2im paths', async () => {
    const saved = { ...wasmKernelChunks };
    try {
      wasmKernelChunks.filterFrames = 3;
      wasmKernelChunks.colFloats = 2 * 17 * 23 * 16; // 2 frames of conv2's input gradient
      await expectConvGradsMatch([7, 17, 23, 16], [4, 4, 16, 32], 2, 'valid');
      wasmKernelChunks.colFloats = 2 * 9 * 10 * 3 * 3 * 4; // 2 frames of the im2col buffer below
      await expectConvGradsMatch([5, 9, 10, 3], [3, 3, 3, 4], 1, 'same');
    } finally {
      Object.assign(wasmKernelChunks, saved);
    }
  });

  it('stride 1 and unequal strides (filter a multiple of the stride: phase path)', async () => {
    await expectConvGradsMatch([2, 9, 10, 3], [3, 3, 3, 4], 1, 'valid');
    await expectConvGradsMatch([2, 13, 14, 3], [4, 3, 3, 5], [2, 3], 'valid');
  });

  it('input size not a multiple of the stride (unused border rows/cols)', async () => {
    await expectConvGradsMatch([2, 11, 14, 3], [3, 4, 3, 5], 3, 'valid');
  });

  it("'same' padding, stride 1 and 2", async () => {
    await expectConvGradsMatch([2, 9, 10, 3], [3, 3, 3, 4], 1, 'same');
    await expectConvGradsMatch([2, 9, 10, 3], [4, 3, 3, 4], 2, 'same');
  });

  it('forward conv and the filter gradient match through a Variable filter', async () => {
    await expectSameOnBoth(
      () => ({ x: rand([4, 17, 23, 16]) as tf.Tensor4D, w: rand([4, 4, 16, 32]) }),
      ({ x, w }) => {
        const v = tf.variable(w);
        const { grads, value } = tf.variableGrads(() => tf.conv2d(x, v as tf.Variable<tf.Rank.R4>, 2, 'valid').square().sum() as tf.Scalar, [v]);
        const out = [value, grads[v.name]!];
        v.dispose();
        return out;
      },
    );
  });
  it('a two-layer conv net trained for 3 SGD steps matches (input gradient through the cached filters of Variables)', async () => {
    await expectSameOnBoth(
      () => ({ x: rand([2, 17, 23, 4]) as tf.Tensor4D, w1: rand([4, 4, 4, 8]), w2: rand([2, 2, 8, 6]), t: rand([2, 3, 5, 6]) }),
      ({ x, w1, w2, t }) => {
        const v1 = tf.variable(w1) as tf.Variable<tf.Rank.R4>;
        const v2 = tf.variable(w2) as tf.Variable<tf.Rank.R4>;
        const opt = tf.train.sgd(0.01);
        const losses: tf.Tensor[] = [];
        for (let step = 0; step < 3; step++) {
          const f = () => tf.conv2d(tf.conv2d(x, v1, 2, 'valid').relu() as tf.Tensor4D, v2, 2, 'valid').sub(t).square().mean() as tf.Scalar;
          const loss = opt.minimize(f, true, [v1, v2]);
          if (loss) losses.push(loss);
        }
        if (tf.getBackend() === 'wasm') expect(derivedCacheSize()).toBeGreaterThan(0);
        const out = [tf.stack(losses), v1.clone(), v2.clone()];
        tf.dispose([v1, v2]);
        opt.dispose();
        return out;
      },
    );
  });
});

describe('BatchMatMul', () => {
  const combos: [boolean, boolean][] = [[false, false], [true, false], [false, true], [true, true]];
  /** Operand shapes for a @ b of logical [.., m, k] x [.., k, n], stored transposed where asked. */
  const shapeOf = (batch: number[], rows: number, cols: number, transposed: boolean) => [...batch, ...(transposed ? [cols, rows] : [rows, cols])];

  for (const [tA, tB] of combos) {
    it(`2-D, transposeA=${tA} transposeB=${tB}`, async () => {
      await expectSameOnBoth(
        () => [rand(shapeOf([], 5, 7, tA)), rand(shapeOf([], 7, 3, tB))],
        ([a, b]) => tf.matMul(a!, b!, tA, tB),
      );
    });

    it(`rank 3, batch 4, XNNPACK per entry and stock loop for tiny entries, transposeA=${tA} transposeB=${tB}`, async () => {
      await expectSameOnBoth(
        () => [rand(shapeOf([4], 16, 40, tA)), rand(shapeOf([4], 40, 32, tB))], // 20480 MACs per entry
        ([a, b]) => tf.matMul(a!, b!, tA, tB),
      );
      await expectSameOnBoth(
        () => [rand(shapeOf([4], 5, 7, tA)), rand(shapeOf([4], 7, 3, tB))],
        ([a, b]) => tf.matMul(a!, b!, tA, tB),
      );
    });

    it(`rank 4 broadcasting [2,1] x [1,3], transposeA=${tA} transposeB=${tB}`, async () => {
      // tfjs-backend-cpu mishandles this broadcast (it returns too few values), so the reference tiles explicitly
      await expectSameOnBoth(
        () => [rand(shapeOf([2, 1], 4, 6, tA)), rand(shapeOf([1, 3], 6, 5, tB))],
        ([a, b]) => tf.matMul(a!, b!, tA, tB),
        ([a, b]) => tf.matMul(tf.tile(a!, [1, 3, 1, 1]), tf.tile(b!, [2, 1, 1, 1]), tA, tB),
      );
    });
  }

  it('rank 3 times rank 2 (b broadcast: one GEMM) and batch-1 a times batched b', async () => {
    await expectSameOnBoth(() => [rand([6, 5, 7]), rand([7, 3])], ([a, b]) => tf.matMul(a!, b!));
    await expectSameOnBoth(() => [rand([1, 5, 7]), rand([6, 7, 3])], ([a, b]) => tf.matMul(a!, b!, false, false));
    await expectSameOnBoth(() => [rand([6, 5, 7]), rand([1, 3, 7])], ([a, b]) => tf.matMul(a!, b!, false, true));
  });

  it('the CPC head shape: batch T-k = 70 of [B, D] x [D, B] (B = 16, D = 128), forward and both gradients', async () => {
    await expectSameOnBoth(
      () => [rand([70, 16, 128]), rand([70, 16, 128]), rand([70, 16, 16])],
      ([p, z, r]) => {
        const f = (a: tf.Tensor, b: tf.Tensor) => tf.matMul(a, b, false, true).mul(r!).sum();
        return [tf.matMul(p!, z!, false, true), ...tf.grads(f)([p!, z!])];
      },
    );
  });

  it('a Variable operand, transposed (cached transpose), stays right after assign and after dispose', async () => {
    const results: Record<Name, Float32Array[]> = { wasm: [], cpu: [] };
    for (const backend of ['wasm', 'cpu'] as const) {
      await tf.setBackend(backend);
      seed = 1000;
      const x = rand([5, 7]);
      const y = rand([5, 6]);
      const z = rand([6, 5]);
      const v = tf.variable(rand([6, 7]));
      const reads: tf.Tensor[] = [];
      reads.push(tf.matMul(x, v, false, true)); // x @ v^T: v transposed (cached on wasm)
      reads.push(tf.matMul(v, x, false, true)); // v @ x^T: x transposed, v not
      reads.push(tf.matMul(v, y, true, true)); // v^T @ y^T: both transposed
      reads.push(tf.matMul(v, z, true, false)); // v^T @ z: transposeA only
      reads.push(tf.matMul(x, v, false, true)); // again: served from the cache on wasm
      if (backend === 'wasm') expect(derivedCacheSize()).toBeGreaterThan(0);
      v.assign(rand([6, 7]));
      reads.push(tf.matMul(x, v, false, true)); // must use the new value
      reads.push(tf.matMul(v, y, true, true));
      v.assign(v.mul(2)); // an assign derived from the old value
      reads.push(tf.matMul(x, v, false, true));
      for (const t of reads) results[backend].push(new Float32Array(await t.data()));
      tf.dispose([x, y, z, ...reads]);
      v.dispose();
      if (backend === 'wasm') {
        // the next transposed matmul evicts transposes of values that no Variable holds any more
        tf.tidy(() => tf.matMul(tf.ones([2, 3]), tf.ones([2, 3]), false, true));
        expect(derivedCacheSize()).toBe(0);
      }
    }
    expect(results.wasm.length).toBe(8);
    for (let i = 0; i < results.wasm.length; i++) expect(relErr(results.wasm[i]!, results.cpu[i]!)).toBeLessThan(1e-4);
    // the assigns really changed the products (so the comparison above covers a stale cache)
    expect(relErr(results.cpu[5]!, results.cpu[0]!)).toBeGreaterThan(0.1);
    expect(relErr(results.cpu[7]!, results.cpu[5]!)).toBeGreaterThan(0.1);
  });

  it('a dense layer trained for two steps matches (gradients through the cached W^T)', async () => {
    await expectSameOnBoth(
      () => ({ x: rand([16, 24]), w0: rand([24, 10]), t: rand([16, 10]) }),
      ({ x, w0, t }) => {
        const w = tf.variable(w0);
        const opt = tf.train.sgd(0.05);
        const losses: tf.Tensor[] = [];
        for (let step = 0; step < 3; step++) {
          const loss = opt.minimize(() => tf.matMul(tf.matMul(x, w).relu(), w, false, true).sub(x).square().mean() as tf.Scalar, true, [w]);
          if (loss) losses.push(loss);
        }
        const out = [tf.stack(losses), w.clone()];
        w.dispose();
        opt.dispose();
        return out;
      },
    );
  });
});

describe('Slice and Unpack', () => {
  it('contiguous and non-contiguous slices of rank 1 to 5, float32 and int32', async () => {
    await expectSameOnBoth(
      () => ({ a: rand([10, 6, 5]), b: rand([4, 3, 5, 2, 3]), c: rand([20]) }),
      ({ a, b, c }) => [
        a.slice([2, 0, 0], [3, 6, 5]), // contiguous
        a.slice([1, 2, 1], [4, 3, 2]), // strided
        a.slice([0, 5, 0], [-1, 1, -1]), // size -1
        b.slice([1, 0, 2, 1, 0], [2, 3, 2, 1, 2]),
        c.slice(3, 9),
        a.mul(100).toInt().slice([1, 2, 1], [4, 3, 2]).toFloat(),
      ],
    );
  });

  it('unstack along every axis', async () => {
    await expectSameOnBoth(
      () => rand([4, 3, 5]),
      (a) => [...tf.unstack(a, 0), ...tf.unstack(a, 1), ...tf.unstack(a, -1)],
    );
  });

  it('gradients through slice and unstack', async () => {
    await expectSameOnBoth(
      () => [rand([6, 4, 5]), rand([4, 5])],
      ([a, r]) => tf.grads((x: tf.Tensor) => tf.addN(tf.unstack(x).map((s, i) => s.mul(r!).mul(i + 1))).sum().add(x.slice([1, 1, 0], [3, 2, 4]).sum()))([a!]),
    );
  });

  it('int32 values survive exactly', async () => {
    await tf.setBackend('wasm');
    const a = tf.tensor3d(Int32Array.from({ length: 60 }, (_, i) => i * 7 - 100), [3, 4, 5], 'int32');
    const parts = tf.unstack(a, 1);
    expect(parts[2]!.dtype).toBe('int32');
    expect(Array.from(await parts[2]!.data())).toEqual([10, 11, 12, 13, 14].map((i) => i * 7 - 100).concat(
      [30, 31, 32, 33, 34].map((i) => i * 7 - 100), [50, 51, 52, 53, 54].map((i) => i * 7 - 100)));
    tf.dispose([a, ...parts]);
  });
});

describe('Identity', () => {
  it('shares data, counts references, and the copy survives disposing the source', async () => {
    await tf.setBackend('wasm');
    const backend = tf.backend();
    const buffersBefore = backend.numDataIds();
    const src = tf.tensor1d([1.5, -2, 3.25, 4]);
    const copy = tf.clone(src);
    expect(copy.dataId).toBe(src.dataId); // shallow
    expect(backend.numDataIds()).toBe(buffersBefore + 1);
    src.dispose();
    expect(Array.from(await copy.data())).toEqual([1.5, -2, 3.25, 4]);
    const copy2 = copy.clone();
    copy.dispose();
    expect(Array.from(await copy2.data())).toEqual([1.5, -2, 3.25, 4]);
    copy2.dispose();
    expect(backend.numDataIds()).toBe(buffersBefore); // freed with the last reference
  });

  it('the values a Variable saved for the backward pass survive its assign', async () => {
    await expectSameOnBoth(
      () => [rand([3, 4]), rand([4, 2]), rand([4, 2])],
      ([x, w0, w1]) => {
        const v = tf.variable(w0!);
        const g = tf.grads((a: tf.Tensor) => {
          const y = tf.matMul(a, v);
          v.assign(w1!); // the tape holds the old value
          return y.square().sum();
        })([x!]);
        v.dispose();
        return g;
      },
    );
  });
});

describe('memory', () => {
  it('a conv + dense training step leaks no tensors or wasm buffers', async () => {
    await tf.setBackend('wasm');
    const backend = tf.backend();
    const x = rand([4, 17, 23, 16]) as tf.Tensor4D;
    const w1 = tf.variable(rand([4, 4, 16, 32]));
    const w2 = tf.variable(rand([7 * 10 * 32, 8]));
    const opt = tf.train.sgd(1e-3);
    const step = () =>
      opt.minimize(() => tf.matMul(tf.conv2d(x, w1 as tf.Variable<tf.Rank.R4>, 2, 'valid').relu().reshape([4, -1]), w2).square().mean() as tf.Scalar, false);
    step(); // warm up: optimizer state, cached transposes
    const tensors = tf.memory().numTensors;
    const buffers = backend.numDataIds();
    for (let i = 0; i < 3; i++) step();
    expect(tf.memory().numTensors).toBe(tensors);
    expect(backend.numDataIds()).toBe(buffers);
    opt.dispose();
    tf.dispose([x, w1, w2]);
  });
});

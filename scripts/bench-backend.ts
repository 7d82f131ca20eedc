/**
 * Kernel timings, stock vs the project's kernels (src/backend/), at the learner's sizes: B*T frames of 72x96 RGB
 * through the IMPALA shallow encoder, the LSTM's and CPC head's matmuls.
 *
 *   npx tsx scripts/bench-backend.ts [--frames 800] [--reps 5] [--no-encoder]
 *
 * `npm run bench` imports benchMatmulAndConv(). Timings are medians of `reps` runs after one warm-up, on one thread;
 * on a shared machine expect +-30% between runs.
 */
import { pathToFileURL } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { stockCpuConv2DBackpropFilter, registerCpuKernels } from '../src/backend/cpuKernels.js';
import { quietTfjs } from '../src/backend/quiet.js';
import { registerWasmKernels, stockWasmKernel } from '../src/backend/wasmKernels.js';

export interface Row {
  /** Kernel (or `encoder fwd+bwd`). */
  kernel: string;
  /** The case, with shapes. */
  case: string;
  /** What `baselineMs` measured, e.g. `stock wasm`. */
  baseline: string;
  baselineMs: number | null;
  /** The project's kernels on wasm. */
  oursMs: number;
  /** baselineMs / oursMs. */
  speedup: number | null;
}

export interface BenchOptions {
  /** Frames (B*T) for the encoder-sized cases; default 800 (B = 8, T = 100). */
  frames?: number;
  /** Timed runs per case (median reported); default 5. */
  reps?: number;
  /** Also time a whole encoder forward+backward on wasm and on cpu; default true. */
  encoder?: boolean;
}

type Outputs = tf.TensorInfo | tf.TensorInfo[];

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1]!;
}

/** Median ms of `reps` calls after one warm-up; `release` frees each call's outputs. */
function timeMs(f: () => Outputs, release: (o: Outputs) => void, reps: number): number {
  release(f());
  const ts: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    const out = f();
    ts.push(performance.now() - t0);
    release(out);
  }
  return median(ts);
}

function releaser(backend: tf.KernelBackend): (o: Outputs) => void {
  return (o) => {
    for (const t of Array.isArray(o) ? o : [o]) backend.disposeData(t.dataId);
  };
}

function callKernel(config: tf.KernelConfig, backend: tf.KernelBackend, inputs: tf.NamedTensorInfoMap, attrs: object): Outputs {
  return config.kernelFunc({ inputs, backend, attrs: attrs as tf.NamedAttrMap });
}

const row = (kernel: string, c: string, baseline: string, baselineMs: number | null, oursMs: number): Row => ({
  kernel, case: c, baseline, baselineMs, oursMs, speedup: baselineMs === null ? null : baselineMs / oursMs,
});

/** The IMPALA shallow encoder's weights. */
function encoderWeights(): tf.Variable[] {
  const v = (shape: number[], sd: number, seed: number) => tf.variable(tf.randomNormal(shape, 0, sd, 'float32', seed));
  return [v([8, 8, 3, 16], 0.05, 1), v([16], 0, 2), v([4, 4, 16, 32], 0.05, 3), v([32], 0, 4), v([7 * 10 * 32, 256], 0.02, 5), v([256], 0, 6)];
}

/** ms of one forward+backward (all weight gradients) of the encoder on `frames` frames, current backend. */
async function encoderStepMs(frames: number, reps: number): Promise<number> {
  const [w1, b1, w2, b2, w3, b3] = encoderWeights();
  const obs = tf.randomUniform([frames, 72, 96, 3], 0, 255, 'int32', 7);
  const loss = () => {
    const x = obs.toFloat().div(255) as tf.Tensor4D;
    const h1 = tf.conv2d(x, w1 as tf.Variable<tf.Rank.R4>, 4, 'valid').add(b1!).relu() as tf.Tensor4D;
    const h2 = tf.conv2d(h1, w2 as tf.Variable<tf.Rank.R4>, 2, 'valid').add(b2!).relu();
    return tf.matMul(h2.reshape([frames, -1]), w3!).add(b3!).relu().square().mean() as tf.Scalar;
  };
  const ts: number[] = [];
  for (let i = 0; i <= reps; i++) {
    const t0 = performance.now();
    const { value, grads } = tf.variableGrads(loss);
    await value.data();
    if (i > 0) ts.push(performance.now() - t0);
    tf.dispose([value, ...Object.values(grads)]);
  }
  tf.dispose([obs, w1, b1, w2, b2, w3, b3]);
  return median(ts);
}

/**
 * Times matmul, convolution-gradient, slicing and identity kernels: stock tfjs-backend-wasm against ours (where
 * stock wasm has no kernel, the stock cpu one, timed on fewer frames and scaled linearly), and optionally a whole
 * encoder forward+backward on wasm against the cpu backend. Leaves the wasm backend active.
 */
export async function benchMatmulAndConv(options: BenchOptions = {}): Promise<Row[]> {
  const N = options.frames ?? 800;
  const reps = options.reps ?? 5;
  quietTfjs();
  registerWasmKernels();
  if (!(await tf.setBackend('wasm'))) throw new Error('bench: the wasm backend failed to initialise');
  const backend = tf.backend();
  const release = releaser(backend);
  const rows: Row[] = [];
  const ours = (name: string) => tf.getKernel(name, 'wasm');
  const stock = (name: string) => stockWasmKernel(name);

  /** Stock vs ours on the same inputs (tensors created by `make` on wasm, disposed after). */
  const compare = (kernel: string, c: string, make: () => tf.NamedTensorMap, attrs: object) => {
    const inputs = make();
    const s = stock(kernel);
    const stockMs = s ? timeMs(() => callKernel(s, backend, inputs, attrs), release, Math.min(reps, 3)) : null;
    const oursMs = timeMs(() => callKernel(ours(kernel), backend, inputs, attrs), release, reps);
    tf.dispose(Object.values(inputs));
    rows.push(row(kernel, c, 'stock wasm', stockMs, oursMs));
  };
  const rnd = (shape: number[], seed: number) => tf.randomNormal(shape, 0, 1, 'float32', seed);

  // Matmuls of the learner step. W is a Variable, as in training, so ours reuses its cached transpose.
  const w3 = tf.variable(rnd([2240, 256], 11));
  compare('BatchMatMul', `dense dx: [${N},256] x W[2240,256]^T (W a Variable)`, () => ({ a: rnd([N, 256], 12), b: w3 }), { transposeA: false, transposeB: true });
  w3.dispose();
  compare('BatchMatMul', `dense dW: [${N},2240]^T x [${N},256]`, () => ({ a: rnd([N, 2240], 13), b: rnd([N, 256], 14) }), { transposeA: true, transposeB: false });
  compare('BatchMatMul', 'LSTM dW: [32,522]^T x [32,1024]', () => ({ a: rnd([32, 522], 15), b: rnd([32, 1024], 16) }), { transposeA: true, transposeB: false });
  compare('BatchMatMul', 'CPC scores: [70,32,256] x [70,32,256]^T', () => ({ a: rnd([70, 32, 256], 17), b: rnd([70, 32, 256], 18) }), { transposeA: false, transposeB: true });
  compare('BatchMatMul', 'CPC scores B=8: [70,8,256] x [70,8,256]^T', () => ({ a: rnd([70, 8, 256], 19), b: rnd([70, 8, 256], 20) }), { transposeA: false, transposeB: true });

  // Convolution gradients at N frames.
  const convs = [
    { name: 'conv1', x: [72, 96, 3], dy: [17, 23, 16], filter: [8, 8, 3, 16], s: 4 },
    { name: 'conv2', x: [17, 23, 16], dy: [7, 10, 32], filter: [4, 4, 16, 32], s: 2 },
  ];
  for (const c of convs) {
    const attrs = { strides: [c.s, c.s], pad: 'valid', dataFormat: 'NHWC', dimRoundingMode: undefined, filterShape: c.filter };
    const x = rnd([N, ...c.x], 21);
    const dy = rnd([N, ...c.dy], 22);
    const oursMs = timeMs(() => callKernel(ours('Conv2DBackpropFilter'), backend, { x, dy }, attrs), release, reps);
    tf.dispose([x, dy]);
    // Stock wasm has no Conv2DBackpropFilter; stock cpu takes ~0.3 s per conv1 frame, so time a few frames.
    const n = 4;
    await tf.setBackend('cpu');
    const cpu = tf.backend();
    const xc = rnd([n, ...c.x], 23);
    const dyc = rnd([n, ...c.dy], 24);
    const cpuMs = timeMs(() => callKernel(stockCpuConv2DBackpropFilter(), cpu, { x: xc, dy: dyc }, attrs), releaser(cpu), 1) * (N / n);
    tf.dispose([xc, dyc]);
    await tf.setBackend('wasm');
    rows.push(row('Conv2DBackpropFilter', `${c.name}: x [${N},${c.x}], dy [${N},${c.dy}]`, `stock cpu (none in wasm), ${n} frames x ${N / n}`, cpuMs, oursMs));
  }
  const c2 = convs[1]!;
  compare('Conv2DBackpropInput', `conv2: dy [${N},${c2.dy}] -> dx [${N},${c2.x}]`,
    () => ({ dy: rnd([N, ...c2.dy], 25), filter: rnd(c2.filter, 26) }),
    { strides: [2, 2], pad: 'valid', dataFormat: 'NHWC', dimRoundingMode: undefined, inputShape: [N, ...c2.x] });

  // Data movement.
  compare('Unpack', 'unstack [100,32,256] along time', () => ({ value: rnd([100, 32, 256], 27) }), { axis: 0 });
  compare('Slice', 'slice [100,32,256] -> [70,32,256]', () => ({ x: rnd([100, 32, 256], 28) }), { begin: [30, 0, 0], size: [70, 32, 256] });
  compare('Identity', `identity [${N},2240]`, () => ({ x: rnd([N, 2240], 29) }), {});

  if (options.encoder ?? true) {
    const wasmMs = await encoderStepMs(N, Math.min(reps, 3));
    registerCpuKernels(); // stock cpu would spend minutes in Conv2DBackpropFilter
    await tf.setBackend('cpu');
    const cpuFrames = Math.min(N, 100);
    const cpuMs = (await encoderStepMs(cpuFrames, 1)) * (N / cpuFrames);
    await tf.setBackend('wasm');
    rows.push(row('encoder fwd+bwd', `72x96 conv-conv-fc, ${N} frames`,
      cpuFrames === N ? 'cpu backend (+ project kernel)' : `cpu backend (+ project kernel), ${cpuFrames} frames x ${N / cpuFrames}`, cpuMs, wasmMs));
  }
  return rows;
}

/** A fixed-width table of the rows. */
export function formatRows(rows: Row[]): string {
  const fmt = (v: number | null) => (v === null ? 'n/a' : v.toFixed(1));
  const w = {
    kernel: Math.max(6, ...rows.map((r) => r.kernel.length)),
    case: Math.max(4, ...rows.map((r) => r.case.length)),
    baseline: Math.max(8, ...rows.map((r) => r.baseline.length)),
  };
  const line = (k: string, c: string, b: string, bm: string, om: string, sp: string) =>
    `${k.padEnd(w.kernel)}  ${c.padEnd(w.case)}  ${b.padEnd(w.baseline)}  ${bm.padStart(11)}  ${om.padStart(9)}  ${sp.padStart(7)}`;
  return [
    line('kernel', 'case', 'baseline', 'baseline ms', 'ours ms', 'speedup'),
    ...rows.map((r) => line(r.kernel, r.case, r.baseline, fmt(r.baselineMs), fmt(r.oursMs), r.speedup === null ? 'n/a' : `${r.speedup.toFixed(1)}x`)),
  ].join('\n');
}

function argValue(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const frames = Number(argValue('--frames') ?? 800);
  const reps = Number(argValue('--reps') ?? 5);
  const rows = await benchMatmulAndConv({ frames, reps, encoder: !process.argv.includes('--no-encoder') });
  console.log(formatRows(rows));
}

/**
 * Project-owned kernels for `@tensorflow/tfjs-backend-wasm` 4.22, registered over (or next to) the stock ones.
 *
 * Why: stock `wasm` cannot train our network and is slow where it can. Measured on a 2-core machine
 * (see /work/shared/reference/README.md):
 * - `Conv2DBackpropFilter` is not registered at all, so no conv net can be trained.
 * - `BatchMatMul` takes XNNPACK only for 2-D, non-transposed operands; every matmul gradient (transposed
 *   operands) and every batched matmul falls back to a scalar C++ loop that is 10-40x slower.
 * - `Slice`/`Unpack` copy the whole input out of the heap for every slice (`unstack` of T steps = T copies).
 * - `Identity` deep-copies; the engine clones every tensor it saves for the backward pass.
 * - `Conv2DBackpropInput` is a plain C++ loop.
 *
 * Call {@link registerWasmKernels} before `tf.setBackend('wasm')` (it also works after).
 * All kernels here use NHWC and float32, like the network.
 */
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm'; // registers the backend and its stock kernels, which we wrap
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';

type TensorInfo = tf.TensorInfo;
type DataId = tf.DataId;
type Shape4 = [number, number, number, number];
type Pad = 'valid' | 'same' | number | tf.backend_util.ExplicitPadding;

const BACKEND = 'wasm';

// ---------------------------------------------------------------------------------------------------------------
// The one place where tfjs's untyped kernel plumbing gets types. A kernel receives `backend: {}` and
// `attrs: NamedAttrMap`; for backend 'wasm' the backend is always a BackendWasm and the attrs are those of the
// kernel's documented attribute interface (tfjs-core kernel_names.ts), so these narrowing casts are sound.
// ---------------------------------------------------------------------------------------------------------------

interface Args<A> {
  inputs: tf.NamedTensorInfoMap;
  backend: BackendWasm;
  attrs: A;
}

type Impl<A> = (args: Args<A>) => TensorInfo | TensorInfo[];

function kernelFunc<A>(impl: Impl<A>): tf.KernelFunc {
  return ({ inputs, backend, attrs }) =>
    impl({ inputs, backend: backend as BackendWasm, attrs: (attrs ?? {}) as unknown as A });
}

/** Runs a registered kernel's function directly (no engine bookkeeping: the caller disposes what it makes). */
function call(config: tf.KernelConfig, backend: BackendWasm, inputs: tf.NamedTensorInfoMap, attrs: object = {}): TensorInfo {
  return config.kernelFunc({ inputs, backend, attrs: attrs as tf.NamedAttrMap }) as TensorInfo;
}

function input(inputs: tf.NamedTensorInfoMap, name: string): TensorInfo {
  const t = inputs[name];
  if (t === undefined) throw new Error(`wasmKernels: missing input '${name}'`);
  return t;
}

function f32(backend: BackendWasm, t: TensorInfo): Float32Array {
  // A fresh view every time: any allocation may grow (and detach) the wasm heap.
  return backend.typedArrayFromHeap(t) as Float32Array;
}

function free(backend: BackendWasm, ...ts: TensorInfo[]): void {
  for (const t of ts) backend.disposeData(t.dataId);
}

/** A reshape that shares data (the caller must not dispose it). */
function view(t: TensorInfo, shape: number[]): TensorInfo {
  return { dataId: t.dataId, shape, dtype: t.dtype };
}

const size = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);

/** The stock kernels we wrap or fall back to, captured when we register. */
const stock = new Map<string, tf.KernelConfig>();

function stockKernel(name: string): tf.KernelConfig {
  const k = stock.get(name) ?? tf.getKernel(name, BACKEND);
  if (!k) throw new Error(`wasmKernels: stock wasm kernel '${name}' is not registered`);
  return k;
}

function transposeKernel(): tf.KernelConfig {
  return stockKernel(tf.Transpose);
}

/** x with its last two dims swapped (a new tensor). Shape [..., r, c] -> [..., c, r]. */
function transposeLast2(backend: BackendWasm, x: TensorInfo): TensorInfo {
  const r = x.shape.length;
  const perm = [...Array(r - 2).keys(), r - 1, r - 2];
  return call(transposeKernel(), backend, { x }, { perm });
}

// ---------------------------------------------------------------------------------------------------------------
// Tensors derived from tf.Variable values (W^T, rearranged conv filters), cached. Gradients multiply by W^T at
// every step of the unroll; the weights change only when the optimizer assigns them, which gives the Variable a
// new dataId (tfjs never writes a tensor in place), so a derived tensor keyed by (dataId, how) is valid exactly as
// long as that dataId belongs to a Variable. The cached tensor is then also the `b` of XNNPACK matmuls/convs, which
// keep their packed weights per tensor, so the packing is saved too.
// ---------------------------------------------------------------------------------------------------------------

const derivedCaches = new WeakMap<BackendWasm, Map<DataId, Map<string, TensorInfo>>>();

/** dataIds held by Variables now; cached tensors derived from any other dataId are freed. */
function liveVariables(backend: BackendWasm): Set<DataId> {
  const live = new Set<DataId>();
  for (const v of Object.values(tf.engine().state.registeredVariables)) live.add(v.dataId);
  const cache = derivedCaches.get(backend);
  if (cache) {
    for (const [id, byKey] of cache) {
      if (live.has(id)) continue;
      for (const t of byKey.values()) free(backend, t);
      cache.delete(id);
    }
  }
  return live;
}

/**
 * `make()` derived from x. When x's data is a Variable's (in `live`), the result is cached under `key` and owned by
 * the cache (`owned` false: the caller must not dispose it).
 */
function derived(backend: BackendWasm, x: TensorInfo, key: string, live: Set<DataId>, make: () => TensorInfo): { t: TensorInfo; owned: boolean } {
  if (!live.has(x.dataId)) return { t: make(), owned: true };
  let cache = derivedCaches.get(backend);
  if (!cache) derivedCaches.set(backend, (cache = new Map()));
  let byKey = cache.get(x.dataId);
  if (!byKey) cache.set(x.dataId, (byKey = new Map()));
  let t = byKey.get(key);
  if (!t) byKey.set(key, (t = make()));
  return { t, owned: false };
}

/** x with its last two dims swapped, cached for Variables (see {@link derived}). */
function transposeMaybeCached(backend: BackendWasm, x: TensorInfo, live: Set<DataId>): { t: TensorInfo; owned: boolean } {
  return derived(backend, x, `T${x.shape.join(',')}`, live, () => transposeLast2(backend, x));
}

/** Number of tensors derived from Variables cached by the current wasm backend (diagnostics and tests). */
export function derivedCacheSize(): number {
  if (tf.getBackend() !== BACKEND) return 0;
  const cache = derivedCaches.get(tf.backend() as BackendWasm);
  let n = 0;
  if (cache) for (const byKey of cache.values()) n += byKey.size;
  return n;
}

// ---------------------------------------------------------------------------------------------------------------
// BatchMatMul: everything goes through XNNPACK's 2-D non-transposed path. Transposed operands are transposed
// explicitly (Variables from the cache above); batched products loop over batch entries.
// ---------------------------------------------------------------------------------------------------------------

interface BatchMatMulAttrs {
  transposeA: boolean;
  transposeB: boolean;
}

/** Row-major strides of every dim (the last is 1). */
function stridesOf(shape: readonly number[]): number[] {
  const s = new Array<number>(shape.length);
  for (let d = shape.length - 1, acc = 1; d >= 0; acc *= shape[d]!, d--) s[d] = acc;
  return s;
}

/** For each entry of the broadcast batch shape `out`, the flat index of the entry of `src` it reads. */
function broadcastIndices(out: number[], src: number[]): Int32Array {
  const idx = new Int32Array(size(out));
  const offset = out.length - src.length;
  const os = stridesOf(out);
  const ss = stridesOf(src);
  for (let i = 0; i < idx.length; i++) {
    let rem = i;
    let j = 0;
    for (let d = 0; d < out.length; d++) {
      const coord = Math.floor(rem / os[d]!);
      rem -= coord * os[d]!;
      const sd = d - offset;
      if (sd >= 0 && src[sd] !== 1) j += coord * ss[sd]!;
    }
    idx[i] = j;
  }
  return idx;
}

/**
 * a @ b without transposes. a: [...batchA, m, k], b: [...batchB, k, n] (batch dims broadcast) -> [...batch, m, n].
 */
function matMulNN(backend: BackendWasm, a: TensorInfo, b: TensorInfo): TensorInfo {
  const mm = stockKernel(tf.BatchMatMul);
  const flags = { transposeA: false, transposeB: false };
  const [m, k] = a.shape.slice(-2) as [number, number];
  const n = b.shape[b.shape.length - 1]!;
  const batchA = a.shape.slice(0, -2);
  const batchB = b.shape.slice(0, -2);
  const outBatch = tf.broadcast_util.assertAndGetBroadcastShape(batchA, batchB);
  const outShape = [...outBatch, m, n];
  const nA = size(batchA);
  const nB = size(batchB);
  if (nB === 1) {
    // One GEMM: fold a's batch into its rows (also the plain 2-D case).
    const r = call(mm, backend, { a: view(a, [nA * m, k]), b: view(b, [k, n]) }, flags);
    return { ...r, shape: outShape };
  }
  // One GEMM per batch entry. XNNPACK caches its operator (b packed) by b's tensor id, so every entry's b must
  // be a new tensor; a can be one reused buffer.
  const nOut = size(outBatch);
  const aIdx = broadcastIndices(outBatch, batchA);
  const bIdx = broadcastIndices(outBatch, batchB);
  const out = backend.makeOutput(outShape, 'float32');
  const ai = backend.makeOutput([m, k], 'float32');
  let aLoaded = -1;
  for (let i = 0; i < nOut; i++) {
    const bi = backend.makeOutput([k, n], 'float32');
    if (aIdx[i] !== aLoaded) {
      const j = aIdx[i]!;
      f32(backend, ai).set(f32(backend, a).subarray(j * m * k, (j + 1) * m * k));
      aLoaded = j;
    }
    const j = bIdx[i]!;
    f32(backend, bi).set(f32(backend, b).subarray(j * k * n, (j + 1) * k * n));
    const r = call(mm, backend, { a: ai, b: bi }, flags);
    f32(backend, out).set(f32(backend, r), i * m * n);
    free(backend, r, bi);
  }
  free(backend, ai);
  return out;
}

/**
 * Below this many multiply-adds per batch entry, stock's scalar loop is as fast as one XNNPACK operator per entry
 * (creating one and packing its b costs ~10-30 us; the loop runs ~1-1.5 ns per multiply-add), measured on a 2-core
 * machine: at B = 8, D = 256 the CPC head's [B, D] x [D, B] entries (16384) are a tie, at B = 16 ours is 2-3x faster.
 */
const SMALL_ENTRY_MACS = 20000;

const batchMatMul = kernelFunc<BatchMatMulAttrs>(({ inputs, backend, attrs }) => {
  const a = input(inputs, 'a');
  const b = input(inputs, 'b');
  if (a.dtype !== 'float32' || b.dtype !== 'float32') {
    return call(stockKernel(tf.BatchMatMul), backend, inputs, attrs); // it throws its own error
  }
  const ra = a.shape.length;
  const rb = b.shape.length;
  const batch = size(a.shape.slice(0, -2));
  if (batch > 1 && ra === rb && a.shape.slice(0, -2).every((d, i) => d === b.shape[i])) {
    const m = a.shape[attrs.transposeA ? ra - 1 : ra - 2]!;
    const k = a.shape[attrs.transposeA ? ra - 2 : ra - 1]!;
    const n = b.shape[attrs.transposeB ? rb - 2 : rb - 1]!;
    if (m * k * n < SMALL_ENTRY_MACS) return call(stockKernel(tf.BatchMatMul), backend, inputs, attrs);
  }
  if (!attrs.transposeA && !attrs.transposeB) return matMulNN(backend, a, b);
  const live = liveVariables(backend);
  const temps: TensorInfo[] = [];
  const prepare = (x: TensorInfo, transpose: boolean): TensorInfo => {
    if (!transpose) return x;
    const { t, owned } = transposeMaybeCached(backend, x, live);
    if (owned) temps.push(t);
    return t;
  };
  const out = matMulNN(backend, prepare(a, attrs.transposeA), prepare(b, attrs.transposeB));
  free(backend, ...temps);
  return out;
});

// ---------------------------------------------------------------------------------------------------------------
// Slice / Unpack: copy only the selected elements, straight between heap views (stock reads the whole input out
// of the heap first, for every slice).
// ---------------------------------------------------------------------------------------------------------------

interface SliceAttrs {
  begin: number | number[];
  size?: number | number[];
}

const HEAP_DTYPES = new Set<tf.DataType>(['float32', 'int32', 'bool']);

function sliceImpl(backend: BackendWasm, x: TensorInfo, beginAttr: number | number[], sizeAttr?: number | number[]): TensorInfo {
  if (!HEAP_DTYPES.has(x.dtype)) {
    return call(stockKernel(tf.Slice), backend, { x }, { begin: beginAttr, size: sizeAttr });
  }
  const [begin, sz] = tf.slice_util.parseSliceParams(x, beginAttr, sizeAttr) as [number[], number[]];
  const out = backend.makeOutput(sz, x.dtype); // allocate before taking views: growth detaches them
  const xv = backend.typedArrayFromHeap(x);
  const ov = backend.typedArrayFromHeap(out);
  const strides = tf.util.computeStrides(x.shape);
  if (tf.slice_util.isSliceContinous(x.shape, begin, sz)) {
    const off = tf.slice_util.computeFlatOffset(begin, strides);
    ov.set(xv.subarray(off, off + size(sz)));
    return out;
  }
  // Copy contiguous innermost rows; idx walks the outer coordinates of the slice like an odometer.
  const rank = x.shape.length;
  const inner = sz[rank - 1]!;
  const idx = new Array<number>(rank - 1).fill(0);
  const rows = size(sz.slice(0, -1));
  for (let r = 0, o = 0; r < rows; r++, o += inner) {
    let off = begin[rank - 1]!;
    for (let d = 0; d < rank - 1; d++) off += (begin[d]! + idx[d]!) * strides[d]!;
    ov.set(xv.subarray(off, off + inner), o);
    for (let d = rank - 2; d >= 0; d--) {
      if (++idx[d]! < sz[d]!) break;
      idx[d] = 0;
    }
  }
  return out;
}

const slice = kernelFunc<SliceAttrs>(({ inputs, backend, attrs }) =>
  sliceImpl(backend, input(inputs, 'x'), attrs.begin, attrs.size),
);

interface UnpackAttrs {
  axis: number;
}

const unpack = kernelFunc<UnpackAttrs>(({ inputs, backend, attrs }) => {
  const value = input(inputs, 'value');
  const rank = value.shape.length;
  const axis = attrs.axis < 0 ? attrs.axis + rank : attrs.axis;
  const outShape = value.shape.filter((_, i) => i !== axis);
  const begin = new Array<number>(rank).fill(0);
  const sz = value.shape.slice();
  sz[axis] = 1;
  const outs: TensorInfo[] = [];
  for (let i = 0; i < value.shape[axis]!; i++) {
    begin[axis] = i;
    outs.push({ ...sliceImpl(backend, value, begin, sz), shape: outShape });
  }
  return outs;
});

// ---------------------------------------------------------------------------------------------------------------
// Identity: share the data and count references, as tfjs-backend-cpu does (tensors are immutable).
// ---------------------------------------------------------------------------------------------------------------

const identity = kernelFunc<Record<string, never>>(({ inputs, backend, attrs }) => {
  const x = input(inputs, 'x');
  if (x.dtype === 'string') return call(stockKernel(tf.Identity), backend, inputs, attrs);
  backend.incRef(x.dataId);
  return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
});

// ---------------------------------------------------------------------------------------------------------------
// Convolution gradients (NHWC, dilation 1: tfjs has no conv gradients for dilation > 1).
// ---------------------------------------------------------------------------------------------------------------

interface ConvBackpropAttrs {
  strides: number | [number, number];
  pad: Pad;
  dataFormat?: 'NHWC' | 'NCHW';
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
}

interface Conv2DBackpropFilterAttrs extends ConvBackpropAttrs {
  filterShape: Shape4;
}

interface Conv2DBackpropInputAttrs extends ConvBackpropAttrs {
  inputShape: Shape4;
}

function convInfo(xShape: number[], filterShape: number[], attrs: ConvBackpropAttrs): tf.backend_util.Conv2DInfo {
  return tf.backend_util.computeConv2DInfo(
    xShape as Shape4, filterShape as Shape4, attrs.strides, 1, attrs.pad, attrs.dimRoundingMode, false, 'channelsLast');
}

/**
 * Chunk sizes (tuning knobs; exported so tests can force several chunks on small inputs).
 * `filterFrames`: frames per chunk of the filter gradient (bounds the transposed copies of x and dy).
 * `colFloats`: floats of intermediate buffer (phase outputs or im2col) per chunk of the input gradient.
 */
export const wasmKernelChunks = { filterFrames: 256, colFloats: 4 << 20 };

/** Frames [n0, n0 + nn) of a rank-4 tensor: a view when that is all of it, else a copy (`copied`). */
function frames(backend: BackendWasm, t: TensorInfo, n0: number, nn: number): { t: TensorInfo; copied: boolean } {
  if (n0 === 0 && nn === t.shape[0]) return { t, copied: false };
  return { t: sliceImpl(backend, t, [n0, 0, 0, 0], [nn, ...t.shape.slice(1)]), copied: true };
}

/**
 * dW[kh, kw, ci, co] = sum_{n, oh, ow} xPadded[n, oh*sh + kh, ow*sw + kw, ci] * dy[n, oh, ow, co], which is itself a
 * convolution that XNNPACK runs fast: input x' = x^T [Ci, H, W, N] (channels = frames), filter dy' [OH, OW, N, Co],
 * stride 1, dilation (sh, sw), VALID after explicit padding -> [Ci, KH, KW, Co]. Chunks of frames are summed.
 * Inputs x [N, H, W, Ci], dy [N, OH, OW, Co]; output [KH, KW, Ci, Co].
 */
const conv2DBackpropFilter = kernelFunc<Conv2DBackpropFilterAttrs>(({ inputs, backend, attrs }) => {
  const x = input(inputs, 'x');
  const dy = input(inputs, 'dy');
  if (attrs.dataFormat === 'NCHW') throw new Error("wasm Conv2DBackpropFilter: dataFormat 'NCHW' is not supported; use 'NHWC'");
  const info = convInfo(x.shape, attrs.filterShape, attrs);
  const { batchSize: N, inHeight: H, inWidth: W, inChannels: Ci, outHeight: OH, outWidth: OW, outChannels: Co } = info;
  const { strideHeight: sh, strideWidth: sw, filterHeight: KH, filterWidth: KW } = info;
  const { top, left } = info.padInfo;
  // Rows/cols of the padded input the filter touches, and the part of x they cover.
  const needH = (OH - 1) * sh + KH;
  const needW = (OW - 1) * sw + KW;
  const cropH = Math.min(H, needH - top);
  const cropW = Math.min(W, needW - left);
  const pad = [[0, 0], [top, needH - top - cropH], [left, needW - left - cropW], [0, 0]];
  const conv = stockKernel(tf.Conv2D);
  const acc = new Float32Array(Ci * KH * KW * Co); // [Ci, KH, KW, Co]
  for (let n0 = 0; n0 < N; n0 += wasmKernelChunks.filterFrames) {
    const nn = Math.min(wasmKernelChunks.filterFrames, N - n0);
    const xs = cropH === H && cropW === W
      ? frames(backend, x, n0, nn)
      : { t: sliceImpl(backend, x, [n0, 0, 0, 0], [nn, cropH, cropW, Ci]), copied: true };
    const xt = call(transposeKernel(), backend, { x: xs.t }, { perm: [3, 1, 2, 0] });
    const dys = frames(backend, dy, n0, nn);
    const dyt = call(transposeKernel(), backend, { x: dys.t }, { perm: [1, 2, 0, 3] });
    if (xs.copied) free(backend, xs.t);
    if (dys.copied) free(backend, dys.t);
    const r = call(conv, backend, { x: xt, filter: dyt },
      { strides: [1, 1], pad, dataFormat: 'NHWC', dilations: [sh, sw], dimRoundingMode: attrs.dimRoundingMode });
    const rv = f32(backend, r);
    for (let i = 0; i < acc.length; i++) acc[i]! += rv[i]!;
    free(backend, xt, dyt, r);
  }
  const out = backend.makeOutput([KH, KW, Ci, Co], 'float32');
  const ov = f32(backend, out);
  for (let ci = 0; ci < Ci; ci++) {
    for (let k = 0; k < KH * KW; k++) {
      const src = (ci * KH * KW + k) * Co;
      ov.set(acc.subarray(src, src + Co), (k * Ci + ci) * Co);
    }
  }
  return out;
});

/**
 * dx [N, H, W, Ci] for VALID padding and filter sizes that are multiples of the strides, as ONE forward convolution
 * (XNNPACK) followed by an interleave. Splitting input rows by phase ih = q*sh + rh (and columns likewise), each
 * phase only meets filter rows kh = rh + sh*a, a < A = KH/sh:
 *   dx[n, q*sh + rh, p*sw + rw, ci] = sum_{a, b, co} dy[n, q - a, p - b, co] * W[rh + sh*a, rw + sw*b, ci, co],
 * a stride-1 convolution of dy (zero-padded by A-1 before, enough after) with the flipped sub-filters; all sh*sw
 * phases are output channels of one filter F [A, B, Co, sh*sw*Ci] (cached for a Variable W).
 */
function backpropInputByPhases(backend: BackendWasm, dy: TensorInfo, filter: TensorInfo, info: tf.backend_util.Conv2DInfo): TensorInfo {
  const { batchSize: N, inHeight: H, inWidth: W, inChannels: Ci, outHeight: OH, outWidth: OW, outChannels: Co } = info;
  const { strideHeight: sh, strideWidth: sw, filterHeight: KH, filterWidth: KW } = info;
  const A = KH / sh;
  const B = KW / sw;
  const Q = Math.ceil(H / sh); // phase rows, >= OH because KH >= sh
  const P = Math.ceil(W / sw);
  const C2 = sh * sw * Ci;
  const { t: F, owned } = derived(backend, filter, `phases${sh},${sw}`, liveVariables(backend), () => {
    const f = backend.makeOutput([A, B, Co, C2], 'float32');
    const fv = f32(backend, f);
    const wv = f32(backend, filter); // [KH, KW, Ci, Co]
    for (let a = 0; a < A; a++) for (let b = 0; b < B; b++) for (let rh = 0; rh < sh; rh++) for (let rw = 0; rw < sw; rw++) {
      const kh = rh + sh * (A - 1 - a);
      const kw = rw + sw * (B - 1 - b);
      for (let ci = 0; ci < Ci; ci++) {
        const src = ((kh * KW + kw) * Ci + ci) * Co;
        const dst = (a * B + b) * Co * C2 + (rh * sw + rw) * Ci + ci;
        for (let co = 0; co < Co; co++) fv[dst + co * C2] = wv[src + co]!;
      }
    }
    return f;
  });
  const conv = stockKernel(tf.Conv2D);
  const pad = [[0, 0], [A - 1, Q - OH], [B - 1, P - OW], [0, 0]];
  const out = backend.makeOutput([N, H, W, Ci], 'float32');
  const chunk = Math.max(1, Math.floor(wasmKernelChunks.colFloats / (Q * P * C2)));
  const run = sw * Ci; // one phase row's columns p*sw .. p*sw + sw - 1 are contiguous in both layouts
  for (let n0 = 0; n0 < N; n0 += chunk) {
    const nn = Math.min(chunk, N - n0);
    const dyc = frames(backend, dy, n0, nn);
    const ph = call(conv, backend, { x: dyc.t, filter: F }, { strides: [1, 1], pad, dataFormat: 'NHWC', dilations: [1, 1] });
    if (dyc.copied) free(backend, dyc.t);
    const pv = f32(backend, ph); // [nn, Q, P, (rh, rw, ci)]
    const dx = f32(backend, out);
    for (let n = 0; n < nn; n++) {
      for (let q = 0; q < Q; q++) {
        for (let rh = 0; rh < sh; rh++) {
          const ih = q * sh + rh;
          if (ih >= H) break;
          const dRow = ((n0 + n) * H + ih) * W * Ci;
          const sRow = (n * Q + q) * P * C2 + rh * run;
          for (let p = 0; p < P; p++) {
            const len = Math.min(run, (W - p * sw) * Ci);
            const d = dRow + p * run;
            const s = sRow + p * C2;
            for (let i = 0; i < len; i++) dx[d + i] = pv[s + i]!;
          }
        }
      }
    }
    free(backend, ph);
  }
  if (owned) free(backend, F);
  return out;
}

/**
 * dx = col2im(dy_2d @ W^T) for any padding/stride: dy [N, OH, OW, Co] viewed as [N*OH*OW, Co] times W^T
 * [Co, KH*KW*Ci] through the XNNPACK matmul (W^T cached for a Variable W), then a scatter-add of each patch into
 * dx [N, H, W, Ci], in chunks.
 */
function backpropInputByCol2im(backend: BackendWasm, dy: TensorInfo, filter: TensorInfo, info: tf.backend_util.Conv2DInfo): TensorInfo {
  const { batchSize: N, inHeight: H, inWidth: W, inChannels: Ci, outHeight: OH, outWidth: OW, outChannels: Co } = info;
  const { strideHeight: sh, strideWidth: sw, filterHeight: KH, filterWidth: KW } = info;
  const { top, left } = info.padInfo;
  const K = KH * KW * Ci;
  const P = OH * OW;
  const { t: wT, owned } = transposeMaybeCached(backend, view(filter, [K, Co]), liveVariables(backend)); // [Co, K]
  const out = backend.makeOutput([N, H, W, Ci], 'float32');
  f32(backend, out).fill(0);
  const chunk = Math.max(1, Math.floor(wasmKernelChunks.colFloats / (P * K)));
  for (let n0 = 0; n0 < N; n0 += chunk) {
    const nn = Math.min(chunk, N - n0);
    const dyc = frames(backend, dy, n0, nn);
    const col = matMulNN(backend, view(dyc.t, [nn * P, Co]), wT); // [nn*P, K]: rows (n, oh, ow), cols (kh, kw, ci)
    if (dyc.copied) free(backend, dyc.t);
    const cv = f32(backend, col);
    const dx = f32(backend, out);
    for (let n = 0; n < nn; n++) {
      const xBase = (n0 + n) * H;
      for (let oh = 0; oh < OH; oh++) {
        for (let ow = 0; ow < OW; ow++) {
          const colRow = ((n * OH + oh) * OW + ow) * K;
          for (let kh = 0; kh < KH; kh++) {
            const ih = oh * sh + kh - top;
            if (ih < 0 || ih >= H) continue;
            for (let kw = 0; kw < KW; kw++) {
              const iw = ow * sw + kw - left;
              if (iw < 0 || iw >= W) continue;
              const d = ((xBase + ih) * W + iw) * Ci;
              const c = colRow + (kh * KW + kw) * Ci;
              for (let ci = 0; ci < Ci; ci++) dx[d + ci]! += cv[c + ci]!;
            }
          }
        }
      }
    }
    free(backend, col);
  }
  if (owned) free(backend, wT);
  return out;
}

/** Input gradient: dy [N, OH, OW, Co], filter [KH, KW, Ci, Co] -> dx [N, H, W, Ci]. */
const conv2DBackpropInput = kernelFunc<Conv2DBackpropInputAttrs>(({ inputs, backend, attrs }) => {
  const dy = input(inputs, 'dy');
  const filter = input(inputs, 'filter');
  if (attrs.dataFormat === 'NCHW') return call(stockKernel(tf.Conv2DBackpropInput), backend, inputs, attrs);
  const info = convInfo(attrs.inputShape, filter.shape, attrs);
  const { top, left, bottom, right } = info.padInfo;
  const unpadded = top === 0 && left === 0 && bottom === 0 && right === 0;
  if (unpadded && info.filterHeight % info.strideHeight === 0 && info.filterWidth % info.strideWidth === 0) {
    return backpropInputByPhases(backend, dy, filter, info);
  }
  return backpropInputByCol2im(backend, dy, filter, info);
});

// ---------------------------------------------------------------------------------------------------------------
// Registration
// ---------------------------------------------------------------------------------------------------------------

const OURS: ReadonlyArray<{ name: string; func: tf.KernelFunc }> = [
  { name: tf.Conv2DBackpropFilter, func: conv2DBackpropFilter },
  { name: tf.Conv2DBackpropInput, func: conv2DBackpropInput },
  { name: tf.BatchMatMul, func: batchMatMul },
  { name: tf.Slice, func: slice },
  { name: tf.Unpack, func: unpack },
  { name: tf.Identity, func: identity },
];

/**
 * Registers the project's wasm kernels (idempotent). Call before `tf.setBackend('wasm')`; calling it after also
 * works (the stock kernels' setup has run by then and is kept for any later re-initialisation).
 */
export function registerWasmKernels(): void {
  for (const { name, func } of OURS) {
    const current = tf.getKernel(name, BACKEND);
    if (current?.kernelFunc === func) continue;
    if (current) {
      stock.set(name, current);
      tf.unregisterKernel(name, BACKEND);
    }
    tf.registerKernel({ kernelName: name, backendName: BACKEND, kernelFunc: func, setupFunc: current?.setupFunc });
  }
}

/** The stock wasm kernel that {@link registerWasmKernels} replaced (none for Conv2DBackpropFilter): for benchmarks. */
export function stockWasmKernel(name: string): tf.KernelConfig | undefined {
  return stock.get(name);
}

/** Names of the kernels {@link registerWasmKernels} provides for backend 'wasm'. */
export const WASM_KERNEL_NAMES: readonly string[] = OURS.map((k) => k.name);

/**
 * Copies a float32 tensor's values into `out` at `offset`: on wasm straight from the heap (dataSync
 * would first copy them into a fresh array, faulted in page by page), elsewhere through dataSync.
 */
export function copyValues(t: tf.Tensor, out: Float32Array, offset = 0): void {
  if (tf.getBackend() === 'wasm' && t.dtype === 'float32') out.set((tf.backend() as BackendWasm).typedArrayFromHeap(t) as Float32Array, offset);
  else out.set(t.dataSync() as Float32Array, offset);
}

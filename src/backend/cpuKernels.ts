/**
 * A kernel for `@tensorflow/tfjs-backend-cpu` 4.22, the last-resort backend.
 *
 * Why: its Conv2DBackpropFilter is ~100x slower than the rest of the step (measured: ~325 ms per 72x96 frame for
 * conv1, i.e. minutes per learner step), so the cpu backend cannot train the network in practice. This direct loop
 * is ~2 ms per frame. Registered by `initBackend('cpu')`.
 */
import * as tf from '@tensorflow/tfjs';

const BACKEND = 'cpu';

interface Conv2DBackpropFilterAttrs {
  strides: number | [number, number];
  pad: 'valid' | 'same' | number | tf.backend_util.ExplicitPadding;
  dataFormat?: 'NHWC' | 'NCHW';
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
  filterShape: [number, number, number, number];
}

/**
 * dW[kh, kw, ci, co] = sum_{n, oh, ow} x[n, oh*sh + kh - top, ow*sw + kw - left, ci] * dy[n, oh, ow, co].
 * Inputs x [N, H, W, Ci], dy [N, OH, OW, Co] (NHWC); output [KH, KW, Ci, Co]. Innermost loop over Co, contiguous in
 * both dW and dy.
 */
const conv2DBackpropFilter: tf.KernelFunc = ({ inputs, backend, attrs }) => {
  const kb = backend as tf.KernelBackend; // the cpu backend; only its public KernelBackend methods are used
  const a = attrs as unknown as Conv2DBackpropFilterAttrs; // attrs of kernel Conv2DBackpropFilter (tfjs-core)
  const x = inputs['x'];
  const dy = inputs['dy'];
  if (!x || !dy) throw new Error('cpu Conv2DBackpropFilter: missing input');
  if (a.dataFormat === 'NCHW') throw new Error("cpu Conv2DBackpropFilter: dataFormat 'NCHW' is not supported; use 'NHWC'");
  const info = tf.backend_util.computeConv2DInfo(
    x.shape as [number, number, number, number], a.filterShape, a.strides, 1, a.pad, a.dimRoundingMode, false, 'channelsLast');
  const { batchSize: N, inHeight: H, inWidth: W, inChannels: Ci, outHeight: OH, outWidth: OW, outChannels: Co } = info;
  const { strideHeight: sh, strideWidth: sw, filterHeight: KH, filterWidth: KW } = info;
  const { top, left } = info.padInfo;
  const xv = kb.readSync(x.dataId) as Float32Array;
  const dv = kb.readSync(dy.dataId) as Float32Array;
  const dw = new Float32Array(KH * KW * Ci * Co);
  for (let n = 0; n < N; n++) {
    for (let oh = 0; oh < OH; oh++) {
      for (let ow = 0; ow < OW; ow++) {
        const dOff = ((n * OH + oh) * OW + ow) * Co;
        for (let kh = 0; kh < KH; kh++) {
          const ih = oh * sh + kh - top;
          if (ih < 0 || ih >= H) continue;
          for (let kw = 0; kw < KW; kw++) {
            const iw = ow * sw + kw - left;
            if (iw < 0 || iw >= W) continue;
            const xOff = ((n * H + ih) * W + iw) * Ci;
            const wOff = (kh * KW + kw) * Ci * Co;
            for (let ci = 0; ci < Ci; ci++) {
              const xval = xv[xOff + ci];
              if (xval === 0) continue; // post-ReLU inputs are often 0
              const o = wOff + ci * Co;
              for (let co = 0; co < Co; co++) dw[o + co]! += xval! * dv[dOff + co]!;
            }
          }
        }
      }
    }
  }
  return { dataId: kb.write(dw, [KH, KW, Ci, Co], 'float32'), shape: [KH, KW, Ci, Co], dtype: 'float32' };
};

let stock: tf.KernelConfig | undefined;

/** Registers the project's cpu kernel (idempotent). */
export function registerCpuKernels(): void {
  const current = tf.getKernel(tf.Conv2DBackpropFilter, BACKEND);
  if (current?.kernelFunc === conv2DBackpropFilter) return;
  stock = current;
  if (current) tf.unregisterKernel(tf.Conv2DBackpropFilter, BACKEND);
  tf.registerKernel({ kernelName: tf.Conv2DBackpropFilter, backendName: BACKEND, kernelFunc: conv2DBackpropFilter });
}

/** The stock cpu Conv2DBackpropFilter: the one in use before {@link registerCpuKernels}, else the registered one. */
export function stockCpuConv2DBackpropFilter(): tf.KernelConfig {
  return stock ?? tf.getKernel(tf.Conv2DBackpropFilter, BACKEND);
}

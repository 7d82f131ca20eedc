import * as tf from '@tensorflow/tfjs';
import { Rng } from '../src/rng.js';

/**
 * IMPALA's "shallow" network (arXiv 1802.01561, fig. 3 left; scalable_agent):
 *   encoder: x/255 -> conv 16 8x8/4 ReLU -> conv 32 4x4/2 ReLU (VALID) -> fc 256 ReLU = z_t
 *   core:    LSTM over [z_t, onehot(a_{t-1}), clip(r_{t-1}, -1, 1)], state zeroed at episode starts = c_t
 *   heads:   policy logits and value, linear on c_t.
 * The LSTM kernel is split into an input part `core/wx` and a recurrent part `core/wh` so the input
 * projection of a whole unroll is one large matmul; the actor's single step uses the same functions.
 */
export interface NetworkSpec {
  /** `[H, W, C]` of observations. */
  obsShape: [number, number, number];
  numActions: number;
  conv1Filters: number;
  conv2Filters: number;
  /** Size of z_t. */
  latentSize: number;
  /** Size of the LSTM state and of c_t. */
  lstmSize: number;
}

export const IMPALA_SHALLOW: Omit<NetworkSpec, 'obsShape' | 'numActions'> = {
  conv1Filters: 16,
  conv2Filters: 32,
  latentSize: 256,
  lstmSize: 256,
};

export type Params = Record<string, tf.Variable>;

/** Parameter values by name: the variables themselves, or candidate values not yet assigned. */
export type ParamTensors = Record<string, tf.Tensor>;

/** LSTM state, each [N, lstmSize]. */
export type CoreState = {
  h: tf.Tensor2D;
  c: tf.Tensor2D;
};

/** Output size of a VALID convolution. */
export function validConvSize(input: number, kernel: number, stride: number): number {
  return Math.floor((input - kernel) / stride) + 1;
}

/** `[h, w]` of the second conv's output, or a specific error when the observation is too small. */
export function encoderOutputSize([H, W]: [number, number, number]): [number, number] {
  const h = validConvSize(validConvSize(H, 8, 4), 4, 2);
  const w = validConvSize(validConvSize(W, 8, 4), 4, 2);
  if (h < 1 || w < 1) throw new Error(`observations of ${H}x${W} are too small for the encoder (at least 20x20)`);
  return [h, w];
}

/** Truncated normal (2 std), std = 1/sqrt(fanIn): sonnet's default initializer for Linear and Conv2D. */
function truncatedNormal(rng: Rng, shape: number[], fanIn: number): tf.Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  const std = 1 / Math.sqrt(fanIn);
  const data = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    let x: number;
    do x = rng.normal();
    while (Math.abs(x) > 2);
    data[i] = x * std;
  }
  return tf.tensor(data, shape);
}

/** Fresh parameters, deterministic for a seed. */
export function initNetworkParams(spec: NetworkSpec, rng: Rng): Params {
  const [, , C] = spec.obsShape;
  const [h2, w2] = encoderOutputSize(spec.obsShape);
  const { conv1Filters: f1, conv2Filters: f2, latentSize: Z, lstmSize: L, numActions: A } = spec;
  const flat = h2 * w2 * f2;
  const lstmIn = Z + A + 1;
  const weights: Record<string, [number[], number]> = {
    'encoder/conv1/w': [[8, 8, C, f1], 8 * 8 * C],
    'encoder/conv2/w': [[4, 4, f1, f2], 4 * 4 * f1],
    'encoder/fc/w': [[flat, Z], flat],
    'core/wx': [[lstmIn, 4 * L], lstmIn + L],
    'core/wh': [[L, 4 * L], lstmIn + L],
    'policy/w': [[L, A], L],
    'value/w': [[L, 1], L],
  };
  const biases: Record<string, number> = {
    'encoder/conv1/b': f1,
    'encoder/conv2/b': f2,
    'encoder/fc/b': Z,
    'core/b': 4 * L,
    'policy/b': A,
    'value/b': 1,
  };
  const params: Params = {};
  for (const [name, [shape, fanIn]] of Object.entries(weights)) params[name] = variableFrom(truncatedNormal(rng, shape, fanIn));
  for (const [name, n] of Object.entries(biases)) params[name] = variableFrom(tf.zeros([n]));
  return params;
}

/** The parameter `name`; a specific error where a parameter set lacks it. */
export function param(params: ParamTensors, name: string): tf.Tensor {
  const p = params[name];
  if (!p) throw new Error(`network parameter '${name}' is missing (have ${Object.keys(params).join(', ')})`);
  return p;
}

/** A trainable variable holding `t`'s values; `t` is disposed. */
export function variableFrom(t: tf.Tensor): tf.Variable {
  const v = tf.variable(t, true);
  t.dispose();
  return v;
}

/** Backends (tfjs names) that copy a typed array into their own memory when a tensor is made from it. */
const COPYING_BACKENDS = new Set(['wasm']);

/**
 * Whether the current backend copies the typed array a tensor is made from (wasm), so the array may
 * be reused or changed right after; `cpu`, `webgpu` and tfjs-node keep it.
 */
export function backendCopiesInput(): boolean {
  return COPYING_BACKENDS.has(tf.getBackend());
}
let scratch = new Float32Array(0);

/**
 * A buffer of `n` floats for the scaled frames: one reused buffer where the backend copies it. A
 * fresh one is faulted in page by page on first write, ~0.5 s for the 134 MB of a T = 100, B = 16
 * batch, 5-10x the conversion itself. `cpu`, `webgpu` and tfjs-node keep the array they are given (the
 * last until the tensor's first use).
 */
function scaledFrames(n: number): Float32Array {
  if (!backendCopiesInput()) return new Float32Array(n);
  if (scratch.length < n) scratch = new Float32Array(n);
  return scratch.subarray(0, n);
}

/**
 * Encoder. `frames`: uint8 RGB, [N, H, W, C] flattened; returns z, [N, latentSize].
 * The /255 happens here so observations stay uint8 everywhere else (4x less memory).
 */
export function encode(params: ParamTensors, frames: Uint8Array, n: number, obsShape: [number, number, number]): tf.Tensor2D {
  const [H, W, C] = obsShape;
  if (frames.length !== n * H * W * C) {
    throw new Error(`encode: expected ${n}x${H}x${W}x${C} = ${n * H * W * C} bytes, got ${frames.length}`);
  }
  const scaled = scaledFrames(frames.length);
  scaled.set(frames); // a native conversion, ~8x faster than a JS loop; the /255 is a backend op
  return tf.tidy(() => {
    const x = tf.div<tf.Tensor4D>(tf.tensor4d(scaled, [n, H, W, C]), 255);
    const h1 = tf.relu(tf.conv2d(x, param(params, 'encoder/conv1/w') as tf.Tensor4D, 4, 'valid').add(param(params, 'encoder/conv1/b')));
    const h2 = tf.relu(tf.conv2d(h1 as tf.Tensor4D, param(params, 'encoder/conv2/w') as tf.Tensor4D, 2, 'valid').add(param(params, 'encoder/conv2/b')));
    const flat = h2.reshape([n, -1]);
    return tf.relu(flat.matMul(param(params, 'encoder/fc/w')).add(param(params, 'encoder/fc/b'))) as tf.Tensor2D;
  });
}

/**
 * The non-latent part of the core's input: onehot(previous action) and the previous reward clipped to
 * [-1, 1], [N, numActions + 1]. At an episode's first step these are the ended episode's last action
 * and reward, as in scalable_agent, whose torso feeds them unchanged and only resets the core state
 * there (`coreSequence`).
 */
export function coreExtras(prevActions: Int32Array, prevRewards: Float32Array, numActions: number): Float32Array {
  const n = prevActions.length;
  if (prevRewards.length !== n) throw new Error(`coreExtras: ${n} previous actions but ${prevRewards.length} previous rewards`);
  const out = new Float32Array(n * (numActions + 1));
  for (let i = 0; i < n; i++) {
    out[i * (numActions + 1) + prevActions[i]!] = 1;
    out[i * (numActions + 1) + numActions] = Math.max(-1, Math.min(1, prevRewards[i]!));
  }
  return out;
}

/** Input projection of the LSTM: [z, extras] W_x + b, [N, 4 L]. z [N, Z], extras [N, A + 1]. */
export function coreInputProjection(params: ParamTensors, z: tf.Tensor2D, extras: tf.Tensor2D): tf.Tensor2D {
  return tf.tidy(() => tf.concat([z, extras], 1).matMul(param(params, 'core/wx')).add(param(params, 'core/b')) as tf.Tensor2D);
}

/** Per step, the tensors the written-out gradient needs: h̃_{t-1}, c̃_{t-1} (after a reset), the gates, tanh c_t, h_t. */
type StepTensors = Record<'hm' | 'cm' | 'i' | 'j' | 'f' | 'o' | 'tc' | 'h', tf.Tensor[]>;

/** The forward recurrence (see `lstmWithGradient` for the shapes): per step what the gradient needs, and c_S. */
function lstmSteps(xw: tf.Tensor3D, wh: tf.Tensor2D, keep: tf.Tensor3D, h0: tf.Tensor2D, c0: tf.Tensor2D): { steps: StepTensors; c: tf.Tensor2D } {
  const L = xw.shape[2] / 4;
  const forgetBias = tf.tensor2d(new Float32Array(4 * L).fill(1, 2 * L, 3 * L), [1, 4 * L]);
  const pres = tf.unstack(xw.add(forgetBias)) as tf.Tensor2D[];
  const keeps = tf.unstack(keep) as tf.Tensor2D[];
  const steps: StepTensors = { hm: [], cm: [], i: [], j: [], f: [], o: [], tc: [], h: [] };
  let h: tf.Tensor2D = h0;
  let c: tf.Tensor2D = c0;
  pres.forEach((pre0, t) => {
    const hm = h.mul(keeps[t]!) as tf.Tensor2D;
    const cm = c.mul(keeps[t]!);
    const pre = pre0.add(hm.matMul(wh));
    const [i, , f, o] = tf.split(tf.sigmoid(pre), 4, 1) as tf.Tensor2D[];
    const j = tf.split(tf.tanh(pre), 4, 1)[1]!;
    c = f!.mul(cm).add(i!.mul(j)) as tf.Tensor2D;
    const tc = tf.tanh(c);
    h = tc.mul(o!) as tf.Tensor2D;
    const now = { hm, cm, i: i!, j, f: f!, o: o!, tc, h };
    for (const k of Object.keys(steps) as (keyof StepTensors)[]) steps[k].push(now[k]);
  });
  return { steps, c };
}

/**
 * The LSTM over S steps (TF's BasicLSTMCell: gates i, j, f, o, forget bias 1), state zeroed where
 * `keep` is 0 (an episode starts). xw [S, N, 4L] from `coreInputProjection`; wh [L, 4L]; keep
 * [S, N, 1]; h0, c0 [N, L]. Returns [S + 1, N, L]: h_1 .. h_S, then c_S.
 *
 * Its gradient is written out rather than taped: autograd records ~80 kernels a step and forms
 * dL/dW_h as one [L, N] x [N, 4L] product and one [L, 4L] Add per step, a cost that does not shrink
 * with N, so every learner thread paid it in full. Here everything that does not depend on the
 * backward recurrence is computed for all steps at once after the forward loop, each backward step is
 * ~8 kernels (dc_t, dG_t, and dG_t W_hᵀ for h_{t-1}), and dL/dW_h = Σ_t h̃_{t-1}ᵀ dG_t is one matmul.
 */
const lstmWithGradient = tf.customGrad(((xw: tf.Tensor3D, wh: tf.Tensor2D, keep: tf.Tensor3D, h0: tf.Tensor2D, c0: tf.Tensor2D, save: tf.GradSaveFunc) => {
  const [S, N, G] = xw.shape;
  const L = G / 4;
  const { steps: per, c } = lstmSteps(xw, wh, keep, h0, c0);
  const [HM, CM, I, J, F, O, TC] = [per.hm, per.cm, per.i, per.j, per.f, per.o, per.tc].map((ts) => tf.stack(ts));
  const one = tf.scalar(1);
  // dL/dpre_t = [dc_t I(1-I)J, dc_t I(1-J²), dc_t F(1-F)c̃_{t-1}, dh_t TC O(1-O)] = [dc, dc, dc, dh] * factors
  const factors = tf.concat([I!.mul(one.sub(I!)).mul(J!), I!.mul(one.sub(J!.square())), F!.mul(one.sub(F!)).mul(CM!), TC!.mul(O!).mul(one.sub(O!))], 2);
  save([wh, keep, HM!, factors, O!.mul(one.sub(TC!.square())), F!.mul(keep)]);
  return {
    value: tf.stack([...per.h, c]) as tf.Tensor3D,
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const [whS, keepS, hm, fac, dcdh, fKeep] = saved as [tf.Tensor2D, tf.Tensor3D, tf.Tensor3D, tf.Tensor3D, tf.Tensor3D, tf.Tensor3D];
      const dys = tf.unstack(dy) as tf.Tensor2D[];
      const facs = tf.unstack(fac) as tf.Tensor2D[];
      const dcdhs = tf.unstack(dcdh) as tf.Tensor2D[];
      const fKeeps = tf.unstack(fKeep) as tf.Tensor2D[];
      const keepsS = tf.unstack(keepS) as tf.Tensor2D[];
      let dhNext: tf.Tensor = tf.zeros([N, L]);
      let dcNext: tf.Tensor = dys[S]!; // the returned c_S
      const dG: tf.Tensor[] = []; // from the last step back
      for (let t = S - 1; t >= 0; t--) {
        const dh = dys[t]!.add(dhNext);
        const dc = dcNext.add(dh.mul(dcdhs[t]!));
        const dGt = tf.concat([dc, dc, dc, dh], 1).mul(facs[t]!);
        dG.push(dGt);
        dhNext = dGt.matMul(whS, false, true).mul(keepsS[t]!); // W_hᵀ: the wasm kernels cache it per Variable
        dcNext = dc.mul(fKeeps[t]!);
      }
      const dxw = tf.stack(dG.reverse()) as tf.Tensor3D;
      const dwh = hm.reshape([S * N, L]).matMul(dxw.reshape([S * N, G]), true, false);
      return [dxw, dwh, tf.zerosLike(keepS), dhNext, dcNext];
    },
  };
  // tfjs types a custom gradient's inputs loosely (tensors, then save)
}) as unknown as Parameters<typeof tf.customGrad<tf.Tensor3D>>[0]) as (xw: tf.Tensor3D, wh: tf.Tensor, keep: tf.Tensor3D, h0: tf.Tensor2D, c0: tf.Tensor2D) => tf.Tensor3D;

/**
 * The core over S steps: outputs h_1 .. h_S [S, N, L] and the state after the last step.
 * `xw` [S, N, 4L] from `coreInputProjection`; `keep` [S, N, 1] is 0 where an episode starts (state reset).
 */
export function coreSequence(params: ParamTensors, xw: tf.Tensor3D, keep: tf.Tensor3D, state: CoreState): { outputs: tf.Tensor3D; state: CoreState } {
  return tf.tidy(() => {
    const wh = param(params, 'core/wh') as tf.Tensor2D;
    if (!tf.engine().isTapeOn()) {
      // inference (the actor's steps): nothing to keep for a gradient, nothing to pack
      const { steps, c } = lstmSteps(xw, wh, keep, state.h, state.c);
      return { outputs: tf.stack(steps.h) as tf.Tensor3D, state: { h: steps.h[steps.h.length - 1] as tf.Tensor2D, c } };
    }
    const S = xw.shape[0];
    const [outputs, c] = tf.split(lstmWithGradient(xw, wh, keep, state.h, state.c), [S, 1], 0) as [tf.Tensor3D, tf.Tensor3D];
    return { outputs, state: { h: outputs.slice([S - 1], [1]).squeeze([0]) as tf.Tensor2D, c: c.squeeze([0]) as tf.Tensor2D } };
  });
}

/** Policy logits [N, A] and values [N] from core outputs [N, L]. */
export function heads(params: ParamTensors, out: tf.Tensor2D): { logits: tf.Tensor2D; values: tf.Tensor1D } {
  return tf.tidy(() => ({
    logits: out.matMul(param(params, 'policy/w')).add(param(params, 'policy/b')) as tf.Tensor2D,
    values: out.matMul(param(params, 'value/w')).add(param(params, 'value/b')).reshape([-1]) as tf.Tensor1D,
  }));
}

/** Inputs of a forward pass over S time steps of N environments (time-major). */
export interface CoreInputs {
  /** uint8 [S, N, H, W, C]. */
  observations: Uint8Array;
  /** int32 [S, N]: the action of the step before (at an episode's first step, the ended episode's last). */
  prevActions: Int32Array;
  /** float32 [S, N]: the raw reward of the step before, clipped inside (likewise). */
  prevRewards: Float32Array;
  /** uint8 [S, N], 1 where the observation is the first of an episode. */
  firsts: Uint8Array;
}

export interface ForwardOutputs {
  /** Latents z, [S, N, Z]. */
  z: tf.Tensor3D;
  /** Core outputs c, [S, N, L]. */
  c: tf.Tensor3D;
  logits: tf.Tensor3D;
  values: tf.Tensor2D;
  /** State after the last step. */
  state: CoreState;
}

/**
 * The network over S steps of N environments: the learner's unroll (S = T + 1) and the actor's
 * step (S = 1) are this same function, so they cannot disagree.
 */
export function forward(spec: NetworkSpec, params: ParamTensors, inputs: CoreInputs, S: number, N: number, initial: CoreState): ForwardOutputs {
  return tf.tidy(() => {
    const z = encode(params, inputs.observations, S * N, spec.obsShape);
    const extras = tf.tensor2d(coreExtras(inputs.prevActions, inputs.prevRewards, spec.numActions), [S * N, spec.numActions + 1]);
    const xw = coreInputProjection(params, z, extras);
    const keepData = new Float32Array(S * N);
    for (let i = 0; i < S * N; i++) keepData[i] = inputs.firsts[i] ? 0 : 1;
    const { outputs: c, state } = coreSequence(params, xw.reshape([S, N, -1]) as tf.Tensor3D, tf.tensor3d(keepData, [S, N, 1]), initial);
    const { logits, values } = heads(params, c.reshape([S * N, -1]) as tf.Tensor2D);
    return {
      z: z.reshape([S, N, -1]) as tf.Tensor3D,
      c,
      logits: logits.reshape([S, N, -1]) as tf.Tensor3D,
      values: values.reshape([S, N]) as tf.Tensor2D,
      state,
    };
  });
}

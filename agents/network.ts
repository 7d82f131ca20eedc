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
 * there (`coreStep`).
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

/**
 * One LSTM step (TF's BasicLSTMCell gate order i, j, f, o, forget bias 1).
 * `xw` [N, 4L] from `coreInputProjection`; `keep` [N, 1] is 0 where an episode starts (state reset).
 */
export function coreStep(params: ParamTensors, xw: tf.Tensor2D, state: CoreState, keep: tf.Tensor2D): CoreState {
  return tf.tidy(() => {
    const h = state.h.mul(keep);
    const c = state.c.mul(keep);
    const gates = xw.add(h.matMul(param(params, 'core/wh')));
    const [i, j, f, o] = tf.split(gates, 4, 1) as [tf.Tensor2D, tf.Tensor2D, tf.Tensor2D, tf.Tensor2D];
    const newC = tf.sigmoid(f.add(1)).mul(c).add(tf.sigmoid(i).mul(tf.tanh(j))) as tf.Tensor2D;
    const newH = tf.tanh(newC).mul(tf.sigmoid(o)) as tf.Tensor2D;
    return { h: newH, c: newC };
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
    const keeps = tf.unstack(tf.tensor3d(keepData, [S, N, 1])) as tf.Tensor2D[];
    const xws = S === 1 ? [xw] : (tf.unstack(xw.reshape([S, N, -1])) as tf.Tensor2D[]);
    let state = initial;
    const outs: tf.Tensor2D[] = [];
    for (let t = 0; t < S; t++) {
      state = coreStep(params, xws[t]!, state, keeps[t]!);
      outs.push(state.h);
    }
    const c = tf.stack(outs) as tf.Tensor3D;
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

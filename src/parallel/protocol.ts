import type { AgentOptions, LossHyperparameters, Unroll } from '../../agents/agent.js';
import type { BackendName } from '../backend/index.js';

/**
 * Messages between the learner's main thread and its gradient worker threads (one process, so no
 * validation: both ends are this module's code). The bulk data lives in shared memory written once
 * per update: the parameters, the batch and each worker's gradient (`SharedBuffers`), and for CPC
 * the columns' z and z-gradients (`ExchangeBuffers`); messages carry only small things.
 */

/** Int32 slots of the control buffer. */
export const CONTROL = { abort: 0, arrived: 1, generation: 2, size: 3 } as const;

/** Where a parameter sits in the flat float32 buffers of weights and gradients. */
export interface ParamSlot {
  name: string;
  offset: number;
  size: number;
}

/** Shared memory of the pool, fixed for its life. */
export interface SharedBuffers {
  /** Int32Array over it, slots `CONTROL`. */
  control: SharedArrayBuffer;
  /** float32 [P]: the parameters every worker starts the update from, laid out by `layout`. */
  weights: SharedArrayBuffer;
  /** float32 [N, P]: worker w's gradient of its columns in row w. */
  grads: SharedArrayBuffer;
  layout: ParamSlot[];
}

/** Shared memory of one batch shape: z of every column, and each worker's gradient for every column's z. */
export interface ExchangeBuffers {
  /** float32 [T, B, Z]. */
  z: SharedArrayBuffer;
  /** float32 [N, T, B, Z]: worker w's InfoNCE gradient with respect to every column's z. */
  gz: SharedArrayBuffer;
}

export interface InitMessage {
  type: 'init';
  index: number;
  threads: number;
  backend: BackendName;
  agent: AgentOptions;
  shared: SharedBuffers;
}

export interface GradientsRequest {
  type: 'gradients';
  id: number;
  /** The whole batch, its arrays views of shared memory (each worker copies out its columns). */
  batch: Unroll;
  /** This worker's columns: start..start+count-1. */
  start: number;
  count: number;
  hp: LossHyperparameters;
  exchange?: ExchangeBuffers;
}

export type ToWorker = InitMessage | GradientsRequest;

/** Loss terms of a worker's columns, each a sum over them (so they add up across workers). */
export interface PartialSums {
  loss: number;
  policyGradient: number;
  baseline: number;
  entropy: number;
  /** cpc: InfoNCE summed over the worker's anchors, and counted / correct anchors per k. */
  cpcSum?: number;
  cpcCounted?: Float32Array;
  cpcCorrect?: Float32Array;
}

export type FromWorker =
  | { type: 'ready'; detail: string }
  /** The gradient itself is in row `index` of `SharedBuffers.grads`. */
  | { type: 'gradients'; id: number; sums: PartialSums; numTensors: number }
  | { type: 'error'; message: string };

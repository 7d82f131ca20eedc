import os from 'node:os';
import { envsPerActor, type Config } from '../config.js';

/** Backends whose learner can be split over worker threads (each with its own copy of the backend). */
const THREADABLE = new Set(['wasm', 'cpu']);

/**
 * Learner worker threads for a run on tensor backend `backend` (tfjs's name: wasm, cpu, tensorflow,
 * webgpu). `auto`: the cores the actors and environments leave free, one per batch column at most.
 * In one process the actor and its in-process environments run on the main thread in the gaps the
 * learner threads leave (they take ~1/5 of what the learner needs), so every core learns; each actor
 * process keeps a core for its inference, DeepMind Lab environment processes one each (built-in
 * ones are light: 11-20k agent steps/s per core). Native and GPU backends run one learner (they
 * use the device's own parallelism).
 */
export function learnerThreads(config: Config, backend: string, cores = os.availableParallelism()): number {
  const threadable = THREADABLE.has(backend);
  if (config.learnerThreads !== 'auto') {
    if (config.learnerThreads > 1 && !threadable) {
      throw new Error(`--learner-threads ${config.learnerThreads} needs the wasm or cpu backend; ${backend} runs one learner (it parallelises itself): use --learner-threads 1 or auto`);
    }
    return config.learnerThreads;
  }
  if (!threadable) return 1;
  const busy = config.actors === 0 ? 0 : config.actors + (config.env.startsWith('dmlab:') ? config.actors * envsPerActor(config) : 0);
  return Math.max(1, Math.min(cores - busy, config.batch));
}

/**
 * Whether the single-process loop plays the next batch while the learner trains on this one: in
 * `async` mode with `maxPolicyLag` >= 1 (the lag is then exactly 1); `sync` never overlaps (lag 0).
 */
export function overlapsActing(config: Config): boolean {
  return config.mode === 'async' && config.maxPolicyLag >= 1;
}

/** Whether the learner computes its gradients in worker threads (else on the calling thread). */
export function learnsInWorkers(config: Config, backend: string, threads: number): boolean {
  return THREADABLE.has(backend) && (threads > 1 || (config.actors === 0 && overlapsActing(config)));
}

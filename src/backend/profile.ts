/**
 * Per-kernel time of a computation, to say what limits a step ("Conv2DBackpropFilter: 40% of 3.1 s").
 */
import * as tf from '@tensorflow/tfjs';

export interface KernelStat {
  /** Kernel name, e.g. `BatchMatMul`; with `byShape`, followed by the input shapes, e.g. `BatchMatMul [8,522] [522,1024]`. */
  name: string;
  /** Summed kernel time over all calls, ms. */
  totalMs: number;
  calls: number;
  /** totalMs / calls. */
  meanMs: number;
  /** totalMs / the sum over all kernels, in [0, 1]. */
  share: number;
}

export interface KernelProfile<T> {
  /** What the profiled function returned (the caller disposes its tensors). */
  result: T;
  /** Wall-clock time of the whole call, ms (kernel time plus JS overhead between kernels). */
  wallMs: number;
  /** Sum of all kernel times, ms. */
  kernelMs: number;
  /** Per kernel name, most total time first. */
  kernels: KernelStat[];
  /** Tensors created and not disposed by the function. */
  newTensors: number;
  /** Peak bytes held by tensors during the call. */
  peakBytes: number;
}

export interface ProfileOptions {
  /** Group by kernel name and input shapes instead of by name alone. */
  byShape?: boolean;
}

/**
 * Runs `f` under `tf.profile` and sums kernel time by kernel name (or name and input shapes). Kernel times are
 * what the backend's timer reports: wall time of the kernel on wasm/cpu (synchronous), GPU time where the backend
 * measures it. Kernels that call other kernels' functions directly (as ours do) count once, under the outer name.
 */
export async function profileKernels<T extends tf.TensorContainer>(
  f: () => T | Promise<T>,
  options: ProfileOptions = {},
): Promise<KernelProfile<T>> {
  let result: T | undefined;
  const start = performance.now();
  const info = await tf.profile(async () => {
    result = await f();
    return result;
  });
  const wallMs = performance.now() - start;
  const byName = new Map<string, { totalMs: number; calls: number }>();
  for (const k of info.kernels) {
    const ms = typeof k.kernelTimeMs === 'number' ? k.kernelTimeMs : 0; // already awaited by tf.profile
    const key = options.byShape ? `${k.name} ${k.inputShapes.map((sh) => `[${sh.join(',')}]`).join(' ')}` : k.name;
    const s = byName.get(key) ?? { totalMs: 0, calls: 0 };
    s.totalMs += ms;
    s.calls += 1;
    byName.set(key, s);
  }
  let kernelMs = 0;
  for (const s of byName.values()) kernelMs += s.totalMs;
  const kernels = [...byName.entries()]
    .map(([name, s]) => ({ name, ...s, meanMs: s.totalMs / s.calls, share: kernelMs > 0 ? s.totalMs / kernelMs : 0 }))
    .sort((a, b) => b.totalMs - a.totalMs);
  return { result: result as T, wallMs, kernelMs, kernels, newTensors: info.newTensors, peakBytes: info.peakBytes };
}

/** A fixed-width table of the `top` most expensive kernels. */
export function formatKernelProfile(p: KernelProfile<unknown>, top = 15): string {
  const width = Math.max(24, ...p.kernels.slice(0, top).map((k) => k.name.length));
  const rows = p.kernels.slice(0, top).map((k) =>
    `${k.name.padEnd(width)} ${k.totalMs.toFixed(1).padStart(10)} ${String(k.calls).padStart(7)} ${k.meanMs.toFixed(3).padStart(10)} ${(100 * k.share).toFixed(1).padStart(6)}%`);
  return [
    `${'kernel'.padEnd(width)} ${'total ms'.padStart(10)} ${'calls'.padStart(7)} ${'mean ms'.padStart(10)} ${'share'.padStart(7)}`,
    ...rows,
    `kernels ${p.kernelMs.toFixed(1)} ms of ${p.wallMs.toFixed(1)} ms wall, ${p.kernels.length} kernel types`,
  ].join('\n');
}

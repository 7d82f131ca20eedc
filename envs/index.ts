/**
 * The environment factory: `makeEnv('mock:memory')`, `makeEnv('builtin:rooms_watermaze')`,
 * `makeEnv('dmlab:rooms_watermaze')`. Each family is imported on first use, so a run on the mocks
 * loads neither the ray caster nor the DeepMind Lab bridge.
 */
import type { DmlabOptions } from './dmlab/index.js';
import type { EnvOptions, Environment, VectorEnv } from './types.js';
import { vectorOf } from './vector.js';

export const ENV_FAMILIES = ['mock', 'builtin', 'dmlab'] as const;
export type EnvFamily = (typeof ENV_FAMILIES)[number];

export interface MakeEnvOptions extends EnvOptions {
  /** Options of the DeepMind Lab bridge (interpreter, DeepMind Lab path, renderer, ...); `dmlab:` only. */
  dmlab?: Omit<DmlabOptions, keyof EnvOptions>;
}

/** The spec string is not `<family>:<name>` with a known family. */
export class UnknownEnvError extends Error {
  override readonly name = 'UnknownEnvError';
  constructor(readonly spec: string) {
    super(`unknown environment '${spec}': expected mock:<name>, builtin:<level> or dmlab:<level> (e.g. mock:memory, builtin:rooms_watermaze, dmlab:rooms_watermaze)`);
  }
}

export function parseEnvSpec(spec: string): { family: EnvFamily; name: string } {
  const m = /^([a-z]+):(.+)$/.exec(spec);
  const [, family, name] = m ?? [];
  if (!family || !name || !(ENV_FAMILIES as readonly string[]).includes(family)) throw new UnknownEnvError(spec);
  return { family: family as EnvFamily, name };
}

export async function makeEnv(spec: string, opts: MakeEnvOptions = {}): Promise<Environment> {
  const { family, name } = parseEnvSpec(spec);
  const { dmlab, ...envOptions } = opts;
  switch (family) {
    case 'mock':
      return (await import('./mock/index.js')).makeMockEnv(name, envOptions);
    case 'builtin':
      return (await import('./builtin/index.js')).makeBuiltinEnv(name, envOptions);
    case 'dmlab':
      return (await import('./dmlab/index.js')).makeDmlabEnv(name, { ...dmlab, ...envOptions });
    default: {
      const unreachable: never = family;
      throw new UnknownEnvError(unreachable);
    }
  }
}

/** Starts `count` environments; if one fails, closes those that started (no orphaned servers) and throws. */
export async function startEnvs<E extends Environment | VectorEnv>(count: number, start: (i: number) => Promise<E>): Promise<E[]> {
  const started = await Promise.allSettled(Array.from({ length: count }, (_, i) => start(i)));
  const failure = started.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (!failure) return started.map((r) => (r as PromiseFulfilledResult<E>).value);
  await Promise.all(started.map((r) => (r.status === 'fulfilled' ? r.value.close() : undefined)));
  throw failure.reason;
}

/** `count` columns in `parts` near-equal shares (the first ones one larger), e.g. levels over bridges. */
export function shares(count: number, parts: number): number[] {
  const n = Math.max(1, Math.min(parts, count));
  return Array.from({ length: n }, (_, i) => Math.floor(count / n) + (i < count % n ? 1 : 0));
}

/**
 * `count` environments of one spec as the vectors an `Actor` drives: `dmlab:` levels in `bridges`
 * bridge processes (default 1; each steps its levels on one core), any other environment a vector of one.
 */
export async function makeEnvVectors(spec: string, count: number, opts: MakeEnvOptions & { bridges?: number } = {}): Promise<VectorEnv[]> {
  const { family, name } = parseEnvSpec(spec);
  const { bridges = 1, dmlab, ...envOptions } = opts;
  if (family !== 'dmlab') return (await startEnvs(count, () => makeEnv(spec, opts))).map(vectorOf);
  const { makeDmlabVectorEnv } = await import('./dmlab/index.js');
  const sizes = shares(count, bridges);
  return startEnvs(sizes.length, (i) => makeDmlabVectorEnv(name, sizes[i]!, { ...dmlab, ...envOptions }));
}

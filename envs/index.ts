/**
 * The environment factory: `makeEnv('mock:memory')`, `makeEnv('builtin:rooms_watermaze')`,
 * `makeEnv('dmlab:rooms_watermaze')`. Each family is imported on first use, so a run on the mocks
 * loads neither the ray caster nor the DeepMind Lab bridge.
 */
import type { DmlabOptions } from './dmlab/index.js';
import type { EnvOptions, Environment } from './types.js';

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

/**
 * `count` environments of one spec, started concurrently. If any fails to start, the others are
 * closed (so no env server process is left behind) and the first error is thrown.
 */
export async function makeEnvs(spec: string, count: number, opts: MakeEnvOptions = {}): Promise<Environment[]> {
  return startEnvs(count, () => makeEnv(spec, opts));
}

/** Starts `count` environments; if one fails, closes those that started (no orphaned servers) and throws. */
export async function startEnvs(count: number, start: () => Promise<Environment>): Promise<Environment[]> {
  const started = await Promise.allSettled(Array.from({ length: count }, start));
  const failure = started.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (!failure) return started.map((r) => (r as PromiseFulfilledResult<Environment>).value);
  await Promise.all(started.map((r) => (r.status === 'fulfilled' ? r.value.close() : undefined)));
  throw failure.reason;
}

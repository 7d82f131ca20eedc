/**
 * Agent steps per second of each built-in level at 72 x 96, rendering included, on one core
 * (this process), with uniformly random actions and action repeat 4.
 * Run alone: `npx tsx scripts/bench-envs.ts`.
 */
import { pathToFileURL } from 'node:url';
import { ACTION_REPEAT } from '../envs/actions.js';
import { BUILTIN_LEVEL_NAMES, makeBuiltinEnv, randomPolicy } from '../envs/builtin/index.js';

export interface LevelSpeed {
  level: string;
  stepsPerSec: number;
}

/** Warm-up steps (JIT), then timed steps, per level. */
const WARMUP_STEPS = 2_000;
const TIMED_STEPS = 10_000;

export async function benchBuiltinLevels(timedSteps = TIMED_STEPS): Promise<LevelSpeed[]> {
  const results: LevelSpeed[] = [];
  for (const name of BUILTIN_LEVEL_NAMES) {
    const env = makeBuiltinEnv(name);
    const policy = randomPolicy(1);
    let obs = env.reset(0);
    for (let i = 0; i < WARMUP_STEPS; i++) obs = env.step(policy(obs), ACTION_REPEAT).obs;
    const start = process.hrtime.bigint();
    for (let i = 0; i < timedSteps; i++) obs = env.step(policy(obs), ACTION_REPEAT).obs;
    const seconds = Number(process.hrtime.bigint() - start) / 1e9;
    results.push({ level: `builtin:${name}`, stepsPerSec: timedSteps / seconds });
    env.close();
  }
  return results;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const rows = await benchBuiltinLevels();
  console.log('level                                    agent steps/s (72x96, repeat 4, 1 core)');
  for (const r of rows) console.log(`${r.level.padEnd(40)} ${r.stepsPerSec.toFixed(0).padStart(8)}`);
}

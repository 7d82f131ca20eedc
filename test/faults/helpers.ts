import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { resolveConfig, type ConfigInput } from '../../src/config.js';

/** A small supervised run on mock:memory (batch 4, unroll 10), with its log lines and children. */
export function supervisedRun(overrides: Partial<ConfigInput> = {}) {
  const runDir = fs.mkdtempSync(path.join(os.tmpdir(), 'cpc-lab-faults-'));
  const config = resolveConfig({ env: 'mock:memory', agent: 'cpc', cpcSteps: 3, batch: 4, unroll: 10, actors: 2, frames: 20 * 160, backend: 'wasm', progressEvery: 1, runDir, ...overrides });
  const lines: string[] = [];
  const children = new Map<string, ChildProcess[]>();
  const onSpawnHooks: ((name: string, child: ChildProcess) => void)[] = [];
  const opts = {
    log: (l: string) => lines.push(l),
    onSpawn: (name: string, child: ChildProcess) => {
      children.set(name, [...(children.get(name) ?? []), child]);
      for (const h of onSpawnHooks) h(name, child);
    },
  };
  return { config, runDir, lines, children, opts, onSpawnHooks };
}

export interface UpdateLine {
  frames: number;
  time: number;
  policyLag: number;
  policyLagMax?: number;
  dropped?: Record<string, number>;
}

export function updateRecords(runDir: string): UpdateLine[] {
  return fs
    .readFileSync(path.join(runDir, 'metrics.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l))
    .filter((r) => r.kind === 'update');
}

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { resolveConfig } from '../../../src/config.js';
import type { RunRecord } from '../../../src/run.js';

export const tmp = (prefix = 'cpc-lab-exp-'): string => fs.mkdtempSync(path.join(os.tmpdir(), prefix));

export interface FixtureRun {
  env: string;
  agent: 'baseline' | 'cpc';
  seed: number;
  /** [frames, episodeReturn] of each episode end, in order. */
  episodes: [number, number][];
  /** Per update: [frames, per-k accuracy]. */
  updates?: [number, (number | null)[]][];
  returnWindow?: number;
}

/** A run folder as `train` writes it (config.json, metrics.jsonl), with hand-chosen metrics. */
export function writeFixtureRun(dir: string, r: FixtureRun): string {
  fs.mkdirSync(dir, { recursive: true });
  const config = resolveConfig({ env: r.env, agent: r.agent, seed: r.seed, batch: 4, unroll: 10, cpcSteps: 3, frames: 1000, returnWindow: r.returnWindow ?? 2 });
  const record: RunRecord = { config, name: path.basename(dir), seed: r.seed, gitCommit: null, backend: { name: 'cpu', detail: 'fixture' }, createdAt: '2024-01-01T00:00:00Z', node: process.version };
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(record));
  const updates = r.updates ?? r.episodes.map(([frames]) => [frames, null] as [number, null]);
  const events = [
    ...r.episodes.map(([frames, episodeReturn]) => ({ kind: 'episode', frames, time: 0, episodeReturn, episodeLength: 10 })),
    ...updates.map(([frames, acc]) => ({ kind: 'update', frames, time: 0, update: 0, fps: 1, policyLag: 0, loss: 0, ...(acc ? { cpcAccuracy: acc } : {}) })),
  ];
  // episodes of an update are written before it, as train does
  events.sort((a, b) => a.frames - b.frames || (a.kind === 'episode' ? -1 : 1));
  fs.writeFileSync(path.join(dir, 'metrics.jsonl'), events.map((l) => JSON.stringify(l)).join('\n') + '\n');
  return dir;
}

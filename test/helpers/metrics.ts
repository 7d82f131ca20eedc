import fs from 'node:fs';
import path from 'node:path';

export interface UpdateRecord {
  frames: number;
  time: number;
  update: number;
  policyLag: number;
}

/** The `update` records of a run's metrics.jsonl, in file order. */
export function readUpdates(runDir: string): UpdateRecord[] {
  return fs
    .readFileSync(path.join(runDir, 'metrics.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as UpdateRecord & { kind: string })
    .filter((r) => r.kind === 'update');
}

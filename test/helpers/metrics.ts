import fs from 'node:fs';
import path from 'node:path';

export interface UpdateRecord {
  frames: number;
  time: number;
  update: number;
  policyLag: number;
  policyLagMax?: number;
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

/** Update records written so far, by a run that may still be writing (no file yet, a line half written). */
export function updatesWritten(runDir: string): number {
  const file = path.join(runDir, 'metrics.jsonl');
  return fs.existsSync(file) ? (fs.readFileSync(file, 'utf8').match(/"kind":"update".*\n/g) ?? []).length : 0;
}

import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { listCheckpoints } from '../../src/checkpoint.js';
import type { ConfigInput } from '../../src/config.js';
import { findEventFile, readTfRecords, tfRecord } from '../../src/tensorboard.js';
import { resumeRun, train } from '../../src/train.js';
import { PYTHON, READER, readEvents, scalarEvents, type TbEvent } from '../helpers/tfevents.js';

/**
 * Every run writes a TensorBoard event file. It is read back by an independent reader
 * (test/helpers/read_tfevents.py) and every scalar is checked against metrics.jsonl.
 */
const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'cpc-lab-tb-'));
const quiet = { log: () => {} };

type JsonRecord = Record<string, unknown> & { kind: string; frames: number };
const jsonl = (runDir: string): JsonRecord[] =>
  fs.readFileSync(path.join(runDir, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as JsonRecord);

/** The tags TensorBoard users see (the spec), for each field of a metrics record. */
const TAG: Record<string, string> = {
  episodeReturn: 'episode/return',
  episodeLength: 'episode/length',
  update: 'optimizer/updates',
  fps: 'runtime/fps',
  policyLag: 'runtime/policy_lag',
  loss: 'loss/total',
  policyGradientLoss: 'loss/policy_gradient',
  baselineLoss: 'loss/baseline',
  entropyLoss: 'loss/entropy',
  learningRate: 'optimizer/learning_rate',
  cpcLoss: 'loss/cpc',
  skippedUpdates: 'optimizer/skipped_updates',
};

/** What TensorBoard must show for one metrics.jsonl record: every number (float32), by tag. */
function expectedScalars(r: JsonRecord): Record<string, number | null> {
  const out: Record<string, number | null> = {};
  for (const [k, v] of Object.entries(r)) {
    if (k === 'kind' || k === 'frames' || k === 'time') continue;
    if (k === 'cpcAccuracy') {
      (v as (number | null)[]).forEach((a, i) => (out[`cpc_accuracy/k${String(i + 1).padStart(2, '0')}`] = a === null ? null : Math.fround(a)));
      continue;
    }
    if (!TAG[k]) throw new Error(`metrics field ${k} has no expected TensorBoard tag in this test`);
    out[TAG[k]] = Math.fround(v as number);
  }
  return out;
}

const settings: ConfigInput = { env: 'mock:memory', agent: 'cpc', batch: 4, unroll: 10, cpcSteps: 3, backend: 'cpu', seed: 5 };
const batchFrames = 4 * 10 * 4;

describe('TensorBoard event files', () => {
  it('tfRecord frames data that readTfRecords reads back, up to a torn or corrupt record', () => {
    const a = tfRecord(Buffer.from('first'));
    const b = tfRecord(Buffer.from('second record'));
    expect(a.length).toBe(12 + 5 + 4);
    const both = Buffer.concat([a, b]);
    expect(readTfRecords(both).map((r) => r.data.toString())).toEqual(['first', 'second record']);
    expect(readTfRecords(both.subarray(0, both.length - 1)).map((r) => r.data.toString())).toEqual(['first']);
    const corrupt = Buffer.from(both);
    corrupt[a.length + 14]! ^= 1; // a byte of the second record's data
    expect(readTfRecords(corrupt)).toHaveLength(1);
  });

  it('a run writes the config as text, an observation image, and every metrics.jsonl scalar at its frames; an independent reader checks the CRCs', async () => {
    const runDir = tmp();
    await train({ ...settings, frames: 3 * batchFrames, runDir }, quiet);
    const file = findEventFile(runDir)!;
    expect(path.basename(file)).toMatch(/^events\.out\.tfevents\.\d+\./);
    const events = readEvents(file);
    expect(events[0]).toMatchObject({ step: 0, file_version: 'brain.Event:2' });

    const config = events.filter((e) => e.values.some((v) => v.tag === 'config'));
    expect(config).toHaveLength(1);
    const text = config[0]!.values[0]!;
    expect(text.plugin).toBe('text');
    const saved = JSON.parse(fs.readFileSync(path.join(runDir, 'config.json'), 'utf8')) as { config: object };
    expect(JSON.parse(text.text!)).toEqual(saved.config);

    const images = events.filter((e) => e.values.some((v) => v.image));
    expect(images.map((e) => e.step)).toEqual([batchFrames]); // the first update (imageEvery 300 s)
    const image = images[0]!.values[0]!.image!;
    expect(image.png).toBe(true);
    expect([image.png_width, image.png_height]).toEqual([image.width, image.height]);

    const records = jsonl(runDir);
    expect(records.map((r) => r.kind)).toContain('update');
    expect(scalarEvents(events)).toEqual(records.map((r) => ({ step: r.frames, scalars: expectedScalars(r) })));

    // the reader does check: one flipped bit and it refuses the file
    const bad = Buffer.from(fs.readFileSync(file));
    bad[bad.length - 20]! ^= 0x10;
    const corrupt = path.join(runDir, 'corrupt.tfevents');
    fs.writeFileSync(corrupt, bad);
    const r = spawnSync(PYTHON, [READER, corrupt], { encoding: 'utf8' });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/bad data CRC/);
  });

  it('a resumed run continues the same event file: the events after its checkpoint are dropped, none is duplicated', async () => {
    const runDir = tmp();
    await train({ ...settings, frames: 4 * batchFrames, runDir, checkpointEvery: 1e-9, keepCheckpoints: 10 }, quiet);
    const first = readEvents(findEventFile(runDir)!);
    // a learner killed after update 4 whose last two checkpoints were lost: it redoes updates 3 and 4
    for (const f of listCheckpoints(runDir).slice(-2)) fs.rmSync(f);
    const stale = fs.readdirSync(runDir);
    const summary = await resumeRun(runDir, {}, quiet);
    expect(fs.readdirSync(runDir).filter((f) => f.startsWith('events.out.tfevents.'))).toEqual(stale.filter((f) => f.startsWith('events.out.tfevents.')));

    const events = readEvents(findEventFile(runDir)!);
    const records = jsonl(runDir);
    expect(records.filter((r) => r.kind === 'update').map((r) => r.update)).toEqual([1, 2, 3, 4]);
    // the closing summary (the CLI's `done:` line) counts the whole run's episodes, not this process's
    expect(summary.episodes).toBe(records.filter((r) => r.kind === 'episode').length);
    expect(summary.episodes).toBeGreaterThan(first.filter((e) => e.step > 2 * batchFrames && e.values.some((v) => v.tag === 'episode/return')).length);
    expect(scalarEvents(events)).toEqual(records.map((r) => ({ step: r.frames, scalars: expectedScalars(r) })));
    // the events up to the checkpoint are the first run's, byte for byte the same values
    const kept = (es: TbEvent[]) => es.filter((e) => e.step <= 2 * batchFrames && !e.values.some((v) => v.tag === 'config'));
    expect(kept(events)).toEqual(kept(first));
    // one config text per start: the fresh one at 0, the resumed one at its checkpoint
    expect(events.filter((e) => e.values.some((v) => v.tag === 'config')).map((e) => e.step)).toEqual([0, 2 * batchFrames]);
    expect(events.filter((e) => e.file_version)).toHaveLength(1);
    expect(events.map((e) => e.step)).toEqual([...events.map((e) => e.step)].sort((a, b) => a - b));
  });
});

import fs from 'node:fs';
import path from 'node:path';
import type { TrainStepMetrics, Unroll } from '../agents/agent.js';
import { contactSheet, encodePng } from '../envs/image.js';
import { writeFileAtomic } from './run.js';
import { CONFIG_TAG, EventWriter, type Scalars } from './tensorboard.js';

/** One line of `metrics.jsonl`. Every line carries the frame count it was taken at. */
export type MetricsRecord =
  | { kind: 'episode'; frames: number; time: number; episodeReturn: number; episodeLength: number }
  | ({ kind: 'update'; frames: number; time: number; update: number; fps: number; policyLag: number; policyLagMax?: number; queueDepth?: number; actorsAlive?: number; dropped?: Record<string, number>; skippedUpdates: number } & TrainStepMetrics);

const METRICS_FILE = 'metrics.jsonl';

/**
 * Writes every record to `metrics.jsonl` (one JSON object a line) and, as scalars at step = frames,
 * to the run's TensorBoard event file, so the two always agree; also the settings as text and
 * observation frames as images for TensorBoard.
 */
export class MetricsWriter {
  private readonly fd: number;
  private readonly events: EventWriter;

  /**
   * `resumeAt`: the frames of the checkpoint a resumed run starts from; what both files hold after
   * it is dropped (a run killed between checkpoints redoes those updates).
   */
  constructor(runDir: string, resumeAt?: number) {
    const file = path.join(runDir, METRICS_FILE);
    if (resumeAt !== undefined) truncateMetrics(file, resumeAt);
    this.fd = fs.openSync(file, 'a');
    this.events = new EventWriter(runDir, resumeAt);
  }

  write(record: MetricsRecord): void {
    fs.writeSync(this.fd, JSON.stringify(record) + '\n');
    this.events.scalars(record.frames, recordScalars(record));
  }

  /** The run's settings (config.json), as TensorBoard text at the frames this process starts from. */
  config(frames: number, record: object): void {
    // indented: a Markdown code block
    this.events.text(frames, CONFIG_TAG, JSON.stringify(record, null, 2).replace(/^/gm, '    '));
  }

  /** A few observations of one unroll (column 0, evenly spaced over its T + 1 steps) as one image. */
  observations(frames: number, batch: Unroll, obsShape: readonly number[]): void {
    const [height, width] = obsShape as readonly [number, number, number];
    const frame = height * width * 3;
    const steps = Array.from({ length: batch.T + 1 }, (_, t) => ({ width, height, rgb: batch.observations.subarray(t * batch.B * frame, t * batch.B * frame + frame) }));
    const sheet = contactSheet(steps, OBSERVATION_FRAMES, OBSERVATION_FRAMES);
    this.events.image(frames, 'observations', { width: sheet.width, height: sheet.height, bytes: encodePng(sheet) });
  }

  close(): void {
    fs.closeSync(this.fd);
    this.events.close();
  }
}

/** Observation frames in one TensorBoard image. */
const OBSERVATION_FRAMES = 6;

/** TensorBoard tags of the metrics records' fields (the step is `frames`). */
const TAGS: Record<string, string> = {
  episodeReturn: 'episode/return',
  episodeLength: 'episode/length',
  loss: 'loss/total',
  policyGradientLoss: 'loss/policy_gradient',
  baselineLoss: 'loss/baseline',
  entropyLoss: 'loss/entropy',
  cpcLoss: 'loss/cpc',
  learningRate: 'optimizer/learning_rate',
  gradNorm: 'optimizer/grad_norm',
  skippedUpdates: 'optimizer/skipped_updates',
  update: 'optimizer/updates',
  fps: 'runtime/fps',
  policyLag: 'runtime/policy_lag',
  policyLagMax: 'runtime/policy_lag_max',
  queueDepth: 'runtime/queue_depth',
  actorsAlive: 'runtime/actors_alive',
};

/**
 * The scalars of one record, by TensorBoard tag: every number but `frames` (the step) and `time`
 * (the event's own), the CPC accuracy per k (`cpc_accuracy/k01`..), dropped messages per reason.
 */
export function recordScalars(record: MetricsRecord): Scalars {
  const out: Scalars = {};
  for (const [key, value] of Object.entries(record)) {
    if (typeof value === 'number' && TAGS[key]) out[TAGS[key]] = value;
  }
  if (record.kind === 'update') {
    const width = String(record.cpcAccuracy?.length ?? 0).length;
    record.cpcAccuracy?.forEach((a, i) => (out[`cpc_accuracy/k${String(i + 1).padStart(Math.max(2, width), '0')}`] = a));
    for (const [reason, n] of Object.entries(record.dropped ?? {})) out[`dropped/${reason}`] = n;
  }
  return out;
}

/** Mean of the last `window` episode returns. */
export class ReturnWindow {
  private readonly values: number[] = [];
  count = 0;

  constructor(private readonly window: number) {}

  push(x: number): void {
    this.values.push(x);
    this.count++;
    if (this.values.length > this.window) this.values.shift();
  }

  get size(): number {
    return this.values.length;
  }

  mean(): number {
    return this.values.length ? this.values.reduce((a, b) => a + b, 0) / this.values.length : Number.NaN;
  }

  /** The window and the count, for checkpoints. */
  getState(): { values: number[]; count: number } {
    return { values: [...this.values], count: this.count };
  }

  setState(s: { values: number[]; count: number }): void {
    this.values.splice(0, this.values.length, ...s.values.slice(-this.window));
    this.count = s.count;
  }
}

/** 1234567 -> "1.23M". */
export function formatCount(n: number): string {
  if (n >= 1e9) return `${(n / 1e9).toFixed(2)}G`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(2)}M`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)}k`;
  return `${Math.round(n)}`;
}

/** Seconds -> "1h02m", "3m05s", "12s". */
export function formatDuration(s: number): string {
  if (!Number.isFinite(s)) return '?';
  const t = Math.max(0, Math.round(s));
  const h = Math.floor(t / 3600);
  const m = Math.floor((t % 3600) / 60);
  const sec = t % 60;
  if (h) return `${h}h${String(m).padStart(2, '0')}m`;
  if (m) return `${m}m${String(sec).padStart(2, '0')}s`;
  return `${sec}s`;
}

export interface ProgressState {
  label: string;
  frames: number;
  totalFrames: number;
  fps: number;
  returns: ReturnWindow;
  last?: TrainStepMetrics;
  /** The weights of the value and entropy terms in the loss. */
  costs: { baselineCost: number; entropyCost: number };
  /** Extra `key value` fields (actors alive, policy lag, queue depth). */
  extra?: Record<string, string | number>;
}

/** The live progress line: frames, frames/s, mean return, losses, ETA. */
export function formatProgress(p: ProgressState): string {
  const pct = ((100 * p.frames) / p.totalFrames).toFixed(0);
  const parts = [
    `[${p.label}]`,
    `frames ${formatCount(p.frames)}/${formatCount(p.totalFrames)} (${pct}%)`,
    `${formatCount(p.fps)} fps`,
    p.returns.size ? `return ${p.returns.mean().toFixed(2)} (last ${p.returns.size} of ${p.returns.count})` : 'return -',
  ];
  const m = p.last;
  if (m) {
    // each term as it enters the loss (metrics.jsonl has the raw sums); the CPC term is the rest
    const v = p.costs.baselineCost * m.baselineLoss;
    const ent = p.costs.entropyCost * m.entropyLoss;
    const terms = [`pg ${m.policyGradientLoss.toFixed(2)}`, `v ${v.toFixed(2)}`, `ent ${ent.toFixed(2)}`];
    if (m.cpcLoss !== undefined) terms.push(`cpc ${(m.loss - m.policyGradientLoss - v - ent).toFixed(2)}`);
    parts.push(`loss ${m.loss.toFixed(2)} = ${terms.join(' + ')}`);
    if (m.cpcLoss !== undefined && m.cpcAccuracy) parts.push(`infoNCE ${m.cpcLoss.toFixed(2)} acc@1 ${m.cpcAccuracy[0]!.toFixed(2)}`);
  }
  for (const [k, v] of Object.entries(p.extra ?? {})) parts.push(`${k} ${v}`);
  parts.push(`ETA ${formatDuration((p.totalFrames - p.frames) / Math.max(p.fps, 1e-9))}`);
  return parts.join(' | ');
}

/**
 * Drops the `metrics.jsonl` records written after the checkpoint at `frames` (a run killed
 * between checkpoints redoes those updates when resumed) and a torn last line.
 */
export function truncateMetrics(file: string, frames: number): void {
  if (!fs.existsSync(file)) return;
  const kept = fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .filter((line) => {
      try {
        return (JSON.parse(line) as { frames: number }).frames <= frames;
      } catch {
        return false;
      }
    });
  writeFileAtomic(file, kept.map((l) => l + '\n').join(''));
}

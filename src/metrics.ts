import fs from 'node:fs';
import { writeFileAtomic } from './run.js';
import type { TrainStepMetrics } from '../agents/agent.js';

/** One line of `metrics.jsonl`. Every line carries the frame count it was taken at. */
export type MetricsRecord =
  | { kind: 'episode'; frames: number; time: number; episodeReturn: number; episodeLength: number }
  | ({ kind: 'update'; frames: number; time: number; update: number; fps: number; policyLag: number; policyLagMax?: number; queueDepth?: number; actorsAlive?: number; dropped?: Record<string, number>; skippedUpdates: number } & TrainStepMetrics);

/** Appends records to `metrics.jsonl`, one JSON object a line. */
export class MetricsWriter {
  private readonly fd: number;

  constructor(readonly path: string) {
    this.fd = fs.openSync(path, 'a');
  }

  write(record: MetricsRecord): void {
    fs.writeSync(this.fd, JSON.stringify(record) + '\n');
  }

  close(): void {
    fs.closeSync(this.fd);
  }
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
    parts.push(`loss ${m.loss.toFixed(2)} (pg ${m.policyGradientLoss.toFixed(2)} v ${m.baselineLoss.toFixed(2)} ent ${m.entropyLoss.toFixed(2)})`);
    if (m.cpcLoss !== undefined && m.cpcAccuracy) parts.push(`cpc ${m.cpcLoss.toFixed(2)} acc@1 ${m.cpcAccuracy[0].toFixed(2)}`);
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

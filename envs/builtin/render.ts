/**
 * Shows what the agent sees on a built-in level: runs a random or oracle policy and writes the
 * observations as an animated GIF (`out` ending in .gif) or a PNG contact sheet (.png), plus a
 * top-down map of the final state (`<out without extension>.map.png`). `cpc-lab render` calls it.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { ACTION_REPEAT } from '../actions.js';
import { contactSheet, encodeGif, encodePng, stepDelayMs, upscale } from '../image.js';
import { type Policy, makeBuiltinEnv, makeOracle, randomPolicy } from './index.js';
import { renderMap } from './topdown.js';

export interface RenderLevelOptions {
  /** `rooms_watermaze` or `builtin:rooms_watermaze`. */
  level: string;
  policy: 'random' | 'oracle';
  /** Agent steps to run (frames shown: steps + 1). */
  steps: number;
  /** Output path, `.gif` or `.png`. */
  out: string;
  /** Seeds the level and the random policy (default 0). */
  seed?: number;
  /** Observation size (default 72 x 96). */
  height?: number;
  width?: number;
  /** Upscaling of each frame, nearest neighbour (default 3 for GIF, 2 for PNG). */
  scale?: number;
}

export interface RenderLevelResult {
  out: string;
  mapOut: string;
  frames: number;
  /** Returns of the episodes that ended during the run. */
  episodeReturns: number[];
  /** Reward summed over every step. */
  totalReward: number;
}

/** The PNG contact sheet: up to 48 frames evenly spaced over the run, 8 a row. */
const SHEET = { maxFrames: 48, columns: 8 };

export async function renderLevel(opts: RenderLevelOptions): Promise<RenderLevelResult> {
  const format = opts.out.toLowerCase().endsWith('.gif') ? 'gif' : opts.out.toLowerCase().endsWith('.png') ? 'png' : null;
  if (!format) throw new Error(`render: --out must end in .gif or .png, got '${opts.out}'`);
  if (!Number.isInteger(opts.steps) || opts.steps < 1) throw new RangeError(`render: steps must be a positive integer, got ${opts.steps}`);
  const seed = opts.seed ?? 0;
  const env = makeBuiltinEnv(opts.level, { height: opts.height, width: opts.width });
  const policy: Policy = opts.policy === 'oracle' ? makeOracle(env) : randomPolicy(seed + 1);
  const [height, width] = env.spec.observationShape;

  const frames: Uint8Array[] = [env.reset(seed)];
  const episodeReturns: number[] = [];
  let totalReward = 0;
  let trail: { x: number; y: number }[] = [];
  for (let t = 0; t < opts.steps; t++) {
    trail.push({ x: env.level.agent.x, y: env.level.agent.y });
    const r = env.step(policy(frames[frames.length - 1]!), ACTION_REPEAT);
    frames.push(r.obs);
    totalReward += r.reward;
    if (r.done) {
      episodeReturns.push(r.episodeReturn as number);
      trail = [];
    }
  }
  trail.push({ x: env.level.agent.x, y: env.level.agent.y });

  const images = frames.map((rgb) => upscale({ width, height, rgb }, opts.scale ?? (format === 'gif' ? 3 : 2)));
  const bytes = format === 'gif' ? encodeGif(images, stepDelayMs(ACTION_REPEAT)) : encodePng(contactSheet(images, SHEET.maxFrames, SHEET.columns));
  const mapOut = opts.out.replace(/\.(gif|png)$/i, '.map.png');
  await mkdir(dirname(opts.out), { recursive: true });
  await writeFile(opts.out, bytes);
  await writeFile(mapOut, encodePng(renderMap(env.level, { trail })));
  env.close();
  return { out: opts.out, mapOut, frames: frames.length, episodeReturns, totalReward };
}

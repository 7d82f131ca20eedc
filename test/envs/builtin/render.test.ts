import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { renderLevel } from '../../../envs/builtin/render.js';

let dir = '';
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cpc-render-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('renderLevel', () => {
  it('writes an animated GIF of the agent view and a top-down map PNG', async () => {
    const out = join(dir, 'nested', 'watermaze.gif');
    const r = await renderLevel({ level: 'builtin:rooms_watermaze', policy: 'oracle', steps: 12, out, seed: 1 });
    expect(r).toMatchObject({ out, mapOut: join(dir, 'nested', 'watermaze.map.png'), frames: 13 });
    const gif = await readFile(out);
    expect(gif.subarray(0, 6).toString('latin1')).toBe('GIF89a');
    // Logical screen: the 96 x 72 view upscaled 3x.
    expect([gif.readUInt16LE(6), gif.readUInt16LE(8)]).toEqual([288, 216]);
    const map = PNG.sync.read(await readFile(r.mapOut));
    // 13 x 13 cells at 16 px.
    expect([map.width, map.height]).toEqual([208, 208]);
  });

  it('writes a PNG contact sheet', async () => {
    const out = join(dir, 'keys.png');
    const r = await renderLevel({ level: 'rooms_keys_doors_puzzle', policy: 'random', steps: 9, out, seed: 2, scale: 1 });
    const sheet = PNG.sync.read(await readFile(out));
    // 10 frames: 8 columns x 2 rows of 96 x 72 with 2 px gaps.
    expect([sheet.width, sheet.height]).toEqual([8 * 96 + 9 * 2, 2 * 72 + 3 * 2]);
    expect(r.frames).toBe(10);
  });

  it('refuses other extensions and unknown levels', async () => {
    await expect(renderLevel({ level: 'rooms_watermaze', policy: 'random', steps: 2, out: join(dir, 'x.mp4') })).rejects.toThrow(/\.gif or \.png/);
    await expect(renderLevel({ level: 'nope', policy: 'random', steps: 2, out: join(dir, 'x.gif') })).rejects.toThrow(/valid: builtin:rooms_watermaze/);
  });
});

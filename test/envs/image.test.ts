import { describe, expect, it } from 'vitest';
import { contactSheet, encodeGif } from '../../envs/image.js';

describe('images', () => {
  it('a contact sheet places the chosen frames in rows, with a gap around each', () => {
    const frame = (v: number) => ({ width: 2, height: 1, rgb: new Uint8Array(6).fill(v) });
    const sheet = contactSheet([frame(10), frame(20), frame(30)], 2, 2);
    // two frames (the first and the last) side by side: 2 x 2 + 3 gaps of 2 wide, 1 + 2 gaps high
    expect([sheet.width, sheet.height]).toEqual([10, 5]);
    const at = (x: number, y: number) => sheet.rgb[(y * sheet.width + x) * 3];
    expect([at(0, 0), at(2, 2), at(3, 2), at(4, 2), at(6, 2), at(7, 2)]).toEqual([32, 10, 10, 32, 30, 30]);
  });

  it('names an empty list of frames', () => {
    expect(() => contactSheet([], 4, 2)).toThrow(/contactSheet: no frames/);
    expect(() => encodeGif([], 100)).toThrow(/encodeGif: no frames/);
  });
});

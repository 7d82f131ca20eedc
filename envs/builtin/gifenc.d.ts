/** The part of gifenc (a package without types) that `render.ts` uses. */
declare module 'gifenc' {
  /** RGB colours, each `[r, g, b]` in 0..255. */
  export type Palette = number[][];

  export interface GifStream {
    writeFrame(
      index: Uint8Array,
      width: number,
      height: number,
      opts?: { palette?: Palette; delay?: number; repeat?: number },
    ): void;
    finish(): void;
    bytes(): Uint8Array;
  }

  /** `module.exports` of gifenc's CommonJS build. */
  export interface Gifenc {
    GIFEncoder(): GifStream;
    /** `rgba`: flat RGBA pixels. */
    quantize(rgba: Uint8Array, maxColors: number): Palette;
    applyPalette(rgba: Uint8Array, palette: Palette): Uint8Array;
  }
}

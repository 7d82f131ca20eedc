/**
 * A Wolfenstein-style ray caster: one DDA ray per screen column against the grid, textured walls
 * with distance shading (and darker north/south faces), a textured floor, a sky gradient, and
 * billboard sprites clipped against a per-column depth buffer. It writes into one reused RGB buffer;
 * callers copy it if they keep it.
 *
 * Camera model: horizontal field of view `FOV_DEGREES` (DeepMind Lab's default, 90), square pixels,
 * horizon at mid-height, eye `EYE_HEIGHT` above the floor, walls `WALL_HEIGHT` tall (cells are 1).
 */
import { type Grid, FREE } from './grid.js';
import { type Body, heading } from './movement.js';
import { type Rgb, type SpriteTexture, type Texture, TEX_MASK, TEX_SIZE, WALL_TEXTURES } from './textures.js';

export const FOV_DEGREES = 90;
export const EYE_HEIGHT = 0.5;
export const WALL_HEIGHT = 1.2;
/** Rays stop after this many cells (no level is larger). */
const MAX_RAY_CELLS = 64;
/** Shade factor 1 / (1 + SHADE_FALLOFF * distance), in 1/256 units. */
const SHADE_FALLOFF = 0.12;
/** North/south faces are darker so corners read in flat-coloured walls. */
const SIDE_SHADE = 0.75;

/** A billboard: always faces the camera. */
export interface Sprite {
  x: number;
  y: number;
  texture: SpriteTexture;
  /** Height (and width) in world units. */
  size: number;
  /** Height of its bottom above the floor. */
  z: number;
  visible: boolean;
}

/** What a level looks like beyond its walls. */
export interface SceneStyle {
  readonly floor: Texture;
  readonly skyTop: Rgb;
  readonly skyHorizon: Rgb;
}

function shadeAt(distance: number): number {
  return Math.round(256 / (1 + SHADE_FALLOFF * distance));
}

export class Raycaster {
  readonly width: number;
  readonly height: number;
  /** Projection scale: screen pixels per world unit at depth 1. */
  readonly focal: number;
  private readonly frame: Uint8Array;
  /** Perpendicular wall distance per column (the depth buffer sprites test against). */
  private readonly depth: Float64Array;
  /** Camera-plane offset per column, in [-1, 1] scaled by tan(fov/2). */
  private readonly columnOffset: Float64Array;
  /** Floor distance and shade per screen row (rows above the horizon unused). */
  private readonly rowDistance: Float64Array;
  private readonly rowShade: Int32Array;
  private readonly sky: Uint8Array;
  private skyStyle: SceneStyle | undefined;
  private readonly spriteDepth: Float64Array;
  private readonly spriteOrder: number[] = [];

  constructor(width: number, height: number, maxSprites = 64) {
    if (!Number.isInteger(width) || !Number.isInteger(height) || width < 8 || height < 8) {
      throw new RangeError(`observation size must be integers >= 8, got ${height}x${width}`);
    }
    this.width = width;
    this.height = height;
    const tanHalf = Math.tan((FOV_DEGREES * Math.PI) / 360);
    this.focal = width / 2 / tanHalf;
    this.frame = new Uint8Array(width * height * 3);
    this.depth = new Float64Array(width);
    this.columnOffset = new Float64Array(width);
    for (let x = 0; x < width; x++) this.columnOffset[x] = ((2 * (x + 0.5)) / width - 1) * tanHalf;
    this.rowDistance = new Float64Array(height);
    this.rowShade = new Int32Array(height);
    for (let y = 0; y < height; y++) {
      const below = y + 0.5 - height / 2;
      this.rowDistance[y] = below > 0 ? (EYE_HEIGHT * this.focal) / below : Infinity;
      this.rowShade[y] = below > 0 ? shadeAt(this.rowDistance[y]!) : 0;
    }
    this.sky = new Uint8Array(height * 3);
    this.spriteDepth = new Float64Array(maxSprites);
  }

  /** Draws the view from `camera` and returns the internal frame buffer (`[H, W, 3]`, reused). */
  render(grid: Grid, camera: Body, sprites: readonly Sprite[], style: SceneStyle): Uint8Array {
    if (style !== this.skyStyle) this.paintSky(style);
    const a = heading(camera);
    const dirX = Math.cos(a);
    const dirY = Math.sin(a);
    for (let x = 0; x < this.width; x++) {
      const off = this.columnOffset[x]!;
      // Right of the heading is (-dirY, dirX) with y pointing south.
      this.renderColumn(grid, camera.x, camera.y, dirX - dirY * off, dirY + dirX * off, x, style.floor.rgb);
    }
    this.renderSprites(camera.x, camera.y, dirX, dirY, sprites);
    return this.frame;
  }

  private paintSky(style: SceneStyle): void {
    const half = this.height / 2;
    for (let y = 0; y < this.height; y++) {
      const t = Math.min(1, y / half);
      for (let k = 0; k < 3; k++) this.sky[y * 3 + k] = Math.round(style.skyTop[k]! * (1 - t) + style.skyHorizon[k]! * t);
    }
    this.skyStyle = style;
  }

  /** One column: DDA to the first wall, then sky above it, the wall slice, and floor below. */
  private renderColumn(
    grid: Grid,
    px: number,
    py: number,
    rayX: number,
    rayY: number,
    x: number,
    floor: Uint8Array,
  ): void {
    const { width: W, height: H, frame } = this;
    const cells = grid.cells;
    let cx = Math.floor(px);
    let cy = Math.floor(py);
    const deltaX = rayX === 0 ? 1e30 : Math.abs(1 / rayX);
    const deltaY = rayY === 0 ? 1e30 : Math.abs(1 / rayY);
    const stepX = rayX < 0 ? -1 : 1;
    const stepY = rayY < 0 ? -1 : 1;
    let sideX = (rayX < 0 ? px - cx : cx + 1 - px) * deltaX;
    let sideY = (rayY < 0 ? py - cy : cy + 1 - py) * deltaY;
    let ySide = false;
    let wall = 1;
    for (let i = 0; i < MAX_RAY_CELLS; i++) {
      if (sideX < sideY) {
        sideX += deltaX;
        cx += stepX;
        ySide = false;
      } else {
        sideY += deltaY;
        cy += stepY;
        ySide = true;
      }
      if (cx < 0 || cy < 0 || cx >= grid.width || cy >= grid.height) break;
      const v = cells[cy * grid.width + cx]!; // in the grid: checked above
      if (v !== FREE) {
        wall = v;
        break;
      }
    }
    // Distance along the view direction (not the ray), which keeps walls straight.
    const dist = Math.max(1e-4, ySide ? sideY - deltaY : sideX - deltaX);
    this.depth[x] = dist;

    let hit = ySide ? px + dist * rayX : py + dist * rayY;
    hit -= Math.floor(hit);
    let u = Math.floor(hit * TEX_SIZE) & TEX_MASK;
    // Mirror two of the four faces so textures read left-to-right from every side.
    if ((!ySide && rayX < 0) || (ySide && rayY > 0)) u = TEX_MASK - u;
    const tex = (WALL_TEXTURES[wall] ?? WALL_TEXTURES[1])!.rgb;
    const shade = (shadeAt(dist) * (ySide ? SIDE_SHADE : 1)) | 0;

    const scaleY = this.focal / dist;
    const top = H / 2 - (WALL_HEIGHT - EYE_HEIGHT) * scaleY;
    const bottom = H / 2 + EYE_HEIGHT * scaleY;
    const y0 = Math.max(0, Math.ceil(top - 0.5));
    const y1 = Math.min(H, Math.ceil(bottom - 0.5));
    const sky = this.sky;
    const stride = W * 3;
    let o = x * 3;
    for (let y = 0; y < y0; y++, o += stride) {
      frame[o] = sky[y * 3]!;
      frame[o + 1] = sky[y * 3 + 1]!;
      frame[o + 2] = sky[y * 3 + 2]!;
    }
    const texPerPixel = TEX_SIZE / (bottom - top);
    for (let y = y0; y < y1; y++, o += stride) {
      const v = Math.floor((y + 0.5 - top) * texPerPixel) & TEX_MASK;
      const t = (v * TEX_SIZE + u) * 3;
      frame[o] = (tex[t]! * shade) >> 8;
      frame[o + 1] = (tex[t + 1]! * shade) >> 8;
      frame[o + 2] = (tex[t + 2]! * shade) >> 8;
    }
    const rowDistance = this.rowDistance;
    const rowShade = this.rowShade;
    for (let y = y1; y < H; y++, o += stride) {
      const d = rowDistance[y]!;
      const fx = px + d * rayX;
      const fy = py + d * rayY;
      const t = (((Math.floor(fy * TEX_SIZE) & TEX_MASK) * TEX_SIZE + (Math.floor(fx * TEX_SIZE) & TEX_MASK)) * 3);
      const s = rowShade[y]!;
      frame[o] = (floor[t]! * s) >> 8;
      frame[o + 1] = (floor[t + 1]! * s) >> 8;
      frame[o + 2] = (floor[t + 2]! * s) >> 8;
    }
  }

  /** Visible sprites far to near, each column drawn only where it is nearer than the wall. */
  private renderSprites(px: number, py: number, dirX: number, dirY: number, sprites: readonly Sprite[]): void {
    const order = this.spriteOrder;
    const depthOf = this.spriteDepth;
    order.length = 0;
    for (let i = 0; i < sprites.length && i < depthOf.length; i++) {
      const s = sprites[i]!;
      if (!s.visible) continue;
      depthOf[i] = (s.x - px) * dirX + (s.y - py) * dirY;
      if (depthOf[i]! > 0.05) order.push(i);
    }
    order.sort((a, b) => depthOf[b]! - depthOf[a]!);
    for (const i of order) {
      const s = sprites[i]!;
      this.drawSprite(s, depthOf[i]!, (s.x - px) * -dirY + (s.y - py) * dirX);
    }
  }

  private drawSprite(s: Sprite, depth: number, lateral: number): void {
    const { width: W, height: H, frame } = this;
    const scale = this.focal / depth;
    const size = s.size * scale;
    const centreX = W / 2 + lateral * scale;
    const left = centreX - size / 2;
    const bottom = H / 2 + (EYE_HEIGHT - s.z) * scale;
    const top = bottom - size;
    const x0 = Math.max(0, Math.ceil(left - 0.5));
    const x1 = Math.min(W, Math.ceil(left + size - 0.5));
    const y0 = Math.max(0, Math.ceil(top - 0.5));
    const y1 = Math.min(H, Math.ceil(bottom - 0.5));
    const texPerPixel = TEX_SIZE / size;
    const shade = shadeAt(depth);
    const { rgb, alpha } = s.texture;
    for (let x = x0; x < x1; x++) {
      if (depth >= this.depth[x]!) continue;
      const u = Math.min(TEX_MASK, Math.floor((x + 0.5 - left) * texPerPixel));
      for (let y = y0; y < y1; y++) {
        const v = Math.min(TEX_MASK, Math.floor((y + 0.5 - top) * texPerPixel));
        const t = v * TEX_SIZE + u;
        if (!alpha[t]) continue;
        const o = (y * W + x) * 3;
        frame[o] = (rgb[t * 3]! * shade) >> 8;
        frame[o + 1] = (rgb[t * 3 + 1]! * shade) >> 8;
        frame[o + 2] = (rgb[t * 3 + 2]! * shade) >> 8;
      }
    }
  }
}

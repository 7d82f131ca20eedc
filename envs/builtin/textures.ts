/**
 * Procedural textures for the built-in levels: walls (indexed by grid cell value), floors, and
 * sprites with a 1-bit alpha mask. All are generated once at module load from fixed hashes, so they
 * are identical in every process and carry no randomness from the episode seed.
 */

/** Texels per side; a power of two so texture coordinates wrap with a mask. */
export const TEX_SIZE = 16;
export const TEX_MASK = TEX_SIZE - 1;

export type Rgb = readonly [number, number, number];

/** `TEX_SIZE x TEX_SIZE` RGB texels, row-major (v, u). */
export interface Texture {
  readonly rgb: Uint8Array;
  /** Mean colour, for the top-down map. */
  readonly mean: Rgb;
}

/** A texture whose texels with `alpha[i] === 0` are see-through. */
export interface SpriteTexture extends Texture {
  readonly alpha: Uint8Array;
}

/** Deterministic hash of integer coordinates to [0, 1). */
function hash(u: number, v: number, salt: number): number {
  let h = Math.imul(u + 374761393 * salt, 668265263) ^ Math.imul(v, 2246822519);
  h = Math.imul(h ^ (h >>> 15), 2654435761);
  h ^= h >>> 13;
  return (h >>> 0) / 4294967296;
}

function scale(c: Rgb, f: number): Rgb {
  return [Math.min(255, c[0] * f), Math.min(255, c[1] * f), Math.min(255, c[2] * f)];
}

function makeTexture(texel: (u: number, v: number) => Rgb): Texture {
  const rgb = new Uint8Array(TEX_SIZE * TEX_SIZE * 3);
  const sum: [number, number, number] = [0, 0, 0];
  for (let v = 0; v < TEX_SIZE; v++) {
    for (let u = 0; u < TEX_SIZE; u++) {
      const c = texel(u, v);
      for (let k = 0; k < 3; k++) {
        rgb[(v * TEX_SIZE + u) * 3 + k] = Math.round(c[k]!);
        sum[k]! += Math.round(c[k]!);
      }
    }
  }
  const n = TEX_SIZE * TEX_SIZE;
  return { rgb, mean: [sum[0] / n, sum[1] / n, sum[2] / n] };
}

/** `texel` returns null where the sprite is transparent. */
function makeSprite(texel: (u: number, v: number) => Rgb | null): SpriteTexture {
  const alpha = new Uint8Array(TEX_SIZE * TEX_SIZE);
  const base = makeTexture((u, v) => {
    const c = texel(u, v);
    alpha[v * TEX_SIZE + u] = c ? 1 : 0;
    return c ?? [0, 0, 0];
  });
  let count = 0;
  const sum: [number, number, number] = [0, 0, 0];
  for (let i = 0; i < alpha.length; i++) {
    if (!alpha[i]) continue;
    count++;
    for (let k = 0; k < 3; k++) sum[k]! += base.rgb[i * 3 + k]!;
  }
  return { rgb: base.rgb, alpha, mean: [sum[0] / count, sum[1] / count, sum[2] / count] };
}

// ---- walls ----

function noisy(base: Rgb, amount: number, salt: number): (u: number, v: number) => Rgb {
  return (u, v) => scale(base, 1 - amount + 2 * amount * hash(u, v, salt));
}

function blocks(base: Rgb, mortar: Rgb, rows: number, salt: number): Texture {
  const h = TEX_SIZE / rows;
  return makeTexture((u, v) => {
    const row = Math.floor(v / h);
    const shift = row % 2 === 0 ? 0 : TEX_SIZE / 4;
    if (v % h === 0 || (u + shift) % (TEX_SIZE / 2) === 0) return mortar;
    return scale(base, 0.85 + 0.3 * hash(row, Math.floor((u + shift) / 8), salt) - 0.08 * hash(u, v, salt));
  });
}

/** A plain wall with a centred poster shape: landmarks ("decals") that make places recognisable. */
function poster(colour: Rgb, inside: (x: number, y: number) => boolean): Texture {
  const wall = noisy([150, 146, 138], 0.08, 7);
  return makeTexture((u, v) => {
    const x = (u - 7.5) / 5.5;
    const y = (v - 7.5) / 5.5;
    if (Math.abs(x) <= 1 && Math.abs(y) <= 1 && inside(x, y)) return scale(colour, 0.9 + 0.2 * hash(u, v, 3));
    return wall(u, v);
  });
}

/** DeepMind Lab's keys_doors doors: a fence door in the key colour, with dark bars. */
function door(colour: Rgb): Texture {
  return makeTexture((u, v) => {
    if (u === 0 || u === TEX_SIZE - 1 || v === 0 || v === TEX_SIZE - 1) return [60, 60, 60];
    if (u % 4 === 1) return scale(colour, 0.55);
    return scale(colour, 0.92 + 0.08 * hash(u, v, 11));
  });
}

export const KEY_COLOURS = {
  red: [220, 30, 30],
  green: [30, 200, 40],
  blue: [40, 70, 230],
  white: [240, 240, 240],
  black: [25, 25, 25],
} as const satisfies Record<string, Rgb>;

export type KeyColour = keyof typeof KEY_COLOURS;

/** Wall cell values. `GRID` cells hold these; 0 is free floor. */
export const WALL = {
  stone: 1,
  brick: 2,
  wood: 3,
  cueRed: 4,
  cueGreen: 5,
  cueBlue: 6,
  cueYellow: 7,
  decalCircle: 8,
  decalTriangle: 9,
  decalCross: 10,
  decalDiamond: 11,
  decalBars: 12,
  decalRing: 13,
  doorRed: 14,
  doorGreen: 15,
  doorBlue: 16,
  doorWhite: 17,
  doorBlack: 18,
  hedge: 19,
  metal: 20,
} as const;

export const DECALS: readonly number[] = [
  WALL.decalCircle,
  WALL.decalTriangle,
  WALL.decalCross,
  WALL.decalDiamond,
  WALL.decalBars,
  WALL.decalRing,
];

export const DOOR_OF: Readonly<Record<KeyColour, number>> = {
  red: WALL.doorRed,
  green: WALL.doorGreen,
  blue: WALL.doorBlue,
  white: WALL.doorWhite,
  black: WALL.doorBlack,
};

/** Indexed by cell value; entry 0 (free floor) is never drawn as a wall. */
export const WALL_TEXTURES: readonly Texture[] = (() => {
  const t: Texture[] = [];
  t[0] = makeTexture(() => [0, 0, 0]);
  t[WALL.stone] = blocks([128, 124, 118], [90, 88, 84], 4, 1);
  t[WALL.brick] = blocks([150, 72, 52], [170, 160, 150], 4, 2);
  t[WALL.wood] = makeTexture((u, v) =>
    u % 4 === 0 ? [80, 52, 30] : scale([140, 96, 58], 0.85 + 0.2 * hash(u >> 2, v >> 3, 4)));
  t[WALL.cueRed] = makeTexture((u, v) => ((v >> 2) % 2 === 0 ? [210, 50, 45] : [235, 225, 215]));
  t[WALL.cueGreen] = makeTexture((u, v) => (((u >> 2) + (v >> 2)) % 2 === 0 ? [40, 170, 60] : [20, 90, 30]));
  t[WALL.cueBlue] = makeTexture((u, v) =>
    (u + Math.round(2 * Math.sin((v * Math.PI) / 4))) % 8 < 4 ? [50, 80, 210] : [180, 200, 240]);
  t[WALL.cueYellow] = makeTexture((u, v) =>
    ((u % 8) - 3.5) ** 2 + ((v % 8) - 3.5) ** 2 < 6 ? [120, 80, 10] : [235, 200, 40]);
  t[WALL.decalCircle] = poster([200, 40, 200], (x, y) => x * x + y * y <= 1);
  t[WALL.decalTriangle] = poster([30, 190, 210], (x, y) => y >= -1 + 2 * Math.abs(x));
  t[WALL.decalCross] = poster([240, 130, 20], (x, y) => Math.abs(x) < 0.3 || Math.abs(y) < 0.3);
  t[WALL.decalDiamond] = poster([120, 220, 40], (x, y) => Math.abs(x) + Math.abs(y) <= 1);
  t[WALL.decalBars] = poster([110, 50, 190], (x) => Math.floor((x + 1) * 2.5) % 2 === 0);
  t[WALL.decalRing] = poster([250, 250, 250], (x, y) => Math.abs(x * x + y * y - 0.6) < 0.3);
  t[WALL.doorRed] = door(KEY_COLOURS.red);
  t[WALL.doorGreen] = door(KEY_COLOURS.green);
  t[WALL.doorBlue] = door(KEY_COLOURS.blue);
  t[WALL.doorWhite] = door(KEY_COLOURS.white);
  t[WALL.doorBlack] = door(KEY_COLOURS.black);
  t[WALL.hedge] = makeTexture(noisy([60, 120, 50], 0.3, 5));
  t[WALL.metal] = makeTexture((u, v) =>
    u % 8 === 0 || v % 8 === 0 ? [70, 80, 95] : scale([120, 135, 155], 0.95 + 0.1 * hash(u, v, 6)));
  return t;
})();

// ---- floors ----

export const FLOORS = {
  tiles: makeTexture((u, v) => (u === 0 || v === 0 ? [95, 92, 88] : scale([150, 146, 140], 0.95 + 0.1 * hash(u, v, 8)))),
  sand: makeTexture(noisy([176, 156, 118], 0.08, 9)),
  grass: makeTexture(noisy([96, 130, 70], 0.12, 10)),
  planks: makeTexture((u, v) => (v % 4 === 0 ? [90, 66, 44] : scale([150, 112, 76], 0.9 + 0.15 * hash(u >> 3, v >> 2, 12)))),
} as const;

// ---- sprites ----

function disc(colour: Rgb, r: number, cx = 7.5, cy = 8.5): (u: number, v: number) => Rgb | null {
  return (u, v) => {
    const d2 = (u - cx) ** 2 + (v - cy) ** 2;
    if (d2 > r * r) return null;
    // A highlight up-left makes a flat disc read as a ball.
    const light = 1.15 - 0.05 * Math.hypot(u - cx + r / 3, v - cy + r / 3);
    return scale(colour, Math.max(0.55, light));
  };
}

export const SPRITES = {
  apple: makeSprite((u, v) => (u >= 7 && u <= 9 && v <= 3 ? [40, 140, 30] : disc([215, 35, 35], 6.5, 8, 9)(u, v))),
  lemon: makeSprite((u, v) => (((u - 7.5) / 7.5) ** 2 + ((v - 9) / 5.5) ** 2 <= 1 ? scale([240, 215, 40], 1.05 - 0.03 * Math.abs(v - 7)) : null)),
  /** Explore's goal and keys_doors' goal: an orange ice lolly on a stick. */
  goal: makeSprite((u, v) => {
    if (v >= 11 && u >= 7 && u <= 8) return [200, 180, 140];
    return ((u - 7.5) / 5) ** 2 + ((v - 5.5) / 5.5) ** 2 <= 1 ? scale([255, 153, 0], 1.1 - 0.04 * Math.abs(u - 6)) : null;
  }),
  ...(Object.fromEntries(
    (Object.keys(KEY_COLOURS) as KeyColour[]).map((c) => [`key_${c}`, keySprite(KEY_COLOURS[c])]),
  ) as Record<`key_${KeyColour}`, SpriteTexture>),
  botRed: botSprite([200, 40, 40]),
  botBlue: botSprite([40, 80, 210]),
  botPurple: botSprite([150, 50, 180]),
} as const;

function keySprite(colour: Rgb): SpriteTexture {
  return makeSprite((u, v) => {
    const ring = (u - 4.5) ** 2 + (v - 8) ** 2;
    if (ring <= 12 && ring >= 3) return colour;
    if (v >= 7 && v <= 9 && u >= 7 && u <= 15) return colour;
    if (v >= 10 && v <= 12 && (u === 11 || u === 12 || u === 14 || u === 15)) return colour;
    // A dark outline keeps a white or black key visible against any wall.
    if (ring <= 16 && ring >= 1.5) return [90, 90, 90];
    return null;
  });
}

function botSprite(suit: Rgb): SpriteTexture {
  return makeSprite((u, v) => {
    if ((u - 7.5) ** 2 + (v - 2.5) ** 2 <= 6.5) return [230, 190, 150];
    if (v >= 5 && v <= 10 && u >= 4 && u <= 11) return scale(suit, u === 4 || u === 11 ? 0.7 : 1);
    if (v >= 11 && (u === 5 || u === 6 || u === 9 || u === 10)) return [50, 50, 60];
    return null;
  });
}

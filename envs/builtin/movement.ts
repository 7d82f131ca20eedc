/**
 * First-person movement with DeepMind Lab's action semantics, one environment frame at a time.
 *
 * Turning: DeepMind Lab (engine/code/deepmind/dmlab_connect.c) turns by
 * `kPixelsPerFrameToDegreesPerMilliseconds = 0.11 * 60 / 1000` degrees per look pixel per engine
 * millisecond, and a frame at 60 fps is 16 engine milliseconds, so one look pixel per frame is
 * 0.1056 degrees: the IMPALA set's 20 px/frame turns 2.112 degrees per frame, 8.448 degrees per
 * agent step of 4 frames, a full turn in about 43 agent steps. Positive pixels look right.
 *
 * The heading is kept as an integer count of look pixels, so turning is exact: the same turn gives
 * bit-identical angles whatever came before.
 *
 * Moving: no inertia (DeepMind Lab accelerates over a few frames; leaving it out keeps control and
 * determinism simple). Speed is Quake III's 320 units/s over DeepMind Lab's 100-unit maze cells.
 * The agent is an axis-aligned square (as Quake's player box) of half-side `AGENT_RADIUS` that
 * slides along walls.
 */
import type { DmlabAction } from '../actions.js';
import { type Grid, isSolid } from './grid.js';

export const DEGREES_PER_LOOK_PIXEL = ((0.11 * 60) / 1000) * 16;
export const RADIANS_PER_LOOK_PIXEL = (DEGREES_PER_LOOK_PIXEL * Math.PI) / 180;
/** Look pixels in a full turn (not an integer: headings are never wrapped). */
export const LOOK_PIXELS_PER_TURN = 360 / DEGREES_PER_LOOK_PIXEL;
/** World units (cells) per frame at full forward, back or strafe. */
export const MOVE_SPEED = 320 / 100 / 60;
/** Half the side of the agent's collision box, in cells. */
export const AGENT_RADIUS = 0.2;
/** Keeps a clamped box strictly off the wall it touched. */
const SKIN = 1e-6;

/** A moving thing on the map: position in cells, heading in look pixels (0 faces east, +x). */
export interface Body {
  x: number;
  y: number;
  yaw: number;
}

export function heading(body: Body): number {
  return body.yaw * RADIANS_PER_LOOK_PIXEL;
}

/** One frame of an action: turn, then move in the new heading with wall sliding. */
export function applyAction(body: Body, action: DmlabAction, grid: Grid, radius = AGENT_RADIUS): void {
  body.yaw += action[0];
  const strafe = Math.sign(action[2]);
  const forward = Math.sign(action[3]);
  if (strafe === 0 && forward === 0) return;
  const a = heading(body);
  const cos = Math.cos(a);
  const sin = Math.sin(a);
  // Diagonal input is normalised, as in Quake, so no direction is faster than another.
  const norm = MOVE_SPEED / Math.hypot(strafe, forward);
  // Right of the heading (cos, sin) is (-sin, cos) with y pointing south.
  moveBy(body, (forward * cos - strafe * sin) * norm, (forward * sin + strafe * cos) * norm, grid, radius);
}

/** Moves by (dx, dy), |dx|, |dy| < 1 - 2 radius, sliding along walls one axis at a time. */
export function moveBy(body: Body, dx: number, dy: number, grid: Grid, radius = AGENT_RADIUS): void {
  if (dx !== 0) body.x = slide(body.x + dx, dx, body.y, radius, grid, true);
  if (dy !== 0) body.y = slide(body.y + dy, dy, body.x, radius, grid, false);
}

/** The new coordinate along one axis, pulled back to the wall face if the leading edge entered a wall. */
function slide(pos: number, delta: number, across: number, radius: number, grid: Grid, alongX: boolean): number {
  const edge = Math.floor(delta > 0 ? pos + radius : pos - radius);
  const lo = Math.floor(across - radius);
  const hi = Math.floor(across + radius);
  for (let c = lo; c <= hi; c++) {
    if (alongX ? isSolid(grid, edge, c) : isSolid(grid, c, edge)) {
      return delta > 0 ? edge - radius - SKIN : edge + 1 + radius + SKIN;
    }
  }
  return pos;
}

/** Whether the body's box, grown by `margin`, overlaps cell (cx, cy). */
export function touchesCell(body: Body, cx: number, cy: number, margin: number, radius = AGENT_RADIUS): boolean {
  const r = radius + margin;
  return body.x + r > cx && body.x - r < cx + 1 && body.y + r > cy && body.y - r < cy + 1;
}

/** Whether the body's box overlaps no solid cell (the invariant movement keeps). */
export function boxIsFree(body: Body, grid: Grid, radius = AGENT_RADIUS): boolean {
  for (let cy = Math.floor(body.y - radius); cy <= Math.floor(body.y + radius); cy++) {
    for (let cx = Math.floor(body.x - radius); cx <= Math.floor(body.x + radius); cx++) {
      if (isSolid(grid, cx, cy)) return false;
    }
  }
  return true;
}

/** The heading error in radians from the body's heading to point (x, y), wrapped into (-pi, pi]. */
export function bearingTo(body: Body, x: number, y: number): number {
  const e = Math.atan2(y - body.y, x - body.x) - heading(body);
  return e - 2 * Math.PI * Math.ceil((e - Math.PI) / (2 * Math.PI));
}

/**
 * Navigation for the scripted (oracle) policies: shortest grid paths by BFS, smoothed by line of
 * sight, and steering with the IMPALA action set. They assume the default action repeat of 4.
 */
import { ACTION, ACTION_REPEAT } from '../actions.js';
import { type Grid, FREE, bfsDistances, cellCentre, cellIndex, lineOfSight, neighbours } from './grid.js';
import { type Body, AGENT_RADIUS, MOVE_SPEED, RADIANS_PER_LOOK_PIXEL, bearingTo } from './movement.js';

/** Heading change of one look action over one agent step. */
export const TURN_PER_STEP = 20 * ACTION_REPEAT * RADIANS_PER_LOOK_PIXEL;
/** Radius of the circle that forward+look drives. */
const TURN_RADIUS = (MOVE_SPEED * ACTION_REPEAT) / TURN_PER_STEP;
/** How far along the path a waypoint may be looked for. */
const LOOKAHEAD_CELLS = 8;

/** The action that brings `body` toward point (x, y): turn in place, turn while walking, or walk. */
export function steerTo(body: Body, x: number, y: number): number {
  const error = bearingTo(body, x, y);
  const abs = Math.abs(error);
  if (abs <= TURN_PER_STEP / 2) return ACTION.forward;
  // Turning while walking only when the arc it drives can still pass through the point.
  const distance = Math.hypot(x - body.x, y - body.y);
  if (abs < 0.6 && distance > 2 * TURN_RADIUS * Math.sin(abs)) {
    return error > 0 ? ACTION.forwardLookRight : ACTION.forwardLookLeft;
  }
  return error > 0 ? ACTION.lookRight : ACTION.lookLeft;
}

/** Whether a box of half-side `AGENT_RADIUS` can slide straight from (x0, y0) to (x1, y1). */
export function corridorClear(grid: Grid, x0: number, y0: number, x1: number, y1: number): boolean {
  const len = Math.hypot(x1 - x0, y1 - y0);
  if (len === 0) return true;
  // Three parallel lines: the centre and the two box edges, widened a little for steering error.
  const w = AGENT_RADIUS + 0.08;
  const ox = (-(y1 - y0) / len) * w;
  const oy = ((x1 - x0) / len) * w;
  return (
    lineOfSight(grid, x0, y0, x1, y1) &&
    lineOfSight(grid, x0 + ox, y0 + oy, x1 + ox, y1 + oy) &&
    lineOfSight(grid, x0 - ox, y0 - oy, x1 - ox, y1 - oy)
  );
}

/**
 * The action that follows a shortest path on `plan` (cells other than 0 are blocked, except the
 * target cell and the body's own cell) to the point (x, y) in cell `target`. Returns null if no
 * path exists.
 */
export function navigateTo(plan: Grid, body: Body, target: number, x: number, y: number): number | null {
  let cell = cellIndex(plan, body.x, body.y);
  const start = cell;
  const dist = bfsDistances(plan, target, (i) => plan.cells[i] === FREE || i === start);
  if (dist[cell]! < 0) return null;
  // Walk down the distance field; aim at the furthest cell still reachable in a straight line.
  let wx = x;
  let wy = y;
  const around = new Int32Array(4);
  for (let k = 0; k < LOOKAHEAD_CELLS && cell !== target; k++) {
    let next = -1;
    for (let n = neighbours(plan, cell, around) - 1; n >= 0; n--) {
      const j = around[n]!;
      if (dist[j] === dist[cell]! - 1 && (next < 0 || j < next)) next = j;
    }
    cell = next;
    const c = cell === target ? { x, y } : cellCentre(plan, cell);
    if (k > 0 && !corridorClear(plan, body.x, body.y, c.x, c.y)) break;
    wx = c.x;
    wy = c.y;
  }
  return steerTo(body, wx, wy);
}

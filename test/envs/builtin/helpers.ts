import type { BuiltinEnv } from '../../../envs/builtin/index.js';
import { cellCentre } from '../../../envs/builtin/grid.js';

/** Everything that defines an episode's layout: walls, objects (hidden ones too), the agent's start. */
export function layoutSignature(env: BuiltinEnv): string {
  const { grid, agent } = env.level;
  return JSON.stringify({ cells: Array.from(grid.cells), markers: env.level.mapMarkers(), agent });
}

/** Puts the agent at the centre of cell `index`, facing `yaw` look pixels (0 = east). */
export function teleport(env: BuiltinEnv, index: number, yaw = 0): void {
  const c = cellCentre(env.level.grid, index);
  Object.assign(env.level.agent, { x: c.x, y: c.y, yaw });
}

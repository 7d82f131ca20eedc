/**
 * The 9-entry IMPALA action set (deepmind/scalable_agent, `DEFAULT_ACTION_SET`) as DeepMind Lab
 * 7-int actions. Shared by the DeepMind Lab bridge, the built-in levels and the package root, so
 * an action index means the same thing everywhere.
 */

/** DeepMind Lab's action components, in the order of a 7-int action. */
export const DMLAB_ACTION_NAMES = [
  'LOOK_LEFT_RIGHT_PIXELS_PER_FRAME',
  'LOOK_DOWN_UP_PIXELS_PER_FRAME',
  'STRAFE_LEFT_RIGHT',
  'MOVE_BACK_FORWARD',
  'FIRE',
  'JUMP',
  'CROUCH',
] as const;

/** One DeepMind Lab action: the components of `DMLAB_ACTION_NAMES`, in order. */
export type DmlabAction = readonly [number, number, number, number, number, number, number];

export interface NamedAction {
  readonly name: string;
  readonly action: DmlabAction;
}

/** Index = the agent's action id (policy logit order). */
export const ACTION_SET: readonly NamedAction[] = Object.freeze([
  { name: 'forward', action: [0, 0, 0, 1, 0, 0, 0] },
  { name: 'backward', action: [0, 0, 0, -1, 0, 0, 0] },
  { name: 'strafe_left', action: [0, 0, -1, 0, 0, 0, 0] },
  { name: 'strafe_right', action: [0, 0, 1, 0, 0, 0, 0] },
  { name: 'look_left', action: [-20, 0, 0, 0, 0, 0, 0] },
  { name: 'look_right', action: [20, 0, 0, 0, 0, 0, 0] },
  { name: 'forward_look_left', action: [-20, 0, 0, 1, 0, 0, 0] },
  { name: 'forward_look_right', action: [20, 0, 0, 1, 0, 0, 0] },
  { name: 'fire', action: [0, 0, 0, 0, 1, 0, 0] },
] as const satisfies readonly NamedAction[]);

/** Action ids by name, for scripted policies. */
export const ACTION = {
  forward: 0,
  backward: 1,
  strafeLeft: 2,
  strafeRight: 3,
  lookLeft: 4,
  lookRight: 5,
  forwardLookLeft: 6,
  forwardLookRight: 7,
  fire: 8,
} as const;

export const NUM_ACTIONS = ACTION_SET.length;

/** Environment frames per agent step in IMPALA and the CPC paper (60 fps, so 15 agent steps/s). */
export const ACTION_REPEAT = 4;

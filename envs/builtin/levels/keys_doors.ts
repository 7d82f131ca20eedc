/**
 * `rooms_keys_doors_puzzle`: a chain of rooms separated by coloured doors, each opened by the key
 * of its colour; the goal is in the last room. The agent carries one key at a time: picking up
 * another replaces (and loses) the one held, and there is a distractor key whose colour opens
 * nothing, so taking keys in the wrong order can make the puzzle unsolvable for the rest of the
 * episode. Which key is held matters, and it is not drawn on screen: the agent has to remember it.
 *
 * DeepMind Lab's version (game_scripts/levels/contributed/dmlab30/rooms_keys_doors_puzzle.lua and
 * factories/rooms/keys_doors_puzzle_factory.lua): keys pay 1, opening a door pays 1, the goal pays
 * 50 and ends the episode (0.2 s later; here at once), one key carried at a time, colours red,
 * green, blue, white, black, and `episodeLengthSeconds = 60` (900 agent steps). DeepMind Lab shows
 * the held key as a coloured square on screen; DESIGN.md asks for this level to need memory of it
 * instead, so the square is left out.
 */
import { ACTION, type DmlabAction } from '../../actions.js';
import type { Rng } from '../../../src/rng.js';
import { type Grid, FREE, cellCentre, makeGrid, neighbours, setCell, shuffle } from '../grid.js';
import { Level } from '../level.js';
import { AGENT_RADIUS, touchesCell } from '../movement.js';
import { navigateTo } from '../navigate.js';
import type { Sprite } from '../raycaster.js';
import { DOOR_OF, FLOORS, type KeyColour, KEY_COLOURS, SPRITES, WALL } from '../textures.js';

export const KEY_REWARD = 1;
export const DOOR_REWARD = 1;
export const GOAL_REWARD = 50;
/** Rooms in the chain (so ROOMS - 1 doors). */
export const ROOMS = 4;
/** Room slots per side; rooms are 3 x 3 cells with one wall between neighbours. */
const SLOTS = 3;
const ROOM = 3;
const PITCH = ROOM + 1;
export const PICKUP_DISTANCE = AGENT_RADIUS + 0.15;
/** A door opens when the agent's box comes this close to it with the right key. */
const DOOR_REACH = 0.05;

export interface Key {
  colour: KeyColour;
  sprite: Sprite;
  cell: number;
}

export interface Door {
  colour: KeyColour;
  cell: number;
  open: boolean;
}

export class KeysDoors extends Level {
  readonly name = 'rooms_keys_doors_puzzle';
  readonly episodeSeconds = 60;
  readonly style = { floor: FLOORS.planks, skyTop: [90, 120, 180], skyHorizon: [210, 215, 225] } as const;
  readonly keys: Key[] = [];
  /** In the order they must be opened. */
  readonly doors: Door[] = [];
  held: KeyColour | null = null;
  /** The goal's cell index. */
  goal = 0;
  goalReached = false;
  private readonly goalSprite: Sprite = { x: 0, y: 0, texture: SPRITES.goal, size: 0.6, z: 0, visible: true };

  override get finished(): boolean {
    return this.goalReached;
  }

  protected generate(): void {
    const side = SLOTS * PITCH + 1;
    this.grid = makeGrid(side, side, WALL.brick);
    this.keys.length = 0;
    this.doors.length = 0;
    this.held = null;
    this.goalReached = false;

    const chain = roomChain(this.rng);
    for (const slot of chain) {
      for (const i of roomCells(this.grid, slot)) this.grid.cells[i] = FREE;
    }
    const colours = shuffle(this.rng, Object.keys(KEY_COLOURS) as KeyColour[]);
    for (let d = 0; d < ROOMS - 1; d++) {
      const cell = doorBetween(this.grid, chain[d]!, chain[d + 1]!);
      this.grid.cells[cell] = DOOR_OF[colours[d]!];
      this.doors.push({ colour: colours[d]!, cell, open: false });
    }

    // Places are drawn room by room from cells that keep doorways clear.
    const spots = chain.map((slot) => shuffle(this.rng, roomCells(this.grid, slot).filter((i) => !nextToDoor(this.grid, i))));
    this.spawnAgent([spots[0]!.pop() as number]);
    for (let d = 0; d < ROOMS - 1; d++) this.placeKey(colours[d]!, spots[this.rng.int(d + 1)]!.pop() as number);
    // The distractor: a colour no door has, reachable before the last door.
    this.placeKey(colours[ROOMS - 1]!, spots[this.rng.int(ROOMS - 1)]!.pop() as number);
    this.goal = spots[ROOMS - 1]!.pop() as number;
    Object.assign(this.goalSprite, cellCentre(this.grid, this.goal), { visible: true });
    this.sprites.push(this.goalSprite);
  }

  protected update(_action: DmlabAction): number {
    let reward = 0;
    for (const key of this.keys) {
      if (key.sprite.visible && this.near(key.sprite)) {
        key.sprite.visible = false;
        this.held = key.colour;
        reward += KEY_REWARD;
      }
    }
    for (const door of this.doors) {
      const cx = door.cell % this.grid.width;
      const cy = (door.cell - cx) / this.grid.width;
      if (!door.open && door.colour === this.held && touchesCell(this.agent, cx, cy, DOOR_REACH)) {
        door.open = true;
        setCell(this.grid, cx, cy, FREE);
        this.held = null;
        reward += DOOR_REWARD;
      }
    }
    if (this.near(this.goalSprite)) {
      this.goalSprite.visible = false;
      this.goalReached = true;
      reward += GOAL_REWARD;
    }
    return reward;
  }

  /** Opens the doors in order, fetching each one's key just before, and never touches other keys. */
  oracleAction(): number {
    const door = this.doors.find((d) => !d.open);
    if (!door) return this.goTo(this.goal, this.goalSprite);
    if (this.held === door.colour) {
      const c = cellCentre(this.grid, door.cell);
      return this.goTo(door.cell, c);
    }
    const key = this.keys.find((k) => k.colour === door.colour && k.sprite.visible);
    // The key was lost: nothing more can be earned.
    return key ? this.goTo(key.cell, key.sprite) : ACTION.lookLeft;
  }

  private goTo(cell: number, at: { x: number; y: number }): number {
    const plan: Grid = { ...this.grid, cells: this.grid.cells.slice() };
    for (const k of this.keys) if (k.sprite.visible && k.cell !== cell) plan.cells[k.cell] = WALL.stone;
    return (
      navigateTo(plan, this.agent, cell, at.x, at.y) ?? navigateTo(this.grid, this.agent, cell, at.x, at.y) ?? ACTION.lookLeft
    );
  }

  private placeKey(colour: KeyColour, cell: number): void {
    const sprite: Sprite = { ...cellCentre(this.grid, cell), texture: SPRITES[`key_${colour}`], size: 0.4, z: 0.15, visible: true };
    this.keys.push({ colour, sprite, cell });
    this.sprites.push(sprite);
  }

  private near(s: Sprite): boolean {
    return s.visible && Math.hypot(s.x - this.agent.x, s.y - this.agent.y) < PICKUP_DISTANCE;
  }
}

/** A self-avoiding walk of ROOMS slots on the SLOTS x SLOTS board (slot = sy * SLOTS + sx). */
function roomChain(rng: Rng): number[] {
  for (;;) {
    const chain = [rng.int(SLOTS * SLOTS)];
    while (chain.length < ROOMS) {
      const s = chain[chain.length - 1]!;
      const sx = s % SLOTS;
      const options = [s - SLOTS, s + SLOTS, sx > 0 ? s - 1 : -1, sx < SLOTS - 1 ? s + 1 : -1].filter(
        (n) => n >= 0 && n < SLOTS * SLOTS && !chain.includes(n),
      );
      if (options.length === 0) break;
      chain.push(options[rng.int(options.length)]!);
    }
    if (chain.length === ROOMS) return chain;
  }
}

function roomCells(grid: Grid, slot: number): number[] {
  const x0 = (slot % SLOTS) * PITCH + 1;
  const y0 = Math.floor(slot / SLOTS) * PITCH + 1;
  const out: number[] = [];
  for (let y = y0; y < y0 + ROOM; y++) for (let x = x0; x < x0 + ROOM; x++) out.push(y * grid.width + x);
  return out;
}

/** The wall cell in the middle of the wall two adjacent room slots share. */
function doorBetween(grid: Grid, a: number, b: number): number {
  const ax = (a % SLOTS) * PITCH;
  const ay = Math.floor(a / SLOTS) * PITCH;
  const bx = (b % SLOTS) * PITCH;
  const by = Math.floor(b / SLOTS) * PITCH;
  const x = ax === bx ? ax + 2 : Math.max(ax, bx);
  const y = ay === by ? ay + 2 : Math.max(ay, by);
  return y * grid.width + x;
}

function nextToDoor(grid: Grid, cell: number): boolean {
  const around = new Int32Array(4);
  for (let n = neighbours(grid, cell, around) - 1; n >= 0; n--) {
    const v = grid.cells[around[n]!]!;
    if (v >= WALL.doorRed && v <= WALL.doorBlack) return true;
  }
  return false;
}

import { execFileSync, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/**
 * TensorBoard event files read by an independent reader (read_tfevents.py beside this file: the
 * TFRecord framing and CRC32C written from the format's description, the protos parsed by Google's
 * protobuf runtime, Debian's python3-protobuf).
 */
export const READER = fileURLToPath(new URL('./read_tfevents.py', import.meta.url));
export const PYTHON = '/usr/bin/python3';

export interface TbValue {
  tag: string;
  simple_value?: number | null;
  text?: string;
  plugin?: string;
  image?: { width: number; height: number; png_width: number; png_height: number; png: boolean };
}
export interface TbEvent {
  wall_time: number;
  step: number;
  file_version?: string;
  values: TbValue[];
}

/** Every event of `file`, in order; throws if a length or CRC is wrong. */
export function readEvents(file: string): TbEvent[] {
  const probe = spawnSync(PYTHON, ['-c', 'import google.protobuf'], { encoding: 'utf8' });
  if (probe.status !== 0) throw new Error(`${PYTHON} cannot import google.protobuf (${probe.stderr.trim().split('\n').pop()}): run npm run setup:python`);
  const out = execFileSync(PYTHON, [READER, file], { encoding: 'utf8' });
  return out.trim().split('\n').map((l) => JSON.parse(l) as TbEvent);
}

/** The scalar events, in order, as {step, tag -> value}. */
export function scalarEvents(events: TbEvent[]) {
  return events
    .filter((e) => e.values.some((v) => 'simple_value' in v))
    .map((e) => ({ step: e.step, scalars: Object.fromEntries(e.values.map((v) => [v.tag, v.simple_value ?? null])) }));
}

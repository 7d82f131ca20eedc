import { Option, type Command } from 'commander';
import type { z } from 'zod';
import { ConfigSchema } from '../config.js';

/**
 * Commander options generated from the config schema, so every setting has exactly one name, type,
 * default and doc (the schema's). `learningRate` becomes `--learning-rate <number>`.
 */
type ZodAny = z.ZodType & { def: { type: string; innerType?: ZodAny; defaultValue?: unknown }; options?: readonly string[] };

function unwrap(schema: ZodAny): { base: ZodAny; defaultValue: unknown } {
  let s = schema;
  let defaultValue: unknown;
  while (s.def.type === 'default' || s.def.type === 'optional') {
    if (s.def.type === 'default') defaultValue = s.def.defaultValue;
    s = s.def.innerType as ZodAny;
  }
  return { base: s, defaultValue };
}

export function kebab(key: string): string {
  return key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}

/** Adds one option per config key (except `skip`) to `command`. */
export function addConfigOptions(command: Command, skip: readonly string[] = []): Command {
  for (const [key, schema] of Object.entries(ConfigSchema.shape)) {
    if (skip.includes(key)) continue;
    const { base, defaultValue } = unwrap(schema as unknown as ZodAny);
    const doc = (schema as z.ZodType).description ?? '';
    const suffix = defaultValue !== undefined && base.def.type !== 'boolean' ? ` (default: ${String(defaultValue)})` : '';
    let opt: Option;
    switch (base.def.type) {
      case 'boolean':
        opt = new Option(`--${kebab(key)}`, doc);
        break;
      case 'number':
        // parsed here, validated by the schema (so "abc" is reported with the setting's name)
        opt = new Option(`--${kebab(key)} <number>`, doc + suffix).argParser((v) => (v.trim() === '' ? Number.NaN : Number(v)));
        break;
      case 'enum':
        opt = new Option(`--${kebab(key)} <choice>`, doc + suffix).choices(base.options ?? []);
        break;
      default:
        opt = new Option(`--${kebab(key)} <value>`, doc + suffix);
    }
    command.addOption(opt);
  }
  return command;
}

/** The config keys present in parsed commander options (absent ones take the schema's defaults). */
export function configFromOptions(opts: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(ConfigSchema.shape)) if (opts[key] !== undefined) out[key] = opts[key];
  return out;
}

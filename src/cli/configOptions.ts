import { Option, type Command } from 'commander';
import type { z } from 'zod';
import { CONFIG_GROUPS, ConfigSchema } from '../config.js';

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

/** Adds one option per config key (except `skip`) to `command`, in the help's sections of `CONFIG_GROUPS`. */
export function addConfigOptions(command: Command, skip: readonly string[] = []): Command {
  for (const [group, keys] of Object.entries(CONFIG_GROUPS)) {
    for (const key of keys) if (!skip.includes(key)) command.addOption(configOption(key).helpGroup(`${group} options:`));
  }
  return command;
}

/** The option of one config key: its flag, argument, parser, choices and doc with the default. */
function configOption(key: keyof typeof ConfigSchema.shape): Option {
  const schema = ConfigSchema.shape[key];
  const { base, defaultValue } = unwrap(schema as unknown as ZodAny);
  const doc = (schema as z.ZodType).description ?? '';
  const suffix = defaultValue !== undefined && base.def.type !== 'boolean' ? ` (default: ${String(defaultValue)})` : '';
  switch (base.def.type) {
    case 'boolean':
      return new Option(`--${kebab(key)}`, doc);
    case 'number':
      // parsed here, validated by the schema (so "abc" is reported with the setting's name)
      return new Option(`--${kebab(key)} <number>`, doc + suffix).argParser((v) => (v.trim() === '' ? Number.NaN : Number(v)));
    case 'enum':
      return new Option(`--${kebab(key)} <choice>`, doc + suffix).choices(base.options ?? []);
    case 'union':
      // e.g. 'auto' or a number: numeric text becomes a number, the schema says what is allowed
      return new Option(`--${kebab(key)} <value>`, doc + suffix).argParser((v) => (v.trim() !== '' && Number.isFinite(Number(v)) ? Number(v) : v));
    default:
      return new Option(`--${kebab(key)} <value>`, doc + suffix);
  }
}

/** The config keys present in parsed commander options (absent ones take the schema's defaults). */
export function configFromOptions(opts: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(ConfigSchema.shape)) if (opts[key] !== undefined) out[key] = opts[key];
  return out;
}

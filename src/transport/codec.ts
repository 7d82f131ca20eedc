/**
 * The one codec every process uses: `encode` a `Message` to msgpack bytes, `decode` bytes back to a
 * validated `Message` or a specific error. `decode` never throws, whatever the bytes.
 *
 * msgpackr is configured to emit plain msgpack only (no records, no extensions, `undefined`
 * fields omitted), so Python's `msgpack.unpackb` reads every message; arrays are `bin` payloads
 * (see `ndarray.ts`).
 */
import { Packr, Unpackr } from 'msgpackr';
import type { z } from 'zod';
import {
  MESSAGE_TYPES,
  PROTOCOL_VERSION,
  messageSchema,
  type DecodeErrorCode,
  type IssueKind,
  type Message,
} from './messages.js';

export { fromWire, toWire, type WireArray } from './ndarray.js';

/** Frames above this are rejected before parsing; a B = 32, T = 100 unroll is ~67 MB. */
export const DEFAULT_MAX_BYTES = 256 * 2 ** 20;

// `skipValues` (omit `undefined` fields instead of writing an extension) is missing from msgpackr's typings.
const packOptions = { useRecords: false, skipValues: [undefined] };
const packr = new Packr(packOptions);
const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: true });

export interface DecodeError {
  code: DecodeErrorCode;
  message: string;
  /** Dotted path of the offending field, for schema errors. */
  path?: string;
  /** The message's `type`, when it could be read. */
  type?: string;
}

export type DecodeResult = { ok: true; msg: Message } | { ok: false; error: DecodeError };

export interface DecodeOptions {
  /** Reject frames larger than this many bytes (default `DEFAULT_MAX_BYTES`). */
  maxBytes?: number;
}

/** msgpack bytes of `msg` with the protocol version added. */
export function encode(msg: Message): Uint8Array {
  return packr.pack({ v: PROTOCOL_VERSION, ...msg });
}

function fail(code: DecodeErrorCode, message: string, extra: Omit<DecodeError, 'code' | 'message'> = {}): DecodeResult {
  return { ok: false, error: { code, message, ...extra } };
}

function isRecord(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x) && !ArrayBuffer.isView(x);
}

function issueCode(issue: z.core.$ZodIssue): DecodeErrorCode {
  const kind = (issue as { params?: { kind?: IssueKind } }).params?.kind;
  if (kind) return kind;
  if (issue.path.at(-1) === 'dtype') return 'bad_dtype';
  return 'schema';
}

export function decode(bytes: Uint8Array, opts: DecodeOptions = {}): DecodeResult {
  const maxBytes = opts.maxBytes ?? DEFAULT_MAX_BYTES;
  if (bytes.byteLength > maxBytes) {
    return fail('oversized', `frame of ${bytes.byteLength} bytes exceeds the limit of ${maxBytes}`);
  }
  let raw: unknown;
  let consumed = 0;
  try {
    // Read one value and check the consumed length here: msgpackr's own check for trailing bytes
    // JSON-stringifies the whole decoded value to build its error text (seconds for a large frame).
    unpackr.unpackMultiple(bytes, (value: unknown, _start?: number, end?: number) => {
      raw = value;
      consumed = end ?? 0;
      return false;
    });
  } catch (e) {
    return fail('not_msgpack', `not msgpack: ${String((e as Error).message).slice(0, 200)}`);
  }
  if (consumed !== bytes.byteLength) {
    return fail('not_msgpack', `not msgpack: ${bytes.byteLength - consumed} bytes after the message`);
  }
  if (!isRecord(raw) || typeof raw.type !== 'string') {
    return fail('no_type', 'not a map with a string `type` field');
  }
  const { v, ...body } = raw;
  const type = raw.type;
  if (v !== PROTOCOL_VERSION) {
    return fail('bad_version', `protocol version ${String(v)} (this peer speaks ${PROTOCOL_VERSION})`, { type });
  }
  if (!MESSAGE_TYPES.has(type)) {
    return fail('unknown_type', `unknown message type ${JSON.stringify(type.slice(0, 64))}`, { type });
  }
  const parsed = messageSchema.safeParse(body);
  if (!parsed.success) {
    const first = parsed.error.issues[0]!; // a failed parse has at least one issue
    const path = first.path.map(String).join('.');
    return fail(issueCode(first), `${type}: ${path || '(root)'}: ${first.message}`, { path, type });
  }
  return { ok: true, msg: parsed.data };
}

import { execFileSync } from 'node:child_process';
import { Packr, unpackMultiple } from 'msgpackr';
import { describe, expect, it } from 'vitest';
import { DEFAULT_MAX_BYTES, decode, encode, fromWire, toWire, type DecodeResult } from '../../../src/transport/codec.js';
import { messageSchema, PROTOCOL_VERSION } from '../../../src/transport/messages.js';
import { allSampleMessages, batchStepReply, sampleMessages, unrollMessage } from './fixtures.js';

const PYTHON = '/usr/bin/python3';
const raw = new Packr({ useRecords: false });
/** Packs an arbitrary object (for hand-made bad frames). */
const pack = (x: unknown): Uint8Array => raw.pack(x);
const withV = (m: object): object => ({ v: PROTOCOL_VERSION, ...m });

/** Byte views become plain number arrays, so Buffer and Uint8Array payloads compare equal. */
function plain(x: unknown): unknown {
  if (ArrayBuffer.isView(x)) return Array.from(new Uint8Array(x.buffer, x.byteOffset, x.byteLength));
  if (Array.isArray(x)) return x.map(plain);
  if (x && typeof x === 'object') return Object.fromEntries(Object.entries(x).map(([k, v]) => [k, plain(v)]));
  return x;
}

function errorOf(r: DecodeResult): { code: string; message: string; path?: string } {
  if (r.ok) throw new Error(`expected a decode error, got ${r.msg.type}`);
  return r.error;
}

describe('codec round trip', () => {
  it.each(allSampleMessages().map((m) => [m.type, m] as const))('%s', (_type, msg) => {
    const r = decode(encode(msg));
    if (!r.ok) throw new Error(r.error.message);
    expect(plain(r.msg)).toEqual(plain(msg));
  });

  it('arrays come back as the right typed arrays with their values', () => {
    const msg = unrollMessage();
    const r = decode(encode(msg));
    if (!r.ok || r.msg.type !== 'unroll') throw new Error('decode failed');
    expect(fromWire(r.msg.behaviourLogits)).toEqual(fromWire(msg.behaviourLogits));
    expect(fromWire(r.msg.behaviourLogits)).toBeInstanceOf(Float32Array);
    expect(fromWire(r.msg.prevActions)).toBeInstanceOf(Int32Array);
    expect(Array.from(fromWire(r.msg.actions))).toEqual(Array.from(fromWire(msg.actions)));
  });

  it('plain msgpack: Python msgpack + numpy read every message and write it back identically', () => {
    const script = `
import sys, msgpack, numpy as np
out = bytearray()
for m in msgpack.Unpacker(sys.stdin.buffer, raw=False):
    assert m["v"] == ${PROTOCOL_VERSION}
    def walk(x):
        if isinstance(x, dict) and set(x) == {"dtype", "shape", "data"}:
            a = np.frombuffer(x["data"], dtype=np.dtype(x["dtype"]).newbyteorder("<")).reshape(x["shape"])
            return {"dtype": str(a.dtype), "shape": list(a.shape), "data": a.tobytes()}
        if isinstance(x, dict): return {k: walk(v) for k, v in x.items()}
        if isinstance(x, list): return [walk(v) for v in x]
        assert not isinstance(x, msgpack.ExtType), x
        return x
    out += msgpack.packb(walk(m), use_bin_type=True)
sys.stdout.buffer.write(out)
`;
    const msgs = allSampleMessages();
    const input = Buffer.concat(msgs.map((m) => encode(m)));
    const output = execFileSync(PYTHON, ['-c', script], { input });
    const back = unpackMultiple(output) as unknown[];
    expect(back).toHaveLength(msgs.length);
    back.forEach((b, i) => {
      const r = decode(encode(msgs[i]!));
      const again = decode(raw.pack(b));
      if (!r.ok || !again.ok) throw new Error(`decode failed for ${msgs[i]!.type}`);
      expect(plain(again.msg)).toEqual(plain(r.msg));
    });
  });

  it('omits undefined optional fields instead of writing an extension', () => {
    const bytes = encode({ type: 'env.step.reply', obs: sampleMessages()['env.reset.reply'].obs, reward: 0, done: false, episodeReturn: undefined });
    expect(Object.keys(unpackMultiple(bytes)[0] as object)).not.toContain('episodeReturn');
  });
});

describe('codec rejects bad frames with specific errors, never throwing', () => {
  const good = sampleMessages();

  it('oversized', () => {
    const bytes = encode(good['env.reset.reply']);
    expect(errorOf(decode(bytes, { maxBytes: 10 })).code).toBe('oversized');
    expect(decode(bytes, { maxBytes: bytes.byteLength }).ok).toBe(true);
    expect(DEFAULT_MAX_BYTES).toBeGreaterThan(101 * 32 * 72 * 96 * 3);
  });

  it.each([
    ['truncated', Uint8Array.from([0x93, 1])],
    ['trailing bytes', Uint8Array.from([0x01, 0x01])],
    ['unknown extension', Uint8Array.from([0xd4, 0x01, 0x01])],
    ['empty', new Uint8Array(0)],
    ['truncated real message', encode(good.unroll).subarray(0, 200)],
    ['60k nested arrays (stack overflow)', new Uint8Array(60_000).fill(0x91)],
  ])('not_msgpack: %s', (_name, bytes) => {
    expect(errorOf(decode(bytes)).code).toBe('not_msgpack');
  });

  it.each([
    ['a number', pack(42)],
    ['an array', pack([1, 2])],
    ['a string', pack('env.step')],
    ['a map without type', pack({ v: PROTOCOL_VERSION, seed: 1 })],
    ['a non-string type', pack({ v: PROTOCOL_VERSION, type: 7 })],
    ['a bin', pack(new Uint8Array(4))],
    ['the reserved 0xc1 byte', Uint8Array.from([0xc1])],
  ])('no_type: %s', (_name, bytes) => {
    expect(errorOf(decode(bytes)).code).toBe('no_type');
  });

  it('bad_version: wrong or missing', () => {
    expect(errorOf(decode(pack({ ...good['env.step'], v: PROTOCOL_VERSION + 1 }))).code).toBe('bad_version');
    expect(errorOf(decode(pack(good['env.step']))).code).toBe('bad_version');
    expect(errorOf(decode(pack({ ...good['env.step'], v: String(PROTOCOL_VERSION) }))).code).toBe('bad_version');
  });

  it('unknown_type', () => {
    const e = errorOf(decode(pack(withV({ type: 'env.teleport' }))));
    expect(e.code).toBe('unknown_type');
    expect(e.message).toContain('env.teleport');
  });

  it.each([
    ['missing field', withV({ type: 'env.reset' }), 'seed'],
    ['wrong field type', withV({ type: 'env.step', action: 'left', repeat: 4 }), 'action'],
    ['negative seed', withV({ type: 'env.reset', seed: -1 }), 'seed'],
    ['fractional action', withV({ type: 'env.step', action: 1.5, repeat: 4 }), 'action'],
    ['zero repeat', withV({ type: 'env.step', action: 1, repeat: 0 }), 'repeat'],
    ['extra key', withV({ type: 'env.spec', debug: true }), ''],
    ['bad error code', withV({ type: 'error', code: 'oops', message: 'x' }), 'code'],
    ['done without stats', withV({ ...good['env.step.reply'], episodeReturn: undefined, episodeLength: undefined }), 'episodeReturn'],
    ['stats without done', withV({ ...good['env.step.reply'], done: false }), 'episodeReturn'],
    ['done with a return but no length', withV({ ...good['env.step.reply'], episodeLength: undefined }), 'episodeReturn'],
    ['done with a length but no return', withV({ ...good['env.step.reply'], episodeReturn: undefined }), 'episodeReturn'],
    ['a length without done', withV({ ...good['env.step.reply'], done: false, episodeReturn: undefined }), 'episodeReturn'],
    ['a return without done', withV({ ...good['env.step.reply'], done: false, episodeLength: undefined }), 'episodeReturn'],
    ['data not bin', withV({ ...good['env.reset.reply'], obs: { ...good['env.reset.reply'].obs, data: [1, 2, 3] } }), 'obs.data'],
  ])('schema: %s', (_name, msg, path) => {
    const e = errorOf(decode(pack(msg)));
    expect(e.code).toBe('schema');
    expect(e.path).toBe(path);
  });

  it('bad_dtype: wrong dtype for the field, or no such dtype', () => {
    const obs = good['env.reset.reply'].obs;
    const a = errorOf(decode(pack(withV({ ...good['env.reset.reply'], obs: { ...obs, dtype: 'int8' } }))));
    expect(a).toMatchObject({ code: 'bad_dtype', path: 'obs.dtype' });
    expect(errorOf(decode(pack(withV({ ...good['env.reset.reply'], obs: { ...obs, dtype: 'complex128' } })))).code).toBe('bad_dtype');
    const u = unrollMessage();
    const b = errorOf(decode(pack(withV({ ...u, behaviourLogits: { ...u.behaviourLogits, dtype: 'float64' } }))));
    expect(b).toMatchObject({ code: 'bad_dtype', path: 'behaviourLogits.dtype' });
  });

  it('bad_array: payload length differs from product(shape) * itemsize', () => {
    const obs = good['env.reset.reply'].obs;
    const e = errorOf(decode(pack(withV({ ...good['env.reset.reply'], obs: { ...obs, data: obs.data.subarray(1) } }))));
    expect(e).toMatchObject({ code: 'bad_array', path: 'obs.data' });
    const u = unrollMessage();
    const f = errorOf(decode(pack(withV({ ...u, prevRewards: { ...u.prevRewards, data: new Uint8Array(u.prevRewards.data.byteLength + 2) } }))));
    expect(f).toMatchObject({ code: 'bad_array', path: 'prevRewards.data' });
  });

  it('bad_shape: wrong rank, or shapes that disagree across an unroll', () => {
    const obs = good['env.reset.reply'].obs;
    expect(errorOf(decode(pack(withV({ ...good['env.reset.reply'], obs: { ...obs, shape: [4, 15] } }))))).toMatchObject({ code: 'bad_shape', path: 'obs.shape' });
    const u = unrollMessage(3, 2);
    const other = unrollMessage(4, 2);
    expect(errorOf(decode(encode({ ...u, actions: other.actions })))).toMatchObject({ code: 'bad_shape', path: 'actions.shape' });
    expect(errorOf(decode(encode({ ...u, prevActions: unrollMessage(3, 3).prevActions })))).toMatchObject({ code: 'bad_shape', path: 'prevActions.shape' });
    expect(errorOf(decode(encode({ ...u, initialState: { ...u.initialState, c: unrollMessage(3, 2, 4, 5, 9, 7).initialState.c } })))).toMatchObject({ code: 'bad_shape', path: 'initialState.c.shape' });
    expect(errorOf(decode(encode({ ...u, episodes: [{ env: 2, episodeReturn: 0, episodeLength: 1 }] })))).toMatchObject({ code: 'bad_shape', path: 'episodes.0.env' });
    expect(errorOf(decode(encode(unrollMessage(0, 2))))).toMatchObject({ code: 'bad_shape' });
  });

  it('bad_shape: an array of the wrong rank is the only issue (no mismatches derived from its missing sizes)', () => {
    const u = unrollMessage(3, 2);
    const issues = (m: object) => {
      const r = messageSchema.safeParse(m);
      return r.success ? [] : r.error.issues.map((i) => `${i.code} ${i.path.join('.')}: ${i.message}`.replace('custom ', ''));
    };
    expect(issues({ ...u, observations: { ...u.observations, shape: [4], data: new Uint8Array(4) } })).toEqual(['observations.shape: expected rank 5, got shape [4]']);
    expect(issues({ ...u, observations: { ...u.observations, shape: [], data: new Uint8Array(1) } })).toEqual(['observations.shape: expected rank 5, got shape []']);
    expect(issues({ ...u, initialState: { ...u.initialState, h: { ...u.initialState.h, shape: [12] } } })).toEqual(['initialState.h.shape: expected rank 2, got shape [12]']);
    // at the right rank the sizes are still compared
    expect(issues({ ...u, initialState: { ...u.initialState, c: unrollMessage(3, 3).initialState.c } })).toEqual(['initialState.c.shape: expected [2, 6], got [3, 6]']);
    // each cross-field check names its array and both shapes
    const wide = unrollMessage(3, 3);
    expect(issues({ ...u, prevRewards: wide.prevRewards })).toEqual(['prevRewards.shape: expected [4, 2], got [4, 3]']);
    expect(issues({ ...u, firsts: wide.firsts })).toEqual(['firsts.shape: expected [4, 2], got [4, 3]']);
    expect(issues({ ...u, behaviourLogits: wide.behaviourLogits })).toEqual(['behaviourLogits.shape: expected [3, 2, 9], got [3, 3, 9]']);
    expect(issues({ ...u, initialState: { ...u.initialState, h: wide.initialState.h } })).toEqual([
      'initialState.h.shape: expected [2, 6], got [3, 6]',
    ]);
    expect(issues({ ...u, episodes: [{ env: 2, episodeReturn: 0, episodeLength: 1 }] })).toEqual(['episodes.0.env: env 2 outside batch of 2']);
    // T + 1 = 2 observations is the shortest unroll; 1 is refused by name
    expect(issues(unrollMessage(1, 2))).toEqual([]);
    expect(issues(unrollMessage(0, 2))[0]).toBe('observations.shape: need T+1 >= 2 observations, got 1');
  });

  it('schema: episode stats come exactly with done, and the error says which way', () => {
    const step = good['env.step.reply'];
    expect(errorOf(decode(encode({ ...step, episodeLength: undefined })))).toMatchObject({ path: 'episodeReturn', message: expect.stringContaining('done without episodeReturn and episodeLength') });
    expect(errorOf(decode(encode({ ...step, done: false })))).toMatchObject({ path: 'episodeReturn', message: expect.stringContaining('episode stats without done') });
    // a step that ends nothing carries no stats
    expect(decode(encode({ ...step, done: false, episodeReturn: undefined, episodeLength: undefined })).ok).toBe(true);
  });

  it('a batch step reply whose row for one environment is wrong names that environment', () => {
    const m = batchStepReply(); // 3 environments, the second ended an episode
    const rows = (dones: number[], returns: number[], lengths: number[], rewards = [0.5, -1, 10]) =>
      encode({ ...m, dones: toWire(new Uint8Array(dones), [3]), episodeReturns: toWire(new Float64Array(returns), [3]), episodeLengths: toWire(new Int32Array(lengths), [3]), rewards: toWire(new Float64Array(rewards), [3]) });
    expect(decode(rows([0, 1, 0], [0, 12.5, 0], [0, 40, 0])).ok).toBe(true);
    expect(errorOf(decode(rows([0, 1, 1], [0, 12.5, 3], [0, 40, 0])))).toMatchObject({ code: 'schema', path: 'dones.2', message: expect.stringMatching(/environment 2: done with episodeLength 0/) });
    expect(errorOf(decode(rows([2, 1, 0], [0, 12.5, 0], [0, 40, 0])))).toMatchObject({ code: 'schema', path: 'dones.0', message: expect.stringMatching(/environment 0: done 2/) });
    expect(errorOf(decode(rows([0, 1, 0], [0, 12.5, 0], [7, 40, 0])))).toMatchObject({ code: 'schema', path: 'dones.0', message: expect.stringMatching(/episode stats without done/) });
    expect(errorOf(decode(rows([0, 1, 0], [0, 12.5, 0], [0, 40, 0], [0, 1, Number.NaN])))).toMatchObject({ code: 'schema', path: 'dones.2', message: expect.stringMatching(/non-finite/) });
    expect(errorOf(decode(encode({ ...m, rewards: toWire(new Float64Array(2), [2]) })))).toMatchObject({ code: 'bad_shape', path: 'rewards.shape' });
    // stats without done: a return alone is enough
    expect(errorOf(decode(rows([0, 1, 0], [3, 12.5, 0], [0, 40, 0])))).toMatchObject({ path: 'dones.0', message: expect.stringMatching(/environment 0: episode stats without done/) });
    // the shortest episode (1 step) is fine
    expect(decode(rows([0, 1, 0], [0, 12.5, 0], [0, 1, 0])).ok).toBe(true);
  });

  it('a batch step reply is read little-endian, as numpy writes it', () => {
    const m = batchStepReply();
    // 128 as a big-endian int32 is negative; this double's bytes read big-endian are a NaN
    const ret = new DataView(new ArrayBuffer(8));
    ret.setFloat64(0, 12.5, true);
    ret.setUint8(0, 0xff);
    ret.setUint8(1, 0xf8);
    const stats = { episodeReturns: toWire(new Float64Array([0, ret.getFloat64(0, true), 0]), [3]), episodeLengths: toWire(new Int32Array([0, 128, 0]), [3]) };
    const r = decode(encode({ ...m, ...stats }));
    expect(r.ok).toBe(true);
  });

  it('a batch step reply with rows that do not fit obs: each named once, and no row is read', () => {
    const m = batchStepReply(); // E = 3
    const issues = (x: object) => {
      const r = messageSchema.safeParse(x);
      return r.success ? [] : r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
    };
    // two rows of 2 where obs has 3 environments: named by row, and no per-environment check reads past them
    expect(issues({ ...m, rewards: toWire(new Float64Array(2), [2]), dones: toWire(new Uint8Array(2), [2]) })).toEqual([
      'rewards.shape: expected [3] (one per environment of obs), got [2]',
      'dones.shape: expected [3] (one per environment of obs), got [2]',
    ]);
    // a row of the right shape whose bytes are short is reported by its own schema alone
    const short = issues({ ...m, episodeLengths: { ...m.episodeLengths, data: new Uint8Array(8) } });
    expect(short).toHaveLength(1);
    expect(short[0]).toMatch(/^episodeLengths/);
    // obs without an environment axis is the only issue
    expect(issues({ ...m, obs: { ...m.obs, shape: [], data: new Uint8Array(1) } })).toEqual(['obs.shape: expected rank 4, got shape []']);
  });

  it('never throws on random, truncated or bit-flipped bytes', () => {
    let seed = 12345;
    const rand = (n: number): number => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return seed % n;
    };
    const valid = allSampleMessages().map((m) => encode(m));
    for (let i = 0; i < 5000; i++) {
      let bytes: Uint8Array;
      const src = valid[rand(valid.length)]!;
      switch (i % 3) {
        case 0:
          bytes = Uint8Array.from({ length: rand(64) }, () => rand(256));
          break;
        case 1:
          bytes = src.subarray(0, rand(src.length));
          break;
        default:
          bytes = Uint8Array.from(src);
          for (let k = 0; k < 3; k++) bytes[rand(bytes.length)] = rand(256);
      }
      const r = decode(bytes);
      expect(typeof r.ok).toBe('boolean');
    }
  });
});

describe('NdArray helpers', () => {
  it('toWire is a view; fromWire is a view when aligned and a copy otherwise', () => {
    const a = new Float32Array([1, 2, 3, 4, 5, 6]);
    const w = toWire(a, [2, 3]);
    expect(w).toMatchObject({ dtype: 'float32', shape: [2, 3] });
    expect(w.data.buffer).toBe(a.buffer);
    expect(fromWire(w).buffer).toBe(a.buffer);

    const bytes = new Uint8Array(4 * 6 + 1);
    bytes.set(w.data, 1);
    const unaligned = { dtype: 'float32' as const, shape: [2, 3], data: bytes.subarray(1) };
    const b = fromWire(unaligned);
    expect(Array.from(b)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(b.buffer).not.toBe(bytes.buffer);
  });

  it('keeps each dtype', () => {
    expect(fromWire(toWire(new Int32Array([-1, 2]), [2]))).toEqual(new Int32Array([-1, 2]));
    expect(fromWire(toWire(new Float64Array([0.1]), [1]))).toEqual(new Float64Array([0.1]));
    expect(fromWire(toWire(Buffer.from([9]), [1, 1])).constructor).toBe(Uint8Array);
  });

  it('toWire refuses a shape that does not fit', () => {
    expect(() => toWire(new Uint8Array(6), [4, 2])).toThrow(/shape/);
  });
});

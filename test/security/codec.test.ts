import { afterEach, describe, expect, it, vi } from 'vitest';
import { decode, encode } from '../../src/transport/codec.js';

/** Issue 10 item 4: a rejected frame costs nothing proportional to its size. */
afterEach(() => vi.restoreAllMocks());

describe('codec error path', () => {
  it('a large message followed by one byte is refused without serializing the decoded value', () => {
    const big = encode({ type: 'params', version: 1, tensors: [{ name: 'w', array: { dtype: 'float32', shape: [2 ** 21], data: new Uint8Array(2 ** 23) } }] });
    const frame = new Uint8Array(big.length + 1);
    frame.set(big);
    frame[big.length] = 0xc0;
    // msgpackr builds its "end of buffer not reached" error from JSON.stringify of the whole value
    const stringify = vi.spyOn(JSON, 'stringify');
    const r = decode(frame);
    expect(r).toEqual({ ok: false, error: { code: 'not_msgpack', message: 'not msgpack: 1 bytes after the message' } });
    expect(stringify).not.toHaveBeenCalled();
  });

  it('error texts stay short whatever the input', () => {
    const longType = encode({ type: 'env.close' });
    const r = decode(new Uint8Array([...longType.subarray(0, longType.length - 1), 0xd9, 0xff]));
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error.message.length).toBeLessThan(300);
  });
});

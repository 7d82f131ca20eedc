import { describe, expect, it } from 'vitest';
import { PeerTable } from '../../src/runtime/peerTable.js';
import type { MessageOf } from '../../src/transport/messages.js';

/** Issue 10 item 5: a socket is a peer only after a valid hello; only peers are heard and sent parameters. */
const TOKEN = 'ab'.repeat(24);
const hello = (id: string, extra: Partial<MessageOf<'hello'>> = {}): MessageOf<'hello'> => ({ type: 'hello', role: 'actor', id, pid: 1, token: TOKEN, columns: 2, ...extra });

function table(now = { t: 0 }) {
  return { peers: new PeerTable({ token: TOKEN, batch: 4, timeoutMs: 1000, now: () => now.t }), now };
}

describe('PeerTable', () => {
  it('knows no socket before its valid hello, and refuses hellos with a wrong token, role, id or column count', () => {
    const { peers } = table();
    const id = Buffer.from('actor-0.1.9f3a');
    expect(peers.get(id)).toBeUndefined();
    expect(peers.hello(id, hello('actor-0.1.9f3a', { token: 'cd'.repeat(24) }))).toEqual({ reason: 'bad_hello', detail: 'wrong run token' });
    expect(peers.hello(id, hello('actor-0.1.9f3a', { token: '' }))).toMatchObject({ reason: 'bad_hello' });
    expect(peers.hello(id, hello('actor-0.1.9f3a', { role: 'learner' }))).toMatchObject({ reason: 'bad_hello', detail: /only actors/ });
    expect(peers.hello(id, hello('someone-else'))).toMatchObject({ reason: 'bad_hello', detail: /differs from the socket's routing id/ });
    expect(peers.hello(id, hello('actor-0.1.9f3a', { columns: 3 }))).toMatchObject({ reason: 'bad_hello', detail: /3 columns per unroll do not divide the batch of 4/ });
    expect(peers.hello(id, hello('actor-0.1.9f3a', { columns: 8 }))).toMatchObject({ reason: 'bad_hello' });
    expect(peers.all()).toEqual([]);
    const r = peers.hello(id, hello('actor-0.1.9f3a'));
    expect(r).toMatchObject({ isNew: true, peer: { id: 'actor-0.1.9f3a', columns: 2 } });
    expect(peers.hello(id, hello('actor-0.1.9f3a'))).toMatchObject({ isNew: false });
    expect(peers.all().map((p) => p.id)).toEqual(['actor-0.1.9f3a']);
  });

  it('refuses repeated sequence numbers per kind, and forgets a peer silent past the timeout', () => {
    const { peers, now } = table();
    const id = Buffer.from('a');
    const r = peers.hello(id, hello('a'));
    if ('reason' in r) throw new Error(r.detail);
    expect(peers.sequence(r.peer, 'unroll', 0)).toBeUndefined();
    expect(peers.sequence(r.peer, 'unroll', 0)).toEqual({ reason: 'duplicate_seq', detail: 'unroll seq 0 after 0' });
    expect(peers.sequence(r.peer, 'heartbeat', 0)).toBeUndefined();
    expect(peers.sequence(r.peer, 'heartbeat', 5)).toBeUndefined();
    expect(peers.sequence(r.peer, 'heartbeat', 3)?.reason).toBe('duplicate_seq');
    now.t = 900;
    expect(peers.size).toBe(1);
    now.t = 5000;
    expect(peers.get(id)).toBeUndefined();
    expect(peers.all()).toEqual([]);
  });

  it('with CURVE (no token) any actor the ZAP handler let in may say hello', () => {
    const peers = new PeerTable({ token: undefined, batch: 4, timeoutMs: 1000 });
    expect(peers.hello(Buffer.from('a'), hello('a', { token: '' }))).toMatchObject({ isNew: true });
  });
});

import * as zmq from 'zeromq';
import { describe, expect, it } from 'vitest';
import { assertBindAllowed, clientCurveOptions, generateCurveKeys, serverCurveOptions } from '../../../src/runtime/curve.js';

async function receiveWithin(sock: zmq.Router, ms: number): Promise<Buffer[] | null> {
  sock.receiveTimeout = ms;
  return sock.receive().catch(() => null); // EAGAIN after the timeout
}

describe('CURVE', () => {
  it('a client without the keys cannot reach a learner that requires them; one with them can', async () => {
    const keys = generateCurveKeys();
    const server = new zmq.Router(serverCurveOptions(keys));
    await server.bind('tcp://127.0.0.1:*');
    const endpoint = server.lastEndpoint!;

    const stranger = new zmq.Dealer({ sendTimeout: 500 });
    stranger.connect(endpoint);
    await stranger.send('hello').catch(() => {}); // queued locally: the handshake never completes
    expect(await receiveWithin(server, 1000)).toBeNull();

    const wrongKeys = new zmq.Dealer(clientCurveOptions(generateCurveKeys()));
    wrongKeys.connect(endpoint);
    await wrongKeys.send('hello').catch(() => {});
    expect(await receiveWithin(server, 1000)).toBeNull();

    const actor = new zmq.Dealer({ routingId: 'actor', ...clientCurveOptions(keys) });
    actor.connect(endpoint);
    await actor.send('hello');
    const got = await receiveWithin(server, 5000);
    expect(got?.map((f) => f.toString())).toEqual(['actor', 'hello']);
    for (const s of [stranger, wrongKeys, actor, server]) s.close();
  });

  it('refuses to bind a learner beyond loopback without keys', () => {
    expect(() => assertBindAllowed('tcp://0.0.0.0:5555', undefined)).toThrow(/without CURVE keys: run cpc-lab keygen/);
    expect(() => assertBindAllowed('tcp://127.0.0.1:5555', undefined)).not.toThrow();
    expect(() => assertBindAllowed('tcp://0.0.0.0:5555', generateCurveKeys())).not.toThrow();
  });
});

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as zmq from 'zeromq';
import { describe, expect, it } from 'vitest';
import {
  addCurveClient,
  allowedClientKeys,
  assertBindAllowed,
  clientCurveOptions,
  generateCurveKeys,
  readCurveKeys,
  serverCurveOptions,
  startZapHandler,
  writeCurveKeys,
  z85Encode,
} from '../../src/runtime/curve.js';
import { isLoopbackEndpoint } from '../../src/transport/endpoint.js';

/** Issue 10 item 11: only listed client keys get in; no exposed bind without keys; key files private and never overwritten. */
async function receiveWithin(sock: zmq.Router, ms: number): Promise<string[] | null> {
  sock.receiveTimeout = ms;
  return sock.receive().then((f) => f.map((x) => x.toString()), () => null);
}

const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'cpc-lab-keys-'));

describe('CURVE with a ZAP allow-list', () => {
  it('a fresh client key pair that knows the server key is refused; listed clients, added ones included, get in', async () => {
    const dir = tmp();
    const serverFile = path.join(dir, 'learner.json');
    writeCurveKeys(serverFile);
    addCurveClient(serverFile, path.join(dir, 'actor2.json'));
    const keys = readCurveKeys(serverFile);
    const actor2 = readCurveKeys(path.join(dir, 'actor2.json'));
    expect(actor2.server).toEqual({ publicKey: keys.server.publicKey });
    expect(allowedClientKeys(keys)).toEqual([keys.client.publicKey, actor2.client.publicKey]);

    const context = new zmq.Context();
    const logs: string[] = [];
    const zap = await startZapHandler(allowedClientKeys(keys), (l) => logs.push(l), context);
    const server = new zmq.Router({ context, ...serverCurveOptions(keys) });
    await server.bind('tcp://127.0.0.1:*');

    // the red team's attack: its own key pair plus the server's public key
    const own = zmq.curveKeyPair();
    const intruder = new zmq.Dealer({ context, routingId: 'intruder', sendTimeout: 500, curveServerKey: keys.server.publicKey, curvePublicKey: own.publicKey, curveSecretKey: own.secretKey });
    intruder.connect(server.lastEndpoint!);
    await intruder.send('hello').catch(() => {});
    expect(await receiveWithin(server, 1500)).toBeNull();
    expect(logs.join('\n')).toMatch(/refused a CURVE client .*not among the allowed ones/);

    for (const [name, k] of [['actor1', keys], ['actor2', actor2]] as const) {
      const actor = new zmq.Dealer({ context, routingId: name, ...clientCurveOptions(k) });
      actor.connect(server.lastEndpoint!);
      await actor.send('hello');
      expect(await receiveWithin(server, 10_000)).toEqual([name, 'hello']);
      actor.close();
    }
    intruder.close();
    server.close();
    zap.close();
  });

  it('key files are created 0600 and never silently overwritten', () => {
    const dir = tmp();
    const file = path.join(dir, 'keys.json');
    writeCurveKeys(file);
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    const before = fs.readFileSync(file, 'utf8');
    expect(() => writeCurveKeys(file)).toThrow(/already exists; not overwriting/);
    expect(() => addCurveClient(file, file)).toThrow(/already exists/);
    expect(fs.readFileSync(file, 'utf8')).toBe(before);
    addCurveClient(file, path.join(dir, 'c.json'));
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    expect(fs.statSync(path.join(dir, 'c.json')).mode & 0o777).toBe(0o600);
    // an actor's file cannot serve as the learner's
    expect(() => serverCurveOptions(readCurveKeys(path.join(dir, 'c.json')))).toThrow(/no server secret key/);
  });

  it('z85 matches ZeroMQ (a key pair round trip through the handshake above relies on it)', () => {
    expect(z85Encode(new Uint8Array([0x86, 0x4f, 0xd2, 0x6f, 0xb5, 0x59, 0xf7, 0x5b]))).toBe('HelloWorld');
  });
});

describe('no bind other machines reach without keys, whatever the transport', () => {
  it.each(['tcp://0.0.0.0:5555', 'tcp://*:5555', 'ws://0.0.0.0:5555', 'wss://10.0.0.5:5555/x', 'tcp://eth0:5555', 'udp://192.168.1.2:5555', 'tcp://[::]:5555', 'tcp://128.0.0.1:1', 'garbage'])('%s needs keys', (e) => {
    expect(isLoopbackEndpoint(e)).toBe(false);
    expect(() => assertBindAllowed(e, undefined)).toThrow(/without CURVE keys/);
    expect(() => assertBindAllowed(e, generateCurveKeys())).not.toThrow();
  });
  it.each(['tcp://127.0.0.1:*', 'tcp://localhost:5555', 'tcp://[::1]:5555', 'ws://127.0.0.1:5555/path', 'ipc:///tmp/x', 'inproc://x'])('%s is local', (e) => {
    expect(() => assertBindAllowed(e, undefined)).not.toThrow();
  });
});

import fs from 'node:fs';
import path from 'node:path';
import { Packr } from 'msgpackr';
import { afterAll, describe, expect, it } from 'vitest';
import { Request } from 'zeromq';
import { fakeDmlabPath, makeDmlabEnv } from '../../envs/dmlab/index.js';
import { makeEnv } from '../../envs/index.js';
import { decode, encode } from '../../src/transport/codec.js';
import { privateEndpoint } from '../../src/transport/endpoint.js';
import type { Environment } from '../../envs/types.js';
import { spawnTsEnvServer } from '../../src/transport/envProcess.js';
import { serveEnv } from '../../src/transport/envServer.js';
import { PROTOCOL_VERSION } from '../../src/transport/messages.js';

/** Issue 10 item 12: env servers listen where only their user reaches them, bound sizes, and always answer decodably. */
const open: Environment[] = [];
afterAll(async () => {
  await Promise.all(open.map((e) => e.close()));
});

function ipcFolder(endpoint: string): string {
  expect(endpoint).toMatch(/^ipc:\/\//);
  return path.dirname(endpoint.slice('ipc://'.length));
}

describe('env servers', () => {
  it('the TypeScript env server of an actor listens on ipc:// in a folder only its user can enter', async () => {
    const e = await spawnTsEnvServer('mock:memory');
    open.push(e);
    const dir = ipcFolder(e.server.ready.endpoint);
    const st = fs.statSync(dir);
    expect(st.mode & 0o777).toBe(0o700);
    expect(st.uid).toBe(process.getuid!());
    expect((await e.reset(1)).length).toBe(24 * 24 * 3);
  });

  it('the DeepMind Lab bridge too, and a frame far beyond its limit neither grows it nor stops it', async () => {
    const e = await makeDmlabEnv('rooms_watermaze', { python: '/usr/bin/python3', dmlabPath: fakeDmlabPath(), width: 8, height: 4, timeoutMs: 10_000, startupTimeoutMs: 20_000 });
    open.push(e);
    const endpoint = e.vector.server.ready.endpoint;
    expect(fs.statSync(ipcFolder(endpoint)).mode & 0o777).toBe(0o700);
    const flood = new Request({ linger: 0, sendTimeout: 5000 });
    flood.connect(endpoint);
    await flood.send(new Uint8Array(64 * 2 ** 20));
    flood.close();
    // still serving, and it never buffered the 64 MB (ZeroMQ's maximum message size cut the peer off)
    expect((await e.reset(3)).length).toBe(4 * 8 * 3);
    const hwm = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${e.vector.server.child.pid}/status`, 'utf8'))!;
    expect(Number(hwm[1])).toBeLessThan(48 * 1024);
  });

  it('the error reply to a request with a long unknown type still decodes', async () => {
    const server = await serveEnv(await makeEnv('mock:memory'), privateEndpoint('t'), { log: () => {} });
    const sock = new Request({ linger: 0, receiveTimeout: 5000 });
    sock.connect(server.endpoint);
    await sock.send(new Packr({ useRecords: false }).pack({ v: PROTOCOL_VERSION, type: 'x'.repeat(60_000) }));
    const r = decode((await sock.receive())[0]!);
    expect(r).toMatchObject({ ok: true, msg: { type: 'error', code: 'unknown_type' } });
    if (r.ok && r.msg.type === 'error') expect(r.msg.requestType).toHaveLength(256);
    await sock.send(encode({ type: 'env.spec' }));
    expect(decode((await sock.receive())[0]!)).toMatchObject({ ok: true, msg: { type: 'env.spec.reply' } });
    sock.close();
    await server.close();
  });
});

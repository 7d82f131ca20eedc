import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/**
 * Whether a ZeroMQ endpoint is reachable from this machine only: `ipc://` and `inproc://`, or a
 * network transport (tcp, ws, wss, udp, ...) bound to a loopback address. Everything else,
 * wildcards (`*`, `0.0.0.0`) and interface names included, is reachable from other machines.
 */
export function isLoopbackEndpoint(endpoint: string): boolean {
  const m = /^([a-z0-9+]+):\/\/(.*)$/i.exec(endpoint);
  if (!m) return false;
  const transport = m[1]!.toLowerCase();
  if (transport === 'ipc' || transport === 'inproc') return true;
  // host[:port][/path]; an IPv6 host is bracketed
  const host = /^(\[[^\]]*\]|[^:/]*)/.exec(m[2]!)![1]!.toLowerCase();
  return host === 'localhost' || host === '[::1]' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

let privateDir: string | undefined;
let privateCount = 0;

/**
 * A fresh `ipc://` endpoint in a folder only this user can enter (mode 0700, made once per process
 * and removed at exit): env servers listen there, so no other user's process can send them
 * `env.close` or `env.reset`.
 */
export function privateEndpoint(name: string): string {
  if (!privateDir) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cpc-lab-')); // mkdtemp creates it 0700
    process.once('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
    privateDir = dir;
  }
  return `ipc://${path.join(privateDir, `${name}-${privateCount++}`)}`;
}

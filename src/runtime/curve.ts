import fs from 'node:fs';
import * as zmq from 'zeromq';
import { z } from 'zod';
import { isLoopbackEndpoint } from '../transport/endpoint.js';

/**
 * ZeroMQ CURVE keys for learners reachable from other machines. The learner's file holds the
 * server key pair, a client key pair and the public keys of further clients (`keygen
 * --add-client`); an actor's file holds the server's public key and its own client pair. The
 * learner's ZAP handler admits only the listed client keys. Key files are created mode 0600 and
 * never silently replaced.
 */
const z85 = z.string().length(40);
const keyPair = z.strictObject({ publicKey: z85, secretKey: z85 });
export const curveKeysSchema = z.strictObject({
  server: z.strictObject({ publicKey: z85, secretKey: z85.optional() }),
  client: keyPair,
  /** Public keys of further clients the learner admits. */
  clients: z.array(z85).optional(),
});
export type CurveKeys = z.infer<typeof curveKeysSchema>;

export function generateCurveKeys(): CurveKeys {
  return { server: zmq.curveKeyPair(), client: zmq.curveKeyPair() };
}

/** Writes `text` to a new file of mode 0600 (set at creation, never readable by others in between). */
function writePrivateFile(file: string, text: string): void {
  let fd: number;
  try {
    fd = fs.openSync(file, 'wx', 0o600);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') throw new Error(`${file} already exists; not overwriting it (remove it, or choose another --out)`);
    throw e;
  }
  try {
    fs.writeSync(fd, text);
  } finally {
    fs.closeSync(fd);
  }
}

export function writeCurveKeys(file: string, keys: CurveKeys = generateCurveKeys()): void {
  writePrivateFile(file, JSON.stringify(keys, null, 2) + '\n');
}

/**
 * A key file for one more actor machine: a fresh client pair and the server's public key, written
 * to `outFile`; its public key is added to the learner's file `serverFile` (replaced atomically,
 * still 0600).
 */
export function addCurveClient(serverFile: string, outFile: string): void {
  const keys = readCurveKeys(serverFile);
  if (!keys.server.secretKey) throw new Error(`${serverFile} is an actor's key file (no server secret key); give the learner's`);
  const client = zmq.curveKeyPair();
  writeCurveKeys(outFile, { server: { publicKey: keys.server.publicKey }, client });
  const tmp = `${serverFile}.${process.pid}.tmp`;
  writePrivateFile(tmp, JSON.stringify({ ...keys, clients: [...(keys.clients ?? []), client.publicKey] }, null, 2) + '\n');
  fs.renameSync(tmp, serverFile);
}

export function readCurveKeys(file: string): CurveKeys {
  let raw: unknown;
  try {
    raw = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (err) {
    throw new Error(`cannot read CURVE keys from ${file}: ${(err as Error).message} (create them with: cpc-lab keygen --out ${file})`);
  }
  const parsed = curveKeysSchema.safeParse(raw);
  if (!parsed.success) throw new Error(`${file} is not a cpc-lab CURVE key file (create one with: cpc-lab keygen --out ${file})`);
  return parsed.data;
}

/** Socket options of the learner's (server) side. */
export function serverCurveOptions(keys: CurveKeys) {
  if (!keys.server.secretKey) throw new Error('these CURVE keys are an actor\'s (no server secret key): the learner needs the file keygen wrote');
  return { curveServer: true, curvePublicKey: keys.server.publicKey, curveSecretKey: keys.server.secretKey };
}

/** Socket options of an actor's (client) side. */
export function clientCurveOptions(keys: CurveKeys) {
  return { curveServerKey: keys.server.publicKey, curvePublicKey: keys.client.publicKey, curveSecretKey: keys.client.secretKey };
}

/** Client public keys the learner admits. */
export function allowedClientKeys(keys: CurveKeys): string[] {
  return [keys.client.publicKey, ...(keys.clients ?? [])];
}

/** Binding where other machines reach the learner requires keys, whatever the transport. */
export function assertBindAllowed(endpoint: string, keys: CurveKeys | undefined): void {
  if (!isLoopbackEndpoint(endpoint) && !keys) {
    throw new Error(`refusing to bind the learner to ${endpoint} without CURVE keys: run cpc-lab keygen --out keys.json and pass --curve-keys keys.json`);
  }
}

const ZAP_ENDPOINT = 'inproc://zeromq.zap.01';

/**
 * ZeroMQ's authentication handler (ZAP, RFC 27) for CURVE sockets of `context`: admits a client
 * only if its public key is in `allowed`. Without it any client key pair completes the handshake.
 */
export async function startZapHandler(allowed: string[], log: (line: string) => void, context: zmq.Context = zmq.context): Promise<{ close(): void }> {
  const sock = new zmq.Reply({ context });
  await sock.bind(ZAP_ENDPOINT);
  const admitted = new Set(allowed);
  let refused = 0;
  void (async () => {
    for (;;) {
      let frames: Buffer[];
      try {
        frames = await sock.receive();
      } catch {
        return; // closed
      }
      const [version, requestId, , address, , mechanism, credential] = frames;
      const key = mechanism?.toString() === 'CURVE' && credential?.length === 32 ? z85Encode(credential) : '';
      const ok = admitted.has(key);
      if (!ok && refused++ < 20) log(`learner: refused a CURVE client from ${address?.toString() ?? '?'}: its public key is not among the allowed ones (cpc-lab keygen --add-client)`);
      await sock.send([version ?? '1.0', requestId ?? '', ok ? '200' : '400', ok ? 'OK' : 'client key not allowed', ok ? key : '', '']).catch(() => {});
    }
  })();
  return { close: () => sock.close() };
}

const Z85 = '0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#';

/** Z85 text of bytes whose length is a multiple of 4 (ZeroMQ's key encoding). */
export function z85Encode(bytes: Uint8Array): string {
  let out = '';
  for (let i = 0; i < bytes.length; i += 4) {
    let v = ((bytes[i]! << 24) | (bytes[i + 1]! << 16) | (bytes[i + 2]! << 8) | bytes[i + 3]!) >>> 0;
    let chunk = '';
    for (let j = 0; j < 5; j++) {
      chunk = Z85[v % 85] + chunk;
      v = Math.floor(v / 85);
    }
    out += chunk;
  }
  return out;
}

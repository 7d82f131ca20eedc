import fs from 'node:fs';
import * as zmq from 'zeromq';
import { z } from 'zod';
import { writeFileAtomic } from '../run.js';

/**
 * ZeroMQ CURVE keys for learners reachable from other machines. The learner holds the server key
 * pair; actors need the server's public key and a client key pair. Whoever lacks the file can
 * neither complete the handshake nor send or receive anything, so keep it secret (mode 0600).
 */
const z85 = z.string().length(40);
const keyPair = z.strictObject({ publicKey: z85, secretKey: z85 });
export const curveKeysSchema = z.strictObject({ server: keyPair, client: keyPair });
export type CurveKeys = z.infer<typeof curveKeysSchema>;

export function generateCurveKeys(): CurveKeys {
  return { server: zmq.curveKeyPair(), client: zmq.curveKeyPair() };
}

export function writeCurveKeys(file: string, keys: CurveKeys = generateCurveKeys()): void {
  writeFileAtomic(file, JSON.stringify(keys, null, 2) + '\n');
  fs.chmodSync(file, 0o600);
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
  return { curveServer: true, curvePublicKey: keys.server.publicKey, curveSecretKey: keys.server.secretKey };
}

/** Socket options of an actor's (client) side. */
export function clientCurveOptions(keys: CurveKeys) {
  return { curveServerKey: keys.server.publicKey, curvePublicKey: keys.client.publicKey, curveSecretKey: keys.client.secretKey };
}

/** Binding beyond loopback exposes the learner: it requires keys. */
export function assertBindAllowed(endpoint: string, keys: CurveKeys | undefined): void {
  const m = /^tcp:\/\/([^:/]+|\[[^\]]+\]):/.exec(endpoint);
  const loopback = !m || ['127.0.0.1', 'localhost', '[::1]'].includes(m[1]);
  if (!loopback && !keys) {
    throw new Error(`refusing to bind the learner to ${endpoint} without CURVE keys: run cpc-lab keygen --out keys.json and pass --curve-keys keys.json`);
  }
}

import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

/** The file holding a run's token; actors outside the supervisor read it (`cpc-lab actor --run-token`). */
export function runTokenFile(runDir: string): string {
  return path.join(runDir, 'run-token');
}

/**
 * The run's secret token, which an actor's hello must carry when the learner has no CURVE keys:
 * read from `<runDir>/run-token`, or created there (mode 0600 from the start) by the first learner,
 * so a restarted learner accepts the actors that are still running.
 */
export function readOrCreateRunToken(runDir: string): string {
  const file = runTokenFile(runDir);
  try {
    const fd = fs.openSync(file, 'wx', 0o600);
    try {
      fs.writeSync(fd, randomBytes(24).toString('hex'));
    } finally {
      fs.closeSync(fd);
    }
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
  }
  return readRunToken(file);
}

export function readRunToken(file: string): string {
  let token: string;
  try {
    token = fs.readFileSync(file, 'utf8').trim();
  } catch (e) {
    throw new Error(`cannot read the run token ${file}: ${(e as Error).message} (the learner writes it into its run folder)`);
  }
  if (!/^[0-9a-f]{48}$/.test(token)) throw new Error(`${file} is not a cpc-lab run token (48 hex digits)`);
  return token;
}

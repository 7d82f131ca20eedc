import { fork } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

/**
 * A child whose supervisor is gone (IPC channel and output pipes closed) keeps running to the end
 * of its work: its reports and log lines are dropped instead of killing it with EPIPE.
 * (The process-level replay, kill -9 of a real supervisor and search, is orphans.learning.test.ts.)
 */
describe('orphans', () => {
  it('reports and logs after the supervisor is gone do not kill the child before its checkpoint', async () => {
    const marker = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'cpc-lab-orphan-')), 'checkpoint');
    const child = fork(path.join(import.meta.dirname, 'fixtures/orphanChild.ts'), [marker], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'pipe', 'pipe', 'ipc'] });
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    await new Promise((r) => child.once('message', r));
    // as if the supervisor died: its ends of the output pipes and of the channel close
    child.stdout!.destroy();
    child.stderr!.destroy();
    child.disconnect();
    expect(await exited).toBe(0);
    expect(fs.readFileSync(marker, 'utf8')).toBe('checkpoint');
  });
});

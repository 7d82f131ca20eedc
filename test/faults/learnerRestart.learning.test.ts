import { describe, expect, it } from 'vitest';
import { superviseTraining } from '../../src/runtime/supervisor.js';
import { supervisedRun, updateRecords } from './helpers.js';

/**
 * Issue 10 item 7: a learner killed after it checkpointed update N and before update N+1 republishes
 * version N, which the actors already played. A sync run must still finish (the actors say hello
 * again on reconnection and play whatever parameters arrive next).
 */
describe('learner restart between checkpoint N and update N+1', () => {
  it('the sync run finishes and trains every batch once', async () => {
    // a checkpoint after every update: the kill falls right after one
    const { config, runDir, lines, opts, onSpawnHooks } = supervisedRun({ mode: 'sync', checkpointEvery: 1e-3 });
    let killedAfter = 0;
    onSpawnHooks.push((name, child) => {
      if (name !== 'learner' || killedAfter) return;
      child.on('message', (m: { type?: string; updates?: number }) => {
        // 'updated' is reported after the update's checkpoint, before the next batch is taken
        if (m.type === 'updated' && m.updates === 3 && !killedAfter) {
          killedAfter = 3;
          child.kill('SIGKILL');
        }
      });
    });
    const finished = await superviseTraining(config, opts);
    expect(killedAfter).toBe(3);
    const log = lines.join('\n');
    expect(log).toMatch(/supervisor: learner exited \(SIGKILL\); restart 1/);
    expect(log).toMatch(/resumed from the checkpoint at 480 frames \(update 3/);
    expect(finished.frames).toBe(config.frames);
    // after the restart the frames continue from the checkpoint, one batch per update
    const frames = updateRecords(runDir).map((r) => r.frames);
    expect(frames).toEqual(Array.from({ length: frames.length }, (_, i) => (i + 1) * 160));
    expect(updateRecords(runDir).every((r) => r.policyLag === 0)).toBe(true);
  });
});

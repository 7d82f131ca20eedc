import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { listCheckpoints, loadLatestCheckpoint } from '../../../src/checkpoint.js';
import { lockStudy, runSearch, type SearchEvent } from '../../../src/experiments/search.js';
import { truncateMetrics } from '../../../src/metrics.js';
import { readUpdates } from '../../helpers/metrics.js';
import type { SearchConfigInput } from '../../../src/experiments/study.js';
import { tmp } from './fixtures.js';

const BATCH_FRAMES = 4 * 10 * 4;
const UPDATES = 8;

/** Update frames of a run, in the order metrics.jsonl holds them. */
const updateFrames = (runDir: string): number[] => readUpdates(runDir).map((r) => r.frames);

describe('search', () => {
  it('truncateMetrics drops records after the checkpoint and a torn last line', () => {
    const file = path.join(tmp(), 'metrics.jsonl');
    fs.writeFileSync(file, ['{"kind":"update","frames":160}', '{"kind":"episode","frames":320}', '{"kind":"update","frames":320}', '{"kind":"upd'].join('\n'));
    truncateMetrics(file, 160);
    expect(fs.readFileSync(file, 'utf8')).toBe('{"kind":"update","frames":160}\n');
  });

  it('stopped mid-run, a run checkpoints where it stopped and a restarted search resumes it from there', async () => {
    const out = tmp('cpc-lab-search-');
    const config: SearchConfigInput = { levels: ['mock:memory'], agents: ['baseline'], trials: 1, out, train: { frames: UPDATES * BATCH_FRAMES, batch: 4, unroll: 10, backend: 'wasm' } };
    const stop = new AbortController();
    const ends: SearchEvent[] = [];
    const first = await runSearch(config, {
      log: () => {},
      signal: stop.signal,
      onEvent: (e) => {
        if (e.type === 'update' && e.frames >= 2 * BATCH_FRAMES) stop.abort();
        if (e.type === 'end') ends.push(e);
      },
    });
    const key = 'mock-memory/baseline-t00';
    expect(first.unfinished).toEqual([key]);
    expect(fs.existsSync(path.join(out, 'search.lock'))).toBe(false);
    const outcome = ends[0]!.type === 'end' ? ends[0]!.outcome : undefined;
    expect(outcome?.status).toBe('stopped');
    const stoppedAt = loadLatestCheckpoint(path.join(out, key))!.frames;
    expect(outcome).toMatchObject({ frames: stoppedAt });
    expect(stoppedAt).toBeLessThan(UPDATES * BATCH_FRAMES);
    const second = await runSearch(config, { log: () => {} });
    expect(second).toMatchObject({ resumed: [key], finished: [key], failed: [], unfinished: [] });
    expect(updateFrames(path.join(out, key))).toEqual(Array.from({ length: UPDATES }, (_, i) => (i + 1) * BATCH_FRAMES));
  });

  it('stopped while its runs are still starting up, no run counts as failed and a restarted search trains them all', async () => {
    const out = tmp('cpc-lab-search-');
    const config: SearchConfigInput = { levels: ['mock:memory'], agents: ['baseline'], trials: 2, parallel: 2, out, train: { frames: 2 * BATCH_FRAMES, batch: 4, unroll: 10, backend: 'wasm' } };
    const stop = new AbortController();
    let started = 0;
    // the SIGINT reaches both workers before they can have installed a handler for it
    const first = await runSearch(config, { log: () => {}, signal: stop.signal, onEvent: (e) => e.type === 'start' && ++started === 2 && stop.abort() });
    expect(first.failed).toEqual([]);
    expect(first.unfinished.sort()).toEqual(['mock-memory/baseline-t00', 'mock-memory/baseline-t01']);
    const second = await runSearch(config, { log: () => {} });
    expect(second).toMatchObject({ failed: [], unfinished: [] });
    expect(second.finished.sort()).toEqual(['mock-memory/baseline-t00', 'mock-memory/baseline-t01']);
  });

  it("each of the runs going at once gets its share of the cores: with the default --learner-threads auto, a run of a --parallel P search learns in cores / P threads", async () => {
    const train = { frames: BATCH_FRAMES, batch: 4, unroll: 10, backend: 'wasm' } as const;
    const threadsOf = (runDir: string) => Number(/learner: (\d+) worker threads?/.exec(fs.readFileSync(path.join(runDir, 'train.log'), 'utf8'))?.[1]);
    const cores = os.availableParallelism();
    const alone = tmp('cpc-lab-search-');
    await runSearch({ levels: ['mock:memory'], agents: ['baseline'], trials: 1, out: alone, train }, { log: () => {} });
    expect(threadsOf(path.join(alone, 'mock-memory/baseline-t00'))).toBe(Math.min(4, cores));
    const shared = tmp('cpc-lab-search-');
    await runSearch({ levels: ['mock:memory'], agents: ['baseline'], trials: 2, parallel: 2, out: shared, train }, { log: () => {} });
    for (const run of ['baseline-t00', 'baseline-t01']) expect(threadsOf(path.join(shared, 'mock-memory', run))).toBe(Math.min(4, Math.max(1, Math.floor(cores / 2))));
  });

  it('refuses to run two searches on one study folder at once, and takes over the lock of a dead one', async () => {
    const out = tmp('cpc-lab-search-');
    const release = lockStudy(out);
    await expect(runSearch({ levels: ['mock:memory'], trials: 1, out, train: { frames: BATCH_FRAMES, batch: 4, unroll: 10 } }, { log: () => {} })).rejects.toThrow(
      new RegExp(`another search \\(pid ${process.pid}\\) is running`),
    );
    release();
    fs.writeFileSync(path.join(out, 'search.lock'), '999999999'); // no such process
    lockStudy(out)();
    expect(fs.existsSync(path.join(out, 'search.lock'))).toBe(false);
  });

  it('interrupted mid-way (one run killed -9, the rest stopped) and restarted, finishes every run exactly once', async () => {
    const out = tmp('cpc-lab-search-');
    const config: SearchConfigInput = {
      levels: ['mock:memory'],
      trials: 2,
      parallel: 2,
      out,
      // a checkpoint after every update, so the killed run has one to resume from
      train: { frames: UPDATES * BATCH_FRAMES, batch: 4, unroll: 10, cpcSteps: 3, backend: 'wasm', checkpointEvery: 1e-3 },
    };
    const pids = new Map<string, number>();
    const titles = new Map<string, string>();
    const stop = new AbortController();
    let killed = '';
    const first = await runSearch(config, {
      log: () => {},
      signal: stop.signal,
      onEvent: (e) => {
        if (e.type === 'start') pids.set(e.run.key, e.pid);
        // what ps and top show for a run's process
        if (e.type === 'update' && !titles.has(e.run.key)) titles.set(e.run.key, fs.readFileSync(`/proc/${pids.get(e.run.key)}/cmdline`, 'utf8').replace(/\0+$/, ''));
        // mid-way through the second trial: crash one run, stop the search
        if (e.type === 'update' && e.run.trial === 1 && e.frames >= 3 * BATCH_FRAMES && !killed) {
          killed = e.run.key;
          process.kill(pids.get(killed)!, 'SIGKILL');
          stop.abort();
        }
      },
    });
    const keys = first.runs.map((r) => r.key);
    expect(keys).toEqual(['mock-memory/baseline-t00', 'mock-memory/cpc-t00', 'mock-memory/baseline-t01', 'mock-memory/cpc-t01']);
    for (const [key, title] of titles) expect(title).toBe(`cpc-lab run ${key}`);
    expect(titles.size).toBeGreaterThanOrEqual(2);
    // which runs finished before the interruption depends on timing; a trial-1 run only starts once one has
    expect(first.failed.map((f) => f.key)).toEqual([killed]);
    expect(first.failed[0]!.error).toMatch(/killed by SIGKILL/);
    expect(first.finished.length).toBeGreaterThanOrEqual(1);
    expect([...first.finished, killed, ...first.unfinished].sort()).toEqual([...keys].sort());
    const checkpointed = new Map(keys.map((k) => [k, loadLatestCheckpoint(path.join(out, k))?.frames ?? 0]));
    for (const k of first.unfinished) expect(checkpointed.get(k)).toBeLessThan(UPDATES * BATCH_FRAMES);
    expect(checkpointed.get(killed)).toBeGreaterThan(0);
    expect(checkpointed.get(killed)).toBeLessThan(UPDATES * BATCH_FRAMES);

    const restarted: SearchEvent[] = [];
    const second = await runSearch(config, { log: () => {}, onEvent: (e) => restarted.push(e) });
    const rest = keys.filter((k) => !first.finished.includes(k));
    expect(second.skipped.sort()).toEqual([...first.finished].sort());
    expect(second.finished.sort()).toEqual(rest.sort());
    expect(second.failed).toEqual([]);
    expect(second.resumed).toContain(killed);
    // each run left over starts again from its checkpoint (or from scratch if it had none)
    for (const k of rest) expect(restarted.find((e) => e.type === 'start' && e.run.key === k)).toMatchObject({ resumeFrom: checkpointed.get(k) });
    expect(restarted.filter((e) => e.type === 'start').map((e) => e.run.key).sort()).toEqual(rest.sort());

    // every run trained once: each update exactly once, in order, up to the target
    const expected = Array.from({ length: UPDATES }, (_, i) => (i + 1) * BATCH_FRAMES);
    for (const key of keys) {
      expect(updateFrames(path.join(out, key)), key).toEqual(expected);
      expect(loadLatestCheckpoint(path.join(out, key))!.frames).toBe(UPDATES * BATCH_FRAMES);
    }

    // a third search has nothing left to do
    const third = await runSearch(config, { log: () => {} });
    expect(third.skipped).toHaveLength(4);
    expect(third.finished).toEqual([]);
  }, 600_000); // processes killed and restarted: as the supervisor tests, not bound to an idle machine
});

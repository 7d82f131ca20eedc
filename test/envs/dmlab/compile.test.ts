/**
 * Map compiles through the DeepMind Lab bridge's level cache, against the fake `deepmind_lab`, whose
 * compiles wait at a gate (`CPC_LAB_FAKE_COMPILE_GATE`) until the test opens it: the test holds a
 * compile as long as it likes and sees, from the gate's log, how many ran at once.
 */
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { fakeDmlabPath, makeDmlabEnv, makeDmlabVectorEnv, type DmlabEnv, type DmlabOptions } from '../../../envs/dmlab/index.js';

const dir = mkdtempSync(join(tmpdir(), 'cpc-dmlab-compile-'));
const base: DmlabOptions = { python: '/usr/bin/python3', dmlabPath: fakeDmlabPath(), startupTimeoutMs: 30_000 };
const open: { close(): Promise<void> }[] = [];
afterAll(async () => {
  await Promise.all(open.map((e) => e.close()));
  rmSync(dir, { recursive: true, force: true });
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** Waits for `cond` (an event seen by polling; the test's own timeout bounds it). */
async function until(cond: () => boolean): Promise<void> {
  while (!cond()) await sleep(20);
}
const gateLog = (gate: string): string[] => (existsSync(join(gate, 'log')) ? readFileSync(join(gate, 'log'), 'utf8').trim().split('\n') : []);

/** Starts bridges whose fake compiles wait at `gate` (the variable reaches them through their environment). */
async function bridges(n: number, gate: string, opts: DmlabOptions): Promise<DmlabEnv[]> {
  process.env.CPC_LAB_FAKE_COMPILE_GATE = gate;
  try {
    const envs = await Promise.all(Array.from({ length: n }, () => makeDmlabEnv('explore_goal_locations_small', { ...base, ...opts })));
    open.push(...envs);
    return envs;
  } finally {
    delete process.env.CPC_LAB_FAKE_COMPILE_GATE;
  }
}

describe('map compiles', () => {
  it('8 bridges whose episodes start together compile one map at a time per cache, the others waiting with a note, and no request times out', async () => {
    const gate = mkdtempSync(join(dir, 'gate-'));
    const cache = join(dir, 'cache-8');
    const logs: string[] = [];
    const timeoutMs = 1500;
    const envs = await bridges(8, gate, { levelCacheDir: cache, timeoutMs, notes: (l) => logs.push(l) });
    const resets = envs.map((e, i) => e.reset(100 + i));
    for (const r of resets) r.catch(() => {}); // awaited below; a rejection must not go unhandled meanwhile

    try {
      // each bridge either starts compiling or waits for the cache's compile lock, saying so: one compiles
      const waiting = () => logs.filter((l) => /another bridge is compiling a map .* waiting for it/.test(l)).length;
      await until(() => gateLog(gate).length + waiting() >= 8);
      expect([gateLog(gate).length, waiting()]).toEqual([1, 7]);
      expect(logs.every((l) => l.startsWith('[dmlab-bridge'))).toBe(true); // notes: the bridge's own lines only
      // hold that compile well past the request deadline: the deadline does not count compiles and waits for one
      await sleep(3 * timeoutMs);
      expect(gateLog(gate)).toHaveLength(1);
    } finally {
      writeFileSync(join(gate, 'release'), '');
    }

    const obs = await Promise.all(resets);
    for (const o of obs) expect(o.length).toBe(72 * 96 * 3);
    // compiles never overlapped: every start is followed by its own end
    const lines = gateLog(gate);
    expect(lines).toHaveLength(16);
    for (let i = 0; i < 16; i += 2) expect(lines[i + 1]).toBe(lines[i]!.replace(/^start/, 'end'));
    expect(new Set(lines.map((l) => l.split(' ')[2])).size).toBe(8);
    expect(readdirSync(cache).filter((f) => !f.startsWith('.'))).toHaveLength(8);
    await Promise.all(envs.map((e) => e.close()));
  });

  it('one bridge hosting 4 levels compiles their maps one after another, and its batch request outlives the deadline (not the compile bound) while it does', async () => {
    const gate = mkdtempSync(join(dir, 'gate-'));
    const timeoutMs = 1500;
    process.env.CPC_LAB_FAKE_COMPILE_GATE = gate;
    const vector = await makeDmlabVectorEnv('explore_goal_locations_small', 4, { ...base, levelCacheDir: join(dir, 'cache-batch'), timeoutMs, compileTimeoutMs: 20 * timeoutMs }).finally(() => delete process.env.CPC_LAB_FAKE_COMPILE_GATE);
    open.push(vector);
    const obs = new Uint8Array(4 * 72 * 96 * 3);
    const reset = vector.reset([1, 2, 3, 4], obs);
    reset.catch(() => {});
    try {
      await until(() => gateLog(gate).length >= 1);
      await sleep(3 * timeoutMs); // the first level's compile, held past the deadline
      expect(gateLog(gate)).toHaveLength(1);
    } finally {
      writeFileSync(join(gate, 'release'), '');
    }
    await reset;
    const lines = gateLog(gate);
    expect(lines).toHaveLength(8);
    for (let i = 0; i < 8; i += 2) expect(lines[i + 1]).toBe(lines[i]!.replace(/^start/, 'end'));
    await vector.close();
  });

  it('a compile held past dmlabCompileTimeout fails its request at the bound, naming the level and the map, and the bridge is stopped as a dead one', async () => {
    const gate = mkdtempSync(join(dir, 'gate-'));
    const compileTimeoutMs = 1500;
    const [e] = await bridges(1, gate, { levelCacheDir: join(dir, 'cache-bound'), timeoutMs: 500, compileTimeoutMs });
    const started = performance.now();
    try {
      const err = (await e!.reset(7).catch((x: unknown) => x)) as Error;
      const took = performance.now() - started;
      expect(err).toMatchObject({ name: 'EnvCompileTimeoutError', key: expect.stringMatching(/^fake_contributed_dmlab30_explore_goal_locations_small_\d+\.pk3$/) });
      expect(err.message).toMatch(/dmlab:explore_goal_locations_small.*map compile fake_contributed_dmlab30_explore_goal_locations_small_\d+\.pk3 took longer than 1\.5 s.*dmlabCompileTimeout/s);
      expect(took).toBeGreaterThan(compileTimeoutMs - 100);
      expect(took).toBeLessThan(compileTimeoutMs + 5000);
      expect(gateLog(gate)).toHaveLength(1); // the compile never finished: the bridge was stopped inside it
      // the bridge is gone, as a dead one: the next call fails at once with the same error
      expect(await e!.vector.server.exited.catch((x: unknown) => x)).toBe(err);
      expect(await e!.reset(8).catch((x: unknown) => x)).toBe(err);
    } finally {
      writeFileSync(join(gate, 'release'), '');
    }
    await e!.close();
  });

  it('a wait for another bridge\'s compile is not bounded itself: it ends with that compile', async () => {
    const gate = mkdtempSync(join(dir, 'gate-'));
    const cache = join(dir, 'cache-wait');
    const notes: string[] = [];
    const [holder] = await bridges(1, gate, { levelCacheDir: cache, timeoutMs: 500 });
    const [waiter] = await bridges(1, gate, { levelCacheDir: cache, timeoutMs: 500, compileTimeoutMs: 1000, notes: (l) => notes.push(l) });
    const resets: Promise<Uint8Array>[] = [];
    try {
      // the holder's compile first (started in order: which bridge takes the cache's lock is otherwise a race)
      resets.push(holder!.reset(1));
      await until(() => gateLog(gate).length === 1);
      resets.push(waiter!.reset(2));
      for (const r of resets) r.catch(() => {});
      await until(() => notes.some((l) => /waiting for it/.test(l)));
      await sleep(2500); // the waiter waits past its compile bound
    } finally {
      writeFileSync(join(gate, 'release'), '');
    }
    for (const o of await Promise.all(resets)) expect(o.length).toBe(72 * 96 * 3);
    await Promise.all([holder!.close(), waiter!.close()]);
  });

  it('close() during a compile stops the bridge within its bound, failing the request in flight', async () => {
    const gate = mkdtempSync(join(dir, 'gate-'));
    const [e] = await bridges(1, gate, { levelCacheDir: join(dir, 'cache-close'), timeoutMs: 500 });
    const reset = e!.reset(3).catch((x: unknown) => x);
    try {
      await until(() => gateLog(gate).length === 1);
      const started = performance.now();
      await e!.close(); // the compile is never released: close must not wait on the reset queued before it
      expect(performance.now() - started).toBeLessThan(20_000); // 0.5 s asking, 5 s for an exit, 5 s from SIGTERM to SIGKILL
      expect(await reset).toMatchObject({ name: 'EnvClosedError', requestType: 'env.batch.reset' }); // a DmlabEnv is a batched bridge of one
      expect(gateLog(gate)).toHaveLength(1);
    } finally {
      writeFileSync(join(gate, 'release'), '');
    }
  });

  it('a request still times out when the bridge is slow without compiling', async () => {
    const gate = mkdtempSync(join(dir, 'gate-'));
    // no level cache: the fake compiles at the gate without the bridge knowing, as a hung engine would look
    const [e] = await bridges(1, gate, { levelCacheDir: false, timeoutMs: 500 });
    try {
      expect(await e!.reset(1).catch((x: unknown) => x)).toMatchObject({ name: 'EnvTimeoutError' });
    } finally {
      writeFileSync(join(gate, 'release'), '');
    }
    await e!.close();
  });
});

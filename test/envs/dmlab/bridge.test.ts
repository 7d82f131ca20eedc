/**
 * The DeepMind Lab bridge (envs/dmlab/server.py) under /usr/bin/python3 against the fake
 * `deepmind_lab` module, over real ZeroMQ sockets.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Packr } from 'msgpackr';
import { afterAll, describe, expect, it } from 'vitest';
import { Request } from 'zeromq';
import { ACTION_SET } from '../../../envs/actions.js';
import { fakeDmlabPath, bridgeScript, makeDmlabEnv, type DmlabEnv, type DmlabOptions } from '../../../envs/dmlab/index.js';
import { DMLAB_LEVELS, humanNormalizedScore, resolveDmlabLevel } from '../../../envs/dmlab/levels.js';
import { makeEnv } from '../../../envs/index.js';
import { decode, encode, toWire } from '../../../src/transport/codec.js';
import { EnvRemoteError } from '../../../src/transport/envClient.js';
import { EnvServerExitedError, EnvServerStartError } from '../../../src/transport/envProcess.js';
import { ERROR_CODES, MESSAGE_TYPES, PROTOCOL_VERSION, type Message } from '../../../src/transport/messages.js';
import { benchBridgeVsDirect } from '../../../scripts/bench-transport.js';

const PYTHON = '/usr/bin/python3';
const dir = mkdtempSync(join(tmpdir(), 'cpc-dmlab-'));
const cacheDir = join(dir, 'level-cache');
const base: DmlabOptions = { python: PYTHON, dmlabPath: fakeDmlabPath(), levelCacheDir: cacheDir, timeoutMs: 10_000, startupTimeoutMs: 20_000 };
const open: DmlabEnv[] = [];
afterAll(async () => {
  await Promise.all(open.map((e) => e.close()));
  rmSync(dir, { recursive: true, force: true });
});

async function env(level: string, opts: DmlabOptions = {}): Promise<DmlabEnv> {
  const e = await makeDmlabEnv(level, { ...base, ...opts });
  open.push(e);
  return e;
}

/** The fake writes the last 7-int action + 128 into the red values of row 0's first pixels. */
const lastAction = (obs: Uint8Array): number[] => Array.from({ length: 7 }, (_, x) => obs[x * 3]! - 128);

describe('DeepMind Lab bridge against the fake', () => {
  it('reports the spec of a preset, with its path resolved and its episode length', async () => {
    const e = await env('rooms_watermaze');
    expect(e.spec).toEqual({ observationShape: [72, 96, 3], numActions: 9, level: 'dmlab:rooms_watermaze', episodeLength: 1800 });
    expect(e.vector.server.ready.spec?.level).toBe('dmlab:rooms_watermaze');
    await e.close();
  });

  it('resolves the five levels, seekavoid at the top level, and full paths', () => {
    expect(resolveDmlabLevel('rooms_watermaze').path).toBe('contributed/dmlab30/rooms_watermaze');
    expect(resolveDmlabLevel('explore_goal_locations_small').path).toBe('contributed/dmlab30/explore_goal_locations_small');
    expect(resolveDmlabLevel('lasertag_three_opponents_small').path).toBe('contributed/dmlab30/lasertag_three_opponents_small');
    expect(resolveDmlabLevel('rooms_keys_doors_puzzle').path).toBe('contributed/dmlab30/rooms_keys_doors_puzzle');
    expect(resolveDmlabLevel('seekavoid_arena_01').path).toBe('seekavoid_arena_01');
    expect(resolveDmlabLevel('contributed/dmlab30/rooms_watermaze').preset?.name).toBe('rooms_watermaze');
    expect(resolveDmlabLevel('lt_chasm')).toEqual({ path: 'lt_chasm' });
    expect(humanNormalizedScore('dmlab:rooms_watermaze', 54)).toBeCloseTo(100);
    expect(humanNormalizedScore('rooms_watermaze', 4.065)).toBeCloseTo(0);
    expect(humanNormalizedScore('seekavoid_arena_01', 10)).toBeUndefined();
  });

  it('works by full level path too', async () => {
    const e = await env('contributed/dmlab30/rooms_keys_doors_puzzle');
    expect(e.spec).toMatchObject({ level: 'dmlab:contributed/dmlab30/rooms_keys_doors_puzzle', episodeLength: 900 });
    await e.close();
  });

  it('honours width and height, and draws the HUD unless minimalUI', async () => {
    const [hud, minimal] = await Promise.all([env('seekavoid_arena_01', { width: 40, height: 32 }), env('seekavoid_arena_01', { width: 40, height: 32, minimalUI: true })]);
    expect(hud.spec.observationShape).toEqual([32, 40, 3]);
    const a = await hud.reset(1);
    const b = await minimal.reset(1);
    expect(a.length).toBe(32 * 40 * 3);
    const bottom = (o: Uint8Array): number[] => Array.from(o.subarray(31 * 40 * 3));
    expect(bottom(a).every((v) => v === 255)).toBe(true);
    expect(bottom(b).every((v) => v === 255)).toBe(false);
    await Promise.all([hud.close(), minimal.close()]);
  });

  it('maps every action index to its 7-int IMPALA action', async () => {
    const e = await env('rooms_watermaze', { width: 16, height: 8 });
    expect(lastAction(await e.reset(3))).toEqual([0, 0, 0, 0, 0, 0, 0]);
    for (let i = 0; i < ACTION_SET.length; i++) {
      const r = await e.step(i, 1);
      expect(lastAction(r.obs)).toEqual([...ACTION_SET[i]!.action]);
    }
    await e.close();
  });

  it('resets deterministically under a seed; auto-resets with a fresh seed and reports return and length', async () => {
    const [a, b] = await Promise.all([env('rooms_watermaze', { episodeLength: 5 }), env('rooms_watermaze', { episodeLength: 5 })]);
    expect(a.spec.episodeLength).toBe(5);
    const first = await a.reset(42);
    expect(await b.reset(42)).toEqual(first);
    expect(await b.reset(43)).not.toEqual(first);
    let sum = 0;
    const starts: Uint8Array[] = [first];
    for (let ep = 0; ep < 3; ep++) {
      for (let t = 1; t <= 5; t++) {
        const r = await a.step(t % 2 === 0 ? 0 : 1, 4);
        sum += r.reward;
        expect(r.done).toBe(t === 5);
        if (r.done) {
          expect(r.episodeLength).toBe(5);
          expect(r.episodeReturn).toBe(sum);
          expect(lastAction(r.obs)).toEqual([0, 0, 0, 0, 0, 0, 0]); // first frame of the next episode
          starts.push(r.obs);
          sum = 0;
        } else {
          expect(r.episodeReturn).toBeUndefined();
        }
      }
    }
    // Each episode starts from a new seed (the fake's colour is drawn from it).
    expect(new Set(starts.map((s) => s.slice(3 * 8, 3 * 8 + 3).join())).size).toBeGreaterThan(1);
    await Promise.all([a.close(), b.close()]);
  });

  it('ends episodes when DeepMind Lab does (is_running false), stopping the repeat early', async () => {
    // 0.5 s at 60 fps = 30 frames = 7 steps of 4 frames + 1 step of 2.
    const e = await env('seekavoid_arena_01', { extraConfig: { episodeLengthSeconds: '0.5' } });
    await e.reset(9);
    let sum = 0;
    for (let t = 1; t <= 8; t++) {
      const r = await e.step(0, 4);
      sum += r.reward;
      expect(r.done).toBe(t === 8);
      if (r.done) expect(r).toMatchObject({ episodeLength: 8, episodeReturn: sum });
    }
    await e.close();
  });

  it('builds each generated map once through the level cache', async () => {
    const e = await env('explore_goal_locations_small');
    await e.reset(1);
    await e.step(0, 4);
    const files = readdirSync(cacheDir);
    expect(files.some((f) => f.includes('explore_goal_locations_small'))).toBe(true);
    await e.close();
  });

  it('answers a bad action index with a clear error and keeps serving', async () => {
    const e = await env('rooms_watermaze');
    await e.reset(1);
    await expect(e.step(9, 4)).rejects.toMatchObject({ name: 'EnvRemoteError', code: 'bad_action' });
    expect((await e.step(0, 4)).obs.length).toBe(72 * 96 * 3);
    await e.close();
  });

  it('surfaces an exception inside step as a clear error, and keeps serving', async () => {
    const e = await env('tests/fake_error_in_step');
    await e.reset(1);
    await e.step(0, 4);
    const err = await e.step(0, 8).catch((x: unknown) => x);
    expect(err).toBeInstanceOf(EnvRemoteError);
    expect((err as EnvRemoteError).code).toBe('env_error');
    expect((err as Error).message).toMatch(/ValueError: Failed to advance environment .*scripted error/);
    expect((await e.reset(2)).length).toBe(72 * 96 * 3); // still serving
    await e.close();
  });

  it('fails fast, not at the deadline, when the bridge process dies mid-step', async () => {
    const e = await env('tests/fake_abort_in_step', { timeoutMs: 60_000 });
    await e.reset(1);
    const t0 = Date.now();
    const err = await e.step(0, 16).catch((x: unknown) => x);
    expect(err).toBeInstanceOf(EnvServerExitedError);
    expect((err as EnvServerExitedError).exitCode).toBe(134);
    expect(Date.now() - t0).toBeLessThan(10_000);
    await expect(e.step(0, 1)).rejects.toBeInstanceOf(EnvServerExitedError);
    await e.close();
  });

  it('reports a bad level name, a missing deepmind_lab and a missing interpreter with fixes', async () => {
    const bad = await makeDmlabEnv('no_such_level', base).catch((x: unknown) => x);
    expect(bad).toBeInstanceOf(EnvServerStartError);
    expect(bad).toMatchObject({ code: 'level_not_found' });
    expect((bad as Error).message).toMatch(/Level not found: Failed to open file '.*\/levels\/no_such_level\.lua'[\s\S]*fix:/);

    const noLab = await makeDmlabEnv('rooms_watermaze', { ...base, dmlabPath: dir }).catch((x: unknown) => x);
    expect(noLab).toMatchObject({ code: 'deepmind_lab_not_found' });
    expect((noLab as Error).message).toMatch(/--dmlab-path/);

    const noPython = await makeDmlabEnv('rooms_watermaze', { ...base, python: join(dir, 'no-python') }).catch((x: unknown) => x);
    expect(noPython).toMatchObject({ code: 'spawn_failed' });
    expect((noPython as Error).message).toMatch(/CPC_LAB_PYTHON/);
  });

  it('refuses a frame size DeepMind Lab refuses (positive multiples of 4), with its text and a fix', async () => {
    const err = await makeDmlabEnv('rooms_watermaze', { ...base, width: 96, height: 70 }).catch((x: unknown) => x);
    expect(err).toMatchObject({ name: 'EnvServerStartError', code: 'lab_init_failed' });
    expect((err as Error).message).toMatch(/Failed to apply setting 'height = 70' - "'height' must be a positive multiple of 4\. Actual 70"[\s\S]*fix: .*multiples of 4/);
  });

  it('refuses a level setting the level does not know at start-up, as DeepMind Lab does', async () => {
    const err = await makeDmlabEnv('seekavoid_arena_01', { ...base, extraConfig: { episodeLenghtSeconds: '5' } }).catch((x: unknown) => x);
    expect(err).toMatchObject({ name: 'EnvServerStartError', code: 'lab_init_failed' });
    expect((err as Error).message).toMatch(/Invalid setting: "episodeLenghtSeconds" = "5"[\s\S]*fix: .*spelling/);
  });

  it("every level accepts the bridge's own settings; a level's own setting is refused by another, as DeepMind Lab's levels do", async () => {
    const own: DmlabOptions = { minimalUI: true, logLevel: 'WARN', datasetPath: '/data', mixerSeed: 7, allowHoldOutLevels: true };
    const levels = Object.keys(DMLAB_LEVELS);
    const envs = await Promise.all(levels.map((level) => env(level, own)));
    for (const e of envs) expect((await e.reset(1)).length).toBe(72 * 96 * 3);
    await Promise.all(envs.map((e) => e.close()));

    const lasertag = await env('lasertag_three_opponents_small', { extraConfig: { botCount: '1' } });
    expect((await lasertag.reset(1)).length).toBe(72 * 96 * 3);
    const refused = await makeDmlabEnv('rooms_watermaze', { ...base, extraConfig: { botCount: '1' } }).catch((x: unknown) => x);
    expect((refused as Error).message).toMatch(/setting_overrides\.lua:\d+: Invalid setting: "botCount" = "1"/);
    // rooms_keys_doors_puzzle hands unknown settings to its map generator, which refuses them at the first reset
    const keysDoors = await env('rooms_keys_doors_puzzle', { extraConfig: { botCount: '1' } });
    expect(await keysDoors.reset(1).catch((x: unknown) => x)).toMatchObject({ name: 'EnvRemoteError', code: 'env_error', message: expect.stringMatching(/Unrecognized config key: botCount/) });
    await Promise.all([lasertag.close(), keysDoors.close()]);
  });

  it('close ends the bridge process cleanly', async () => {
    const e = await env('rooms_watermaze');
    await e.reset(1);
    await e.close();
    expect(e.vector.server.child.exitCode).toBe(0);
  });

  it('never touches the Lab after closing it, on env.close and on SIGTERM (the fake segfaults if it does)', async () => {
    for (const stop of [(e: DmlabEnv) => e.close(), (e: DmlabEnv) => e.vector.server.stop()]) {
      const e = await env('explore_goal_locations_small', { episodeLength: 2 });
      await e.reset(1);
      for (let t = 0; t < 3; t++) await e.step(0, 4); // an auto-reset on the way
      await stop(e);
      expect([e.vector.server.child.exitCode, e.vector.server.child.signalCode]).toEqual([0, null]);
      expect(e.vector.server.outputTail()).not.toMatch(/after close/);
    }
  });

  it('exits by itself when its parent goes (stdin closes)', async () => {
    const e = await env('rooms_watermaze');
    await e.reset(1);
    const exited = new Promise((resolve) => e.vector.server.child.once('exit', resolve));
    e.vector.server.child.stdin!.end();
    expect(await exited).toBe(0);
    await e.close();
  });

  it('is reachable through makeEnv("dmlab:<level>")', async () => {
    const e = await makeEnv('dmlab:seekavoid_arena_01', { episodeLength: 3, dmlab: base });
    expect(e.spec).toMatchObject({ level: 'dmlab:seekavoid_arena_01', episodeLength: 3 });
    await e.reset(0);
    await e.close();
  });
});

describe('bridge protocol', () => {
  it('answers bad frames with the same error codes as the TypeScript env server, and keeps serving', async () => {
    const e = await env('rooms_watermaze', { width: 8, height: 4 });
    const sock = new Request({ linger: 0, receiveTimeout: 5000 });
    sock.connect(e.vector.server.ready.endpoint);
    const raw = new Packr({ useRecords: false });
    const rt = async (frames: Uint8Array | Uint8Array[]): Promise<Message> => {
      await sock.send(frames);
      const r = decode((await sock.receive())[0]!);
      if (!r.ok) throw new Error(r.error.message);
      return r.msg;
    };
    const cases: Array<[Uint8Array | Uint8Array[], string]> = [
      [Uint8Array.from([0x93, 1]), 'not_msgpack'],
      [raw.pack(12), 'no_type'],
      [raw.pack({ v: PROTOCOL_VERSION + 1, type: 'env.spec' }), 'bad_version'],
      [raw.pack({ type: 'env.spec' }), 'bad_version'],
      [raw.pack({ v: PROTOCOL_VERSION, type: 'env.jump' }), 'unknown_type'],
      [raw.pack({ v: PROTOCOL_VERSION, type: 'env.batch.step', actions: toWire(new Int32Array([1]), [1]) }), 'schema'],
      [raw.pack({ v: PROTOCOL_VERSION, type: 'env.batch.step', actions: toWire(new Int32Array([1]), [1]), repeat: 0 }), 'schema'],
      [raw.pack({ v: PROTOCOL_VERSION, type: 'env.batch.step', actions: [1], repeat: 4 }), 'schema'],
      [raw.pack({ v: PROTOCOL_VERSION, type: 'env.batch.step', actions: toWire(new Float32Array([1]), [1]), repeat: 4 }), 'bad_dtype'],
      [raw.pack({ v: PROTOCOL_VERSION, type: 'env.batch.step', actions: toWire(new Int32Array([1, 2]), [1, 2]), repeat: 4 }), 'bad_shape'],
      [raw.pack({ v: PROTOCOL_VERSION, type: 'env.batch.step', actions: { dtype: 'int32', shape: [1], data: new Uint8Array(3) }, repeat: 4 }), 'bad_array'],
      [encode({ type: 'env.batch.step', actions: toWire(new Int32Array([1, 2]), [2]), repeat: 4 }), 'bad_shape'], // 2 actions, 1 level
      [raw.pack({ v: PROTOCOL_VERSION, type: 'env.batch.reset', seeds: [-3] }), 'schema'],
      [raw.pack({ v: PROTOCOL_VERSION, type: 'env.batch.reset', seeds: [] }), 'schema'],
      [raw.pack({ v: PROTOCOL_VERSION, type: 'env.spec', extra: 1 }), 'schema'],
      [new Uint8Array(70_000), 'oversized'],
      [[encode({ type: 'env.spec' }), encode({ type: 'env.spec' })], 'multipart'],
      [encode({ type: 'heartbeat', role: 'actor', id: 'a', seq: 1, sentAt: 0 }), 'unexpected_message'],
      [encode({ type: 'env.step', action: 1, repeat: 4 }), 'unexpected_message'], // a bridge serves batches
      [encode({ type: 'env.batch.step', actions: toWire(new Int32Array([1]), [1]), repeat: 4 }), 'not_reset'],
    ];
    for (let round = 0; round < 20; round++) {
      for (const [frame, code] of cases) expect(await rt(frame)).toMatchObject({ type: 'error', code });
      if (round === 0) expect(await rt(encode({ type: 'env.spec' }))).toMatchObject({ type: 'env.spec.reply' });
    }
    expect(await rt(encode({ type: 'env.batch.reset', seeds: [1] }))).toMatchObject({ type: 'env.batch.reset.reply' });
    expect(await rt(encode({ type: 'env.batch.step', actions: toWire(new Int32Array([9]), [1]), repeat: 2 }))).toMatchObject({ type: 'error', code: 'bad_action', env: 0 });
    expect(await rt(encode({ type: 'env.batch.step', actions: toWire(new Int32Array([8]), [1]), repeat: 2 }))).toMatchObject({ type: 'env.batch.step.reply' });
    sock.close();
    await e.close();
  });

  it('shares the action table, message types, version and error codes with the TypeScript side', () => {
    const out = execFileSync(
      PYTHON,
      ['-c', 'import json, server; print(json.dumps({"actions": server.ACTION_SET, "types": server.MESSAGE_TYPES, "version": server.PROTOCOL_VERSION}))'],
      { cwd: join(bridgeScript(), '..'), encoding: 'utf8' },
    );
    const py = JSON.parse(out) as { actions: number[][]; types: string[]; version: number };
    expect(py.actions).toEqual(ACTION_SET.map((a) => [...a.action]));
    expect(new Set(py.types)).toEqual(MESSAGE_TYPES);
    expect(py.version).toBe(PROTOCOL_VERSION);
    const source = execFileSync(PYTHON, ['-c', 'import sys; print(open(sys.argv[1]).read())', bridgeScript()], { encoding: 'utf8' });
    const used = [...source.matchAll(/(?:RequestError|_error)\('([a-z_]+)'/g)].map((m) => m[1]);
    expect(used.length).toBeGreaterThan(5);
    for (const code of used) expect(ERROR_CODES).toContain(code);
  });

  it('the fake deepmind_lab module follows the real API (python unittest)', () => {
    const out = execFileSync(PYTHON, [join(import.meta.dirname, 'fake_api_check.py')], {
      env: { ...process.env, PYTHONPATH: [fakeDmlabPath(), join(bridgeScript(), '..')].join(':') },
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    expect(out).toBe('');
  });

  it('the preallocated batch step frame decodes to the message the generic path packs, step after step', () => {
    // two fills of one frame (the second must overwrite the first completely), each against msgpack of the dict
    const script = `
import msgpack, numpy as np, server
frame = server.BatchStepFrame(3, [4, 5, 3])
rng = np.random.RandomState(3)
out = []
for k in range(2):
    obs = rng.randint(0, 256, size=(3, 4, 5, 3)).astype(np.uint8)
    rewards, dones = np.array([-2.5, 1e-7, 10.0 * k]), np.array([0, 1 - k, k], np.uint8)
    returns, lengths = np.where(dones, [3.0, -4.5, 7.25], 0.0), np.where(dones, [5, 6, 7], 0).astype(np.int32)
    for i in range(3):
        frame.rewards[i], frame.dones[i], frame.episodeReturns[i], frame.episodeLengths[i] = rewards[i], dones[i], returns[i], lengths[i]
        frame.put_obs(i, obs[i])
    generic = {'v': server.PROTOCOL_VERSION, 'type': 'env.batch.step.reply', 'rewards': server.wire_array(rewards), 'dones': server.wire_array(dones),
               'episodeReturns': server.wire_array(returns), 'episodeLengths': server.wire_array(lengths), 'obs': server.wire_array(obs)}
    out += [bytes(frame.frame).hex(), msgpack.packb(generic, use_bin_type=True).hex()]
try:
    frame.put_obs(0, np.zeros((1, 5, 3), np.uint8))
except ValueError:
    out.append('refused')
print(' '.join(out))
`;
    const out = execFileSync(PYTHON, ['-c', script], { cwd: join(bridgeScript(), '..'), encoding: 'utf8' }).trim().split(' ');
    expect(out[4]).toBe('refused'); // an observation of another shape is an error, not a silent broadcast
    for (const i of [0, 2]) {
      const lean = decode(Buffer.from(out[i]!, 'hex'));
      const generic = decode(Buffer.from(out[i + 1]!, 'hex'));
      expect(lean.ok && generic.ok).toBe(true);
      expect(lean).toEqual(generic);
    }
    expect(decode(Buffer.from(out[0]!, 'hex'))).not.toEqual(decode(Buffer.from(out[2]!, 'hex')));
  });

  it('bench-transport --dmlab-path plays the same seeds and actions directly and through the bridge', async () => {
    // it throws if the two sides' returns or last observations differ
    for (const [envs, layout] of [[1, 'batched'], [3, 'batched'], [2, 'per-level']] as const) {
      const m = await benchBridgeVsDirect({ python: PYTHON, dmlabPath: fakeDmlabPath(), steps: 25, rounds: 2, envs, layout });
      expect(m).toMatchObject({ level: 'rooms_watermaze', envs, layout });
      for (const v of [m.directWallUs, m.directCpuUs, m.bridgeWallUs, m.bridgeCpuUs, m.nodeCpuUs]) expect(Number.isFinite(v) && v >= 0).toBe(true);
      expect(m.bridgeWallUs).toBeGreaterThan(0);
    }
  });
});

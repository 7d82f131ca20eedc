import { execFileSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as zmq from 'zeromq';
import { describe, expect, it } from 'vitest';
import { resolveConfig, type ConfigInput } from '../../../src/config.js';
import { listCheckpoints } from '../../../src/checkpoint.js';
import { superviseTraining } from '../../../src/runtime/supervisor.js';
import { encode } from '../../../src/transport/codec.js';
import { findEventFile } from '../../../src/tensorboard.js';
import { readUpdates, updatesWritten } from '../../helpers/metrics.js';
import { readEvents, scalarEvents } from '../../helpers/tfevents.js';

/** Process-level tests: real learner, actor and env-server processes over real sockets. */
const UPDATE_FRAMES = 4 * 10 * 4; // batch 4 x unroll 10 x repeat 4

function setup(overrides: Partial<ConfigInput> = {}) {
  const runDir = fs.mkdtempSync(path.join(os.tmpdir(), 'cpc-lab-sup-'));
  const config = resolveConfig({
    env: 'mock:memory',
    agent: 'cpc',
    cpcSteps: 3,
    batch: 4,
    unroll: 10,
    actors: 2,
    frames: 20 * UPDATE_FRAMES,
    backend: 'wasm',
    progressEvery: 1,
    checkpointEvery: 1,
    runDir,
    ...overrides,
  });
  const lines: string[] = [];
  const children = new Map<string, ChildProcess[]>();
  const opts = {
    log: (l: string) => lines.push(l),
    onSpawn: (name: string, child: ChildProcess) => children.set(name, [...(children.get(name) ?? []), child]),
  };
  return { config, runDir, lines, children, opts };
}

const updates = readUpdates;

/** Every update trained exactly one batch: frames rise by one batch each time, none missing, none twice. */
function expectEveryBatchOnce(runDir: string, finishedFrames: number) {
  const u = updates(runDir);
  u.forEach((r, i) => expect(r.frames).toBe(u[0]!.frames + i * UPDATE_FRAMES));
  expect(u[u.length - 1]!.frames).toBe(finishedFrames);
}

/**
 * Resolves once `check` holds, testing it every 50 ms: these tests wait on events (an update
 * recorded, a checkpoint written), never on a fixed time, so a loaded machine only makes them slower.
 */
async function until(check: () => boolean): Promise<void> {
  while (!check()) await new Promise((r) => setTimeout(r, 50));
}

/** Frames of the newest checkpoint file (by name), 0 if none. */
function checkpointedFrames(runDir: string): number {
  return Math.max(0, ...listCheckpoints(runDir).map((f) => Number(/ckpt-(\d+)/.exec(f)![1])));
}

/** Whole runs of real processes: bounded generously (a loaded machine is slow), never timed. */
const PROCESS_TEST = { timeout: 600_000 };

describe('supervised training (processes)', PROCESS_TEST, () => {
  it.each(['sync', 'async'] as const)("%s: a killed actor is restarted and training goes on (async: its unanswered asks go to its successor); sync batches have policy lag 0", async (mode) => {
    const { config, runDir, lines, children, opts } = setup({ mode });
    const killing = (async () => {
      await until(() => updatesWritten(runDir) >= 3);
      children.get('actor-0')![0]!.kill('SIGKILL');
    })();
    const finished = await superviseTraining(config, opts);
    await killing;
    expect(lines.join('\n')).toMatch(/supervisor: actor-0 exited \(SIGKILL\); restart 1/);
    expect(children.get('actor-0')!.length).toBeGreaterThanOrEqual(2);
    expect(finished.frames).toBeGreaterThanOrEqual(config.frames);
    expectEveryBatchOnce(runDir, finished.frames);
    const u = updates(runDir);
    if (mode === 'sync') expect(u.every((r) => r.policyLag === 0)).toBe(true);
    else expect(u.every((r) => (r.policyLagMax ?? 0) <= config.maxPolicyLag)).toBe(true);
  });

  it('a killed environment server is replaced by its actor; malformed messages to the learner are dropped', async () => {
    const { config, runDir, lines, children, opts } = setup();
    const attacking = (async () => {
      await until(() => lines.filter((l) => l.includes('connected to')).length >= 2 && updatesWritten(runDir) >= 1);
      // the actor's env servers are its child processes
      const actorPid = children.get('actor-1')![0]!.pid!;
      const envPids = execFileSync('pgrep', ['-P', String(actorPid)], { encoding: 'utf8' }).trim().split('\n').map(Number);
      process.kill(envPids[0]!, 'SIGKILL');
      // and a stranger sends garbage, a wrong protocol version and an unroll of the wrong shape
      const endpoint = /listening on (\S+)/.exec(lines.find((l) => l.includes('listening on'))!)![1]!;
      const intruder = new zmq.Dealer({ routingId: 'intruder' });
      intruder.connect(endpoint);
      for (let i = 0; i < 200; i++) await intruder.send(Buffer.from(Array.from({ length: 1 + (i % 50) }, () => Math.floor(Math.random() * 256))));
      const hb = encode({ type: 'heartbeat', role: 'actor', id: 'intruder', seq: 0, sentAt: 0 });
      await intruder.send(Buffer.from(hb).fill(0x07, hb.length - 3));
      intruder.close();
    })();
    const finished = await superviseTraining(config, opts);
    await attacking;
    const log = lines.join('\n');
    expect(log).toMatch(/actor-1\.\d+\.[0-9a-f]+: environment \d failed .*starting a new one/);
    expect(log).toMatch(/learner: dropped a message from intruder: malformed: not_msgpack/);
    expectEveryBatchOnce(runDir, finished.frames);
  });

  it('a killed learner is restarted from its last checkpoint and the actors carry on', async () => {
    // checkpoints every 5 s: on a fast or a loaded machine alike the learner trains past its newest one for a while
    const { config, runDir, lines, children, opts } = setup({ checkpointEvery: 5 });
    const killing = (async () => {
      // killed once it has checkpointed an update and trained past that checkpoint (a kill between a
      // checkpoint and the next update is issue 10 item 7, a hang fixed separately)
      await until(() => checkpointedFrames(runDir) >= UPDATE_FRAMES && updatesWritten(runDir) * UPDATE_FRAMES > checkpointedFrames(runDir));
      children.get('learner')![0]!.kill('SIGKILL');
    })();
    const finished = await superviseTraining(config, opts);
    await killing;
    const log = lines.join('\n');
    expect(log).toMatch(/supervisor: learner exited \(SIGKILL\); restart 1/);
    const resumedAt = Number(/resumed from the checkpoint at (\d+) frames/.exec(log)![1]);
    expect(resumedAt).toBeGreaterThan(0);
    // after the restart (its clock starts again) the frame count continues from the checkpoint
    const u = updates(runDir);
    const firstAfter = u.findIndex((r, i) => i > 0 && r.time < u[i - 1]!.time);
    expect(firstAfter).toBeGreaterThan(0);
    expect(u[firstAfter]!.frames).toBe(resumedAt + UPDATE_FRAMES);
    expect(finished.frames).toBeGreaterThanOrEqual(config.frames);
    // the records of updates lost with the learner were dropped: every batch is in the metrics once,
    // and in the TensorBoard events the restarted learner continued
    expectEveryBatchOnce(runDir, finished.frames);
    const updateSteps = scalarEvents(readEvents(findEventFile(runDir)!)).filter((e) => 'loss/total' in e.scalars).map((e) => e.step);
    expect(updateSteps).toEqual(u.map((r) => r.frames));
  });

  it('async mode: acting runs ahead of learning (within the bound) and the policy lag is reported', async () => {
    const { config, runDir, opts } = setup({ mode: 'async', batch: 2, envsPerActor: 2, frames: 40 * 2 * 10 * 4 });
    await superviseTraining(config, opts);
    const lags = updates(runDir).map((r) => r.policyLag);
    expect(lags.every((l) => l >= 0)).toBe(true);
    expect(lags.some((l) => l > 0)).toBe(true);
  });

  it('every process says what it is in ps and top; no output carries the tfjs banner', async () => {
    // the cpu backend is the one that prints the banner
    const { config, runDir, lines, children, opts } = setup({ frames: 3 * UPDATE_FRAMES, backend: 'cpu' });
    const args = (pid: number) => fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean).join(' ');
    const comm = (pid: number) => fs.readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
    const seen: Record<string, string> = {};
    const looking = (async () => {
      await until(() => updatesWritten(runDir) >= 1);
      for (const name of ['learner', 'actor-0', 'actor-1']) {
        const pid = children.get(name)![0]!.pid!;
        seen[name] = args(pid);
        seen[`${name} (top)`] = comm(pid);
        if (name === 'learner') continue;
        // the actor's environment servers (from source, tsx's esbuild service is a child too)
        const envs = execFileSync('pgrep', ['-P', String(pid)], { encoding: 'utf8' }).trim().split('\n').map((p) => args(Number(p))).filter((a) => !/esbuild --service/.test(a));
        envs.forEach((a, i) => (seen[`${name} env ${i}`] = a));
      }
    })();
    await superviseTraining(config, opts);
    await looking;
    expect(seen).toEqual({
      learner: 'cpc-lab learner',
      'learner (top)': 'cpc-lab learner',
      'actor-0': 'cpc-lab actor-0',
      'actor-0 (top)': 'cpc-lab actor-0',
      'actor-0 env 0': 'cpc-lab env mock:memory',
      'actor-0 env 1': 'cpc-lab env mock:memory',
      'actor-1': 'cpc-lab actor-1',
      'actor-1 (top)': 'cpc-lab actor-1',
      'actor-1 env 0': 'cpc-lab env mock:memory',
      'actor-1 env 1': 'cpc-lab env mock:memory',
    });
    // the children's output (through the supervisor's log) says which backend runs, without tfjs's banner
    expect(lines.join('\n')).toMatch(/backend cpu/);
    expect(lines.join('\n')).not.toMatch(/TensorFlow\.js in Node\.js/);
  });
});

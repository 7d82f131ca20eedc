import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as zmq from 'zeromq';
import { describe, expect, it } from 'vitest';
import { createAgent } from '../../agents/agent.js';
import { MOCK_OBS_SHAPE } from '../../envs/mock/index.js';
import { encode } from '../../src/transport/codec.js';
import { paramsToMessage } from '../../src/runtime/wire.js';
import { readOrCreateRunToken, runTokenFile } from '../../src/runtime/runToken.js';

/** The CLI as a user runs it: bad names, files and endpoints get one line that says what to do. */
const root = path.resolve(import.meta.dirname, '../..');
const cli = path.join(root, 'src/cli.ts');
const tsx = import.meta.resolve('tsx');
const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'cpc-lab-cli-'));

function run(args: string[], cwd = root): { status: number | null; out: string } {
  const r = spawnSync(process.execPath, ['--import', tsx, cli, ...args], { cwd, encoding: 'utf8', timeout: 300_000 });
  return { status: r.status, out: (r.stdout ?? '') + (r.stderr ?? '') };
}

const quick = ['--env', 'mock:memory', '--agent', 'baseline', '--batch', '2', '--unroll', '5', '--frames', '40', '--backend', 'cpu'];
const noStack = (out: string) => expect(out).not.toMatch(/\n\s+at /);

describe('CLI: paths, files and endpoints', () => {
  it('--name "..", "." and a 300-character name are refused before anything is written', () => {
    const cwd = tmp();
    for (const [name, why] of [
      ['..', /name: must name a folder inside runs\/, not "\." or "\.\."/],
      ['.', /name: must name a folder inside runs\//],
      ['x'.repeat(300), /name: at most 100 characters/],
    ] as const) {
      const r = run(['train', ...quick, '--name', name], cwd);
      expect(r.status).toBe(2);
      expect(r.out).toMatch(why);
      noStack(r.out);
    }
    expect(fs.readdirSync(cwd)).toEqual([]);
    expect(fs.existsSync(path.join(cwd, '..', 'config.json'))).toBe(false);
  });

  it('a missing --curve-keys file, a garbage --learner-endpoint or an unknown level: one line, and no run folder is created', () => {
    const dir = tmp();
    const cases = [
      [['--actors', '1', '--curve-keys', path.join(dir, 'missing.json')], /cannot read CURVE keys from .*missing\.json.*cpc-lab keygen/],
      [['--actors', '1', '--learner-endpoint', 'garbage'], /learnerEndpoint: 'garbage' is not a ZeroMQ endpoint; expected tcp:\/\/HOST:PORT/],
      [['--env', 'builtin:no_such_level'], /unknown built-in level 'no_such_level'/],
    ] as const;
    for (const [flags, why] of cases) {
      const runDir = path.join(dir, 'run');
      const r = run(['train', ...quick, ...flags, '--run-dir', runDir]);
      expect(r.status).not.toBe(0);
      expect(r.out).toMatch(why);
      noStack(r.out);
      expect(fs.existsSync(runDir)).toBe(false);
    }
  });

  it('--resume of a folder whose config.json is garbage or {} names the file, refuses, and leaves it as it was', () => {
    for (const content of ['not json {', '{}', '{"config": {"batch": "many"}}']) {
      const runDir = tmp();
      const file = path.join(runDir, 'config.json');
      fs.writeFileSync(file, content);
      const r = run(['train', '--resume', runDir]);
      expect(r.status).toBe(1);
      expect(r.out).toMatch(new RegExp(`cannot resume: ${file.replace(/[.]/g, '\\.')} (is not readable JSON|does not hold a run's settings)`));
      noStack(r.out);
      expect(fs.readFileSync(file, 'utf8')).toBe(content);
    }
  });

  // root ignores file modes, so the check runs as nobody there, which must be able to read the project
  const asUser = process.getuid?.() === 0 ? ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', 'env', 'HOME=/tmp'] : [];
  const projectReadable = !asUser.length || spawnSync(asUser[0]!, [...asUser.slice(1), 'test', '-r', cli]).status === 0;
  it.skipIf(!projectReadable)(`a read-only run folder: the message says permission denied, and nothing is changed${projectReadable ? '' : ' (skipped: run as root, and user nobody cannot read this checkout)'}`, () => {
    const dir = tmp();
    const runDir = path.join(dir, 'run');
    expect(run(['train', ...quick, '--run-dir', runDir]).status).toBe(0);
    const before = fs.readFileSync(path.join(runDir, 'metrics.jsonl'), 'utf8');
    fs.chmodSync(dir, 0o755);
    fs.chmodSync(runDir, 0o555);
    const r = spawnSync(asUser[0] ?? process.execPath, [...asUser.slice(1), ...(asUser.length ? [process.execPath] : []), '--import', tsx, cli, 'train', '--resume', runDir, '--frames', '80'], { cwd: root, encoding: 'utf8' });
    fs.chmodSync(runDir, 0o755);
    expect(r.status).toBe(1);
    expect(r.stdout + r.stderr).toMatch(new RegExp(`cannot lock ${runDir}: permission denied \\(is the folder read-only\\?\\)`));
    expect(fs.readFileSync(path.join(runDir, 'metrics.jsonl'), 'utf8')).toBe(before);
  });

  for (const learnerAnswers of [false, true]) {
    it(`cpc-lab actor stops cleanly on Ctrl-C ${learnerAnswers ? 'while it plays' : 'while it waits for the learner'} (exit status 0, no EBADF)`, async () => {
      const router = new zmq.Router();
      await router.bind('tcp://127.0.0.1:*');
      const agent = createAgent({ kind: 'baseline', obsShape: MOCK_OBS_SHAPE, numActions: 9, seed: 1, cpcSteps: 3 });
      const shapes = Object.fromEntries(Object.entries(agent.params).map(([k, v]) => [k, v.shape]));
      const params = encode(paramsToMessage(await agent.getWeights(), shapes, 0));
      agent.dispose();
      const runDir = tmp();
      readOrCreateRunToken(runDir);
      // Ctrl-C reaches the whole foreground process group: the actor and its environment servers
      const args = ['--import', tsx, cli, 'actor', '--learner', router.lastEndpoint!, '--run-token', runTokenFile(runDir), ...quick, '--actors', '1'];
      const actor = spawn(process.execPath, args, { cwd: root, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      actor.stdout!.on('data', (d) => (out += d));
      actor.stderr!.on('data', (d) => (out += d));
      let alive = true;
      const exited = new Promise<number | null>((r) => actor.once('exit', (code) => r(code)));
      // an actor that dies early ends the wait (closing the socket ends the loop) instead of hanging it
      void exited.then(() => {
        alive = false;
        router.close();
      });
      let heartbeats = 0;
      try {
        for await (const [id, frame] of router) {
          // the answer to a hello, then an ask for one unroll (async, the default)
          if (learnerAnswers && frame!.includes('hello')) for (const _ of [0, 1]) await router.send([id!, params]);
          if (learnerAnswers ? frame!.includes('unroll') : frame!.includes('heartbeat') && ++heartbeats === 2) break;
        }
      } catch {
        // the socket was closed because the actor exited
      }
      expect(alive, out).toBe(true);
      process.kill(-actor.pid!, 'SIGINT');
      expect(await exited).toBe(0);
      expect(out).not.toMatch(/EBADF|Error|Unhandled|exited/);
      if (!router.closed) router.close();
    });
  }
});

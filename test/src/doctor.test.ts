import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { fakeDmlabPath } from '../../envs/dmlab/index.js';
import { doctor } from '../../src/doctor.js';

const empty = mkdtempSync(join(tmpdir(), 'cpc-doctor-'));
afterAll(() => rmSync(empty, { recursive: true, force: true }));

describe('doctor', () => {
  it('finds node, zeromq, the bridge modules and the fake deepmind_lab, saying where', async () => {
    const r = await doctor({ backends: false, python: '/usr/bin/python3', dmlabPath: fakeDmlabPath() });
    expect(r.ok).toBe(true);
    expect(r.dmlabReady).toBe(true);
    const byName = Object.fromEntries(r.checks.map((c) => [c.name, c]));
    expect(byName.node!.status).toBe('ok');
    expect(byName.zeromq!.detail).toMatch(/libzmq \d/);
    for (const m of ['pyzmq', 'msgpack', 'numpy']) expect(byName[m]!.status).toBe('ok');
    expect(byName.deepmind_lab).toMatchObject({ status: 'warn', detail: expect.stringContaining('fake') });
    expect(r.summary).toMatch(/fake deepmind_lab \(tests only\)/);
    // it created and stepped a level, and says how long a step took
    expect(byName['Lab (software renderer)']).toMatchObject({ status: 'ok' });
    const ms = /reset (\d+) ms, ([\d.]+) ms per agent step of 4 frames/.exec(byName['Lab (software renderer)']!.detail);
    expect(ms).not.toBeNull();
    expect(Number(ms![2])).toBeGreaterThan(0);
  });

  it('tries the renderer asked for', async () => {
    const r = await doctor({ backends: false, python: '/usr/bin/python3', dmlabPath: fakeDmlabPath(), renderer: 'hardware' });
    expect(r.checks.find((c) => c.name.startsWith('Lab'))).toMatchObject({ name: 'Lab (hardware renderer)', status: 'ok' });
  });

  it('is not ready for a folder holding only the deepmind_lab module (a lone deepmind_lab.so), and says what is missing', async () => {
    const lone = mkdtempSync(join(empty, 'lone-'));
    copyFileSync(join(fakeDmlabPath(), 'deepmind_lab.py'), join(lone, 'deepmind_lab.py'));
    const r = await doctor({ backends: false, python: '/usr/bin/python3', dmlabPath: lone });
    expect(r.dmlabReady).toBe(false);
    const lab = r.checks.find((c) => c.name === 'Lab (software renderer)');
    expect(lab).toMatchObject({ status: 'missing' });
    expect(lab?.detail).toMatch(/Failed to connect RL API.*Failed to open library! - .*libdmlab_headless_sw\.so/);
    expect(lab?.fix).toMatch(/deepmind_lab\.so alone is not enough: it loads libdmlab_headless_sw\.so/);
    expect(r.summary).toMatch(/dmlab: levels unavailable/);
  });

  it('says how to get deepmind_lab when it is missing', async () => {
    const r = await doctor({ backends: false, python: '/usr/bin/python3', dmlabPath: empty });
    expect(r.ok).toBe(true);
    expect(r.dmlabReady).toBe(false);
    const lab = r.checks.find((c) => c.name === 'deepmind_lab');
    expect(lab).toMatchObject({ status: 'missing' });
    expect(lab?.fix).toMatch(/--dmlab-path \/ CPC_LAB_DMLAB_PATH/);
    expect(r.summary).toMatch(/MISS\] deepmind_lab/);
  });

  it('says how to choose an interpreter when python is not found', async () => {
    const r = await doctor({ backends: false, python: join(empty, 'python9') });
    expect(r.ok).toBe(true);
    expect(r.checks.find((c) => c.name === 'python')).toMatchObject({ status: 'missing', fix: expect.stringMatching(/--python .*CPC_LAB_PYTHON/) });
  });
});

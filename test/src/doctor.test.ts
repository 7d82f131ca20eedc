import { mkdtempSync, rmSync } from 'node:fs';
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
    expect(byName.node.status).toBe('ok');
    expect(byName.zeromq.detail).toMatch(/libzmq \d/);
    for (const m of ['pyzmq', 'msgpack', 'numpy']) expect(byName[m].status).toBe('ok');
    expect(byName.deepmind_lab).toMatchObject({ status: 'warn', detail: expect.stringContaining('fake') });
    expect(r.summary).toMatch(/fake deepmind_lab \(tests only\)/);
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

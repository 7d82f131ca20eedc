/**
 * `cpc-lab doctor`: what this machine has for cpc-lab, and what to do about what it lacks.
 *
 * Core (needed for any run): Node.js, the ZeroMQ addon, a tensor backend. DeepMind Lab (needed
 * only for `dmlab:` levels): a Python 3 interpreter with pyzmq, msgpack and numpy, and an importable
 * `deepmind_lab` module. Each check says what was found, where, and how to fix what is missing.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { z } from 'zod';
import { bridgeEnv, resolveDmlabPath, resolvePython } from '../envs/dmlab/index.js';

export type CheckStatus = 'ok' | 'warn' | 'missing';

export interface DoctorCheck {
  group: 'core' | 'dmlab';
  name: string;
  status: CheckStatus;
  /** What was found (version, path) or what went wrong. */
  detail: string;
  /** What to do, when not ok. */
  fix?: string;
}

export interface DoctorReport {
  /** Every core check passed: training on `builtin:` and `mock:` levels works. */
  ok: boolean;
  /** Every DeepMind Lab check passed: `dmlab:` levels work (with the real DeepMind Lab, unless `fake`). */
  dmlabReady: boolean;
  checks: DoctorCheck[];
  /** The report as lines for a terminal. */
  summary: string;
}

export interface DoctorOptions {
  /** Python interpreter to check (default `$CPC_LAB_PYTHON`, else `python3`). */
  python?: string;
  /** Directory holding `deepmind_lab` (default `$CPC_LAB_DMLAB_PATH`). */
  dmlabPath?: string;
  /** Initialise the tensor backends (slow: loads TensorFlow.js); default true. */
  backends?: boolean;
  /** Per Python probe, ms (default 30 000). */
  timeoutMs?: number;
}

/** Interpreters worth suggesting when the chosen one lacks the bridge's modules. */
const FALLBACK_PYTHONS = ['/usr/bin/python3', '/usr/local/bin/python3'];

const PROBE = `
import json, sys
out = {"executable": sys.executable, "version": sys.version.split()[0], "modules": {}}
for name in ("zmq", "msgpack", "numpy", "deepmind_lab"):
    try:
        m = __import__(name)
        v = getattr(m, "__version__", None) or (m.version() if name == "deepmind_lab" else None)
        if name == "msgpack":
            v = ".".join(map(str, m.version))
        out["modules"][name] = {"ok": True, "version": str(v) if v else None, "file": getattr(m, "__file__", None), "fake": bool(getattr(m, "FAKE", False))}
    except Exception as e:
        out["modules"][name] = {"ok": False, "error": "%s: %s" % (type(e).__name__, e)}
print(json.dumps(out))
`;

const moduleSchema = z.union([
  z.object({ ok: z.literal(true), version: z.string().nullable(), file: z.string().nullable(), fake: z.boolean() }),
  z.object({ ok: z.literal(false), error: z.string() }),
]);
const probeSchema = z.object({
  executable: z.string(),
  version: z.string(),
  modules: z.object({ zmq: moduleSchema, msgpack: moduleSchema, numpy: moduleSchema, deepmind_lab: moduleSchema }),
});
type Probe = z.infer<typeof probeSchema>;
type ProbeResult = { ok: true; probe: Probe } | { ok: false; error: string };

function probePython(python: string, dmlabPath: string | undefined, timeoutMs: number): Promise<ProbeResult> {
  return new Promise((resolve) => {
    execFile(python, ['-c', PROBE], { env: bridgeEnv(dmlabPath), timeout: timeoutMs, encoding: 'utf8' }, (err, stdout, stderr) => {
      if (err) return resolve({ ok: false, error: (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'not found' : (stderr || err.message).trim() });
      try {
        resolve({ ok: true, probe: probeSchema.parse(JSON.parse(stdout.trim().split('\n').at(-1) ?? '')) });
      } catch (e) {
        resolve({ ok: false, error: `unexpected probe output: ${(e as Error).message}` });
      }
    });
  });
}

const BRIDGE_MODULES = { zmq: 'pyzmq', msgpack: 'msgpack', numpy: 'numpy' } as const;
const DEBIAN_PACKAGES = 'python3-zmq python3-msgpack python3-numpy';

async function coreChecks(backends: boolean): Promise<DoctorCheck[]> {
  const checks: DoctorCheck[] = [];
  const major = Number(process.versions.node.split('.')[0]);
  checks.push(
    major >= 20
      ? { group: 'core', name: 'node', status: 'ok', detail: `${process.version} (${process.execPath})` }
      : { group: 'core', name: 'node', status: 'missing', detail: `${process.version} is too old`, fix: 'install Node.js 20 or newer' },
  );
  try {
    const zmq = await import('zeromq');
    checks.push({ group: 'core', name: 'zeromq', status: 'ok', detail: `libzmq ${zmq.version}` });
  } catch (e) {
    checks.push({ group: 'core', name: 'zeromq', status: 'missing', detail: (e as Error).message, fix: 'reinstall dependencies (`npm ci`); zeromq ships prebuilt binaries for common platforms' });
  }
  if (backends) {
    try {
      const { initBackend } = await import('./backend/index.js');
      const info = await initBackend('auto');
      const skipped = info.skipped.map((s) => `${s.name}: ${s.reason}`).join('; ');
      checks.push({
        group: 'core',
        name: 'tensor backend',
        status: info.name === 'cpu' ? 'warn' : 'ok',
        detail: `${info.name} (${info.detail})${skipped ? `; passed over: ${skipped}` : ''}`,
        fix: info.name === 'cpu' ? 'the cpu backend is ~20x slower than wasm; check that @tensorflow/tfjs-backend-wasm is installed' : undefined,
      });
    } catch (e) {
      checks.push({ group: 'core', name: 'tensor backend', status: 'missing', detail: (e as Error).message, fix: 'reinstall dependencies (`npm ci`)' });
    }
  }
  return checks;
}

async function dmlabChecks(python: string, dmlabPath: string | undefined, timeoutMs: number): Promise<DoctorCheck[]> {
  const checks: DoctorCheck[] = [];
  const source = python === process.env.CPC_LAB_PYTHON ? ' (from CPC_LAB_PYTHON)' : '';
  const r = await probePython(python, dmlabPath, timeoutMs);
  if (!r.ok) {
    checks.push({ group: 'dmlab', name: 'python', status: 'missing', detail: `${python}${source}: ${r.error}`, fix: 'install Python 3, or pass --python <interpreter> / set CPC_LAB_PYTHON' });
    return checks;
  }
  const { probe } = r;
  checks.push({ group: 'dmlab', name: 'python', status: 'ok', detail: `${probe.version} (${probe.executable})${source}` });

  const missing = (Object.keys(BRIDGE_MODULES) as (keyof typeof BRIDGE_MODULES)[]).filter((m) => !probe.modules[m].ok);
  let alternative = '';
  if (missing.length) {
    for (const candidate of FALLBACK_PYTHONS.filter((p) => p !== probe.executable && existsSync(p))) {
      const alt = await probePython(candidate, dmlabPath, timeoutMs);
      if (alt.ok && Object.keys(BRIDGE_MODULES).every((m) => alt.probe.modules[m as keyof typeof BRIDGE_MODULES].ok)) {
        alternative = `; or use ${candidate}, which has them: --python ${candidate} / CPC_LAB_PYTHON=${candidate}`;
        break;
      }
    }
  }
  const fix = `\`${probe.executable} -m pip install ${missing.map((x) => BRIDGE_MODULES[x]).join(' ')}\`, or on Debian/Ubuntu \`apt install ${DEBIAN_PACKAGES}\` (for /usr/bin/python3)${alternative}`;
  for (const [mod, pipName] of Object.entries(BRIDGE_MODULES) as [keyof typeof BRIDGE_MODULES, string][]) {
    const m = probe.modules[mod];
    checks.push(
      m.ok
        ? { group: 'dmlab', name: pipName, status: 'ok', detail: `${m.version ?? '?'} (${m.file ?? '?'})` }
        : // One fix covers every missing module; it goes on the first.
          { group: 'dmlab', name: pipName, status: 'missing', detail: m.error, fix: mod === missing[0] ? fix : undefined },
    );
  }

  const lab = probe.modules.deepmind_lab;
  const where = dmlabPath ? ` (PYTHONPATH starts with ${dmlabPath})` : '';
  if (!lab.ok) {
    checks.push({
      group: 'dmlab',
      name: 'deepmind_lab',
      status: 'missing',
      detail: `${lab.error}${where}`,
      fix:
        'only needed for dmlab: levels (builtin: levels need nothing). Build DeepMind Lab (github.com/google-deepmind/lab, ' +
        '`bazel build -c opt //python/pip_package:build_pip_package`, then pip install the wheel into this interpreter), ' +
        'or point cpc-lab at the directory holding the deepmind_lab module with --dmlab-path / CPC_LAB_DMLAB_PATH',
    });
  } else if (lab.fake) {
    checks.push({ group: 'dmlab', name: 'deepmind_lab', status: 'warn', detail: `cpc-lab's fake module (${lab.file})${where}`, fix: 'the fake is for tests; point --dmlab-path / CPC_LAB_DMLAB_PATH at a real DeepMind Lab build to train' });
  } else {
    checks.push({ group: 'dmlab', name: 'deepmind_lab', status: 'ok', detail: `${lab.version ? `version ${lab.version}, ` : ''}${lab.file ?? 'built in'}${where}` });
  }
  return checks;
}

const MARK: Record<CheckStatus, string> = { ok: 'ok  ', warn: 'warn', missing: 'MISS' };

function summarize(checks: DoctorCheck[], ok: boolean, dmlabReady: boolean): string {
  const lines: string[] = [];
  for (const [group, title] of [['core', 'cpc-lab'], ['dmlab', 'DeepMind Lab bridge (dmlab: levels only)']] as const) {
    lines.push(`${title}:`);
    for (const c of checks.filter((x) => x.group === group)) {
      lines.push(`  [${MARK[c.status]}] ${c.name}: ${c.detail}`);
      if (c.fix) lines.push(`         fix: ${c.fix}`);
    }
  }
  lines.push(ok ? 'ready: builtin: and mock: levels' : 'NOT ready: fix the core checks above');
  const fake = checks.some((c) => c.name === 'deepmind_lab' && c.status === 'warn');
  lines.push(!dmlabReady ? 'dmlab: levels unavailable (see above)' : fake ? 'dmlab: levels run on the fake deepmind_lab (tests only)' : 'ready: dmlab: levels');
  return lines.join('\n');
}

export async function doctor(opts: DoctorOptions = {}): Promise<DoctorReport> {
  const [core, dmlab] = await Promise.all([
    coreChecks(opts.backends ?? true),
    dmlabChecks(resolvePython(opts.python), resolveDmlabPath(opts.dmlabPath), opts.timeoutMs ?? 30_000),
  ]);
  const checks = [...core, ...dmlab];
  const ok = core.every((c) => c.status !== 'missing');
  const dmlabReady = dmlab.every((c) => c.status !== 'missing');
  return { ok, dmlabReady, checks, summary: summarize(checks, ok, dmlabReady) };
}

/**
 * `cpc-lab doctor`: what this machine has for cpc-lab, and what to do about what it lacks.
 *
 * Core (needed for any run): Node.js, the ZeroMQ addon, a tensor backend. DeepMind Lab (needed
 * only for `dmlab:` levels): a Python 3 interpreter with pyzmq, msgpack and numpy, an importable
 * `deepmind_lab` module, and a Lab that runs: a small level is created with the chosen renderer and
 * stepped (a module that imports can still fail there, e.g. a lone deepmind_lab.so without its
 * renderer library). Each check says what was found, where, and how to fix what is missing.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname } from 'node:path';
import { z } from 'zod';
import { bridgeEnv, bridgeScript, resolveDmlabPath, resolvePython } from '../envs/dmlab/index.js';
import { ERROR_MARKER } from './transport/envProcess.js';

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
  /** Per Python probe, ms (default 30 000; trying a Lab gets twice that). */
  timeoutMs?: number;
  /** Renderer to try DeepMind Lab with (default `software`, as training uses by default). */
  renderer?: 'software' | 'hardware';
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

/** Level, frame size and agent steps (of 4 frames) the Lab is tried with: a static map, nothing to compile. */
const TRY_LEVEL = 'seekavoid_arena_01';
const TRY_STEPS = 100;

/**
 * Opens a Lab as the bridge does (its `open_lab`: same arguments, same start-up errors and hints), resets
 * and steps it, and prints `CPC_LAB_TRY {"resetMs", "stepMs"}`; a failure prints the bridge's CPC_LAB_ERROR.
 */
const TRY_LAB = `
import json, sys, time
sys.path.insert(0, sys.argv[1])
import numpy as np, server
_, lab, _ = server.open_lab(server.parse_args(['--level', '${TRY_LEVEL}', '--renderer', sys.argv[2]]))
try:
    t = time.perf_counter()
    lab.reset(seed=1)
    reset_ms = (time.perf_counter() - t) * 1e3
    act = np.array(server.ACTION_SET[0], dtype=np.intc)
    t = time.perf_counter()
    for _ in range(${TRY_STEPS}):
        lab.step(act, num_steps=4)
        if not lab.is_running():
            lab.reset(seed=2)
        lab.observations()
    step_ms = (time.perf_counter() - t) * 1e3 / ${TRY_STEPS}
    lab.close()
except Exception as e:
    server.fail_startup('lab_run_failed', '%s: %s' % (type(e).__name__, e))
print('\\nCPC_LAB_TRY ' + json.dumps({'resetMs': reset_ms, 'stepMs': step_ms}))  # a line of its own, whatever DeepMind Lab printed
`;
const tryLineSchema = z.object({ resetMs: z.number(), stepMs: z.number() });
const tryErrorSchema = z.object({ code: z.string(), message: z.string(), hint: z.string().optional() });

/** Creates, resets and steps a small Lab with `renderer`: what a `dmlab:` run will do first. */
function tryLab(python: string, dmlabPath: string | undefined, renderer: string, timeoutMs: number): Promise<DoctorCheck> {
  const name = `Lab (${renderer} renderer)`;
  return new Promise((resolve) => {
    execFile(python, ['-c', TRY_LAB, dirname(bridgeScript()), renderer], { env: bridgeEnv(dmlabPath), timeout: timeoutMs, encoding: 'utf8' }, (err, stdout, stderr) => {
      const lines = stdout.split('\n');
      const ok = lines.find((l) => l.startsWith('CPC_LAB_TRY '));
      if (!err && ok) {
        const t = tryLineSchema.parse(JSON.parse(ok.slice('CPC_LAB_TRY '.length)));
        return resolve({
          group: 'dmlab',
          name,
          status: 'ok',
          detail: `${TRY_LEVEL} at 96x72: reset ${t.resetMs.toFixed(0)} ms, ${t.stepMs.toFixed(2)} ms per agent step of 4 frames (mean of ${TRY_STEPS})`,
        });
      }
      const failed = lines.find((l) => l.startsWith(ERROR_MARKER));
      const parsed = failed ? tryErrorSchema.safeParse(JSON.parse(failed.slice(ERROR_MARKER.length))) : undefined;
      const engine = stderr.trim().split('\n').slice(-3).join(' | ');
      const what = parsed?.success ? parsed.data.message : err ? `${err.killed ? `no answer within ${timeoutMs} ms` : err.message.split('\n')[0]}` : 'no result';
      resolve({
        group: 'dmlab',
        name,
        status: 'missing',
        detail: `creating and stepping ${TRY_LEVEL} failed: ${what}${engine ? ` (DeepMind Lab said: ${engine})` : ''}`,
        fix:
          (parsed?.success && parsed.data.hint) ||
          (renderer === 'hardware' ? 'try --renderer software (no GPU needed), or check the GPU driver and EGL' : 'run the same level with DeepMind Lab\'s own python/random_agent.py to see its full error'),
      });
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

async function dmlabChecks(python: string, dmlabPath: string | undefined, renderer: string, timeoutMs: number): Promise<DoctorCheck[]> {
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
  // the bridge needs its modules to open a Lab as it does
  if (lab.ok && !missing.length) checks.push(await tryLab(probe.executable, dmlabPath, renderer, 2 * timeoutMs));
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
    dmlabChecks(resolvePython(opts.python), resolveDmlabPath(opts.dmlabPath), opts.renderer ?? 'software', opts.timeoutMs ?? 30_000),
  ]);
  const checks = [...core, ...dmlab];
  const ok = core.every((c) => c.status !== 'missing');
  const dmlabReady = dmlab.every((c) => c.status !== 'missing');
  return { ok, dmlabReady, checks, summary: summarize(checks, ok, dmlabReady) };
}

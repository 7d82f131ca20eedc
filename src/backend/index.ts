/**
 * Tensor-backend selection (DESIGN.md, "Tensor backends").
 *
 * Best first: `@tensorflow/tfjs-node-gpu` (CUDA), `@tensorflow/tfjs-node`, `webgpu` (npm `webgpu` = Dawn, plus
 * `@tensorflow/tfjs-backend-webgpu`, where a GPU adapter exists), `wasm` with the project's kernels, `cpu`.
 * The native and WebGPU packages are optional (a user installs them; they are not dependencies), so each is loaded
 * by dynamic import and a missing one is skipped. `tf.setBackend` returns false rather than throwing, so every
 * candidate is also checked with a small computation before it is accepted.
 *
 * Reading tensors: code must use `await t.data()` / `await t.array()`, never `dataSync()` / `arraySync()`:
 * tfjs-backend-webgpu's synchronous reads throw in Node (`OffscreenCanvas is not defined`).
 */
import * as tf from '@tensorflow/tfjs';
import { getThreadsCount } from '@tensorflow/tfjs-backend-wasm';
import { registerCpuKernels } from './cpuKernels.js';
import { quietTfjs } from './quiet.js';
import { registerWasmKernels } from './wasmKernels.js';

export { registerCpuKernels } from './cpuKernels.js';
export { copyValues, derivedCacheSize, registerWasmKernels, WASM_KERNEL_NAMES, wasmKernelChunks } from './wasmKernels.js';
export { profileKernels, formatKernelProfile } from './profile.js';
export type { KernelProfile, KernelStat, ProfileOptions } from './profile.js';

export type BackendName = 'tfjs-node-gpu' | 'tfjs-node' | 'webgpu' | 'wasm' | 'cpu';

/** Every backend, best first (the order 'auto' tries them in). */
export const BACKEND_NAMES: readonly BackendName[] = ['tfjs-node-gpu', 'tfjs-node', 'webgpu', 'wasm', 'cpu'];

export interface BackendInfo {
  /** The backend now active. */
  name: BackendName;
  /** What it runs on, e.g. `wasm: 1 thread, SIMD, project kernels` or the GPU adapter. */
  detail: string;
  /** With 'auto': the better backends that were passed over, and why. */
  skipped: { name: BackendName; reason: string }[];
}

/** An explicitly requested backend cannot be used; the message says what to do about it. */
export class BackendUnavailableError extends Error {
  override readonly name = 'BackendUnavailableError';
  constructor(
    readonly backend: BackendName,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** Why one candidate could not be used; `message` is the full, actionable text for an explicit request. */
class Unavailable extends Error {
  constructor(
    readonly reason: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/**
 * Selects, initialises and checks a tensor backend. With 'auto' (the default) the best available one is used;
 * an explicit request that cannot be satisfied throws a {@link BackendUnavailableError} saying how to fix it.
 */
export async function initBackend(requested: BackendName | 'auto' = 'auto'): Promise<BackendInfo> {
  quietTfjs();
  if (requested !== 'auto') {
    if (!BACKEND_NAMES.includes(requested)) {
      throw new Error(`unknown backend '${String(requested)}': expected one of auto, ${BACKEND_NAMES.join(', ')}`);
    }
    try {
      return { name: requested, detail: await activate(requested), skipped: [] };
    } catch (e) {
      if (e instanceof Unavailable) throw new BackendUnavailableError(requested, e.message, { cause: e.cause });
      throw e;
    }
  }
  const skipped: BackendInfo['skipped'] = [];
  for (const name of BACKEND_NAMES) {
    try {
      return { name, detail: await activate(name), skipped };
    } catch (e) {
      skipped.push({ name, reason: e instanceof Unavailable ? e.reason : errorText(e) });
    }
  }
  throw new Error(`no tensor backend could be initialised: ${skipped.map((s) => `${s.name}: ${s.reason}`).join('; ')}`);
}

async function activate(name: BackendName): Promise<string> {
  switch (name) {
    case 'tfjs-node-gpu':
      return activateNative('@tensorflow/tfjs-node-gpu', name);
    case 'tfjs-node':
      return activateNative('@tensorflow/tfjs-node', name);
    case 'webgpu':
      return activateWebGPU();
    case 'wasm':
      return activateWasm();
    case 'cpu':
      registerCpuKernels();
      await setBackendChecked('cpu', name);
      return 'cpu: pure JavaScript (slow: a last resort), project Conv2DBackpropFilter';
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Optional packages, imported through a string variable so that TypeScript and bundlers do not require them.
// ---------------------------------------------------------------------------------------------------------------

type Imported = { ok: true; module: Record<string, unknown> } | { ok: false; missing: boolean; error: unknown };

async function importOptional(specifier: string): Promise<Imported> {
  try {
    const module: unknown = await import(/* @vite-ignore */ specifier);
    return { ok: true, module: module as Record<string, unknown> };
  } catch (error) {
    return { ok: false, missing: isModuleNotFound(error, specifier), error };
  }
}

function isModuleNotFound(error: unknown, specifier: string): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  const text = errorText(error);
  if (!text.includes(specifier)) return false; // a dependency of the package is missing: a broken install
  return code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND' || /Cannot find (package|module)|Failed to (load|resolve)/i.test(text);
}

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

// ---------------------------------------------------------------------------------------------------------------
// Checks
// ---------------------------------------------------------------------------------------------------------------

/** `tf.setBackend` answers false (with a console warning) when a backend fails to initialise. */
async function setBackendChecked(tfName: string, name: BackendName): Promise<void> {
  const quiet = tf.env().getBool('PROD');
  tf.env().set('PROD', false);
  let ok: boolean;
  try {
    ok = await tf.setBackend(tfName);
  } finally {
    tf.env().set('PROD', quiet);
  }
  if (!ok || tf.getBackend() !== tfName) {
    throw new Unavailable('failed to initialise', `backend '${name}' failed to initialise (tf.setBackend('${tfName}') returned false; see the warning above)`);
  }
  await selfCheck(name);
}

/**
 * A computation whose answer is known, read back asynchronously. It exercises the failure seen on webgpu with
 * default limits (`tf.addN` of more than 7 inputs silently returned zeros) and a transposed matmul.
 */
async function selfCheck(name: BackendName): Promise<void> {
  const result = tf.tidy(() => {
    const ones = Array.from({ length: 9 }, () => tf.ones([4]));
    const a = tf.tensor2d([1, 2, 3, 4, 5, 6], [2, 3]);
    return tf.concat([tf.addN(ones), tf.matMul(a, a, false, true).reshape([4])]);
  });
  const got = Array.from(await result.data());
  result.dispose();
  const want = [9, 9, 9, 9, 14, 32, 32, 77];
  if (got.some((v, i) => Math.abs(v - want[i]!) > 1e-4)) {
    throw new Unavailable('wrong results', `backend '${name}' initialised but computes wrong results (self-check gave [${got.join(', ')}], expected [${want.join(', ')}])`);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// tfjs-node / tfjs-node-gpu
// ---------------------------------------------------------------------------------------------------------------

const NATIVE_HINT: Record<string, string> = {
  '@tensorflow/tfjs-node': 'its install downloads libtensorflow, so it needs network access',
  '@tensorflow/tfjs-node-gpu': 'its install downloads libtensorflow with CUDA support (CUDA 11.2, cuDNN 8.1), so it needs network access and an NVIDIA driver',
};

async function activateNative(pkg: '@tensorflow/tfjs-node' | '@tensorflow/tfjs-node-gpu', name: BackendName): Promise<string> {
  const imported = await importOptional(pkg);
  if (!imported.ok) {
    if (imported.missing) {
      throw new Unavailable('not installed',
        `backend '${name}' requested but ${pkg} is not installed: npm install ${pkg}@${tf.version_core} (${NATIVE_HINT[pkg]})`);
    }
    throw new Unavailable(`failed to load: ${errorText(imported.error)}`,
      `backend '${name}' requested but ${pkg} failed to load (${errorText(imported.error)}); reinstall it: npm install ${pkg}@${tf.version_core}`,
      { cause: imported.error });
  }
  // The package registers 'tensorflow' with the tfjs-core it resolves; a second copy of tfjs-core means a version
  // mismatch, and our tf never sees the backend.
  if (!tf.engine().registryFactory['tensorflow']) {
    throw new Unavailable('registered with another copy of tfjs-core',
      `backend '${name}' requested but ${pkg} registered its backend with a different copy of @tensorflow/tfjs-core; install the version matching @tensorflow/tfjs ${tf.version_core}: npm install ${pkg}@${tf.version_core}`);
  }
  await setBackendChecked('tensorflow', name);
  const native = tf.backend() as { isUsingGpuDevice?: boolean };
  if (pkg === '@tensorflow/tfjs-node-gpu') {
    return native.isUsingGpuDevice ? 'tfjs-node-gpu: libtensorflow with CUDA, GPU device in use' : 'tfjs-node-gpu: libtensorflow, no CUDA device found (running on CPU)';
  }
  return 'tfjs-node: libtensorflow on CPU';
}

// ---------------------------------------------------------------------------------------------------------------
// webgpu: a `navigator.gpu` shim over Dawn's Node bindings (npm `webgpu`), and our own backend factory.
// tfjs-backend-webgpu 4.22's factory leaves maxStorageBuffersPerShaderStage at the default 8, so e.g. tf.addN of
// more than 7 inputs fails pipeline validation and silently returns zeros (seen on an H100); we request the
// adapter's real limits.
// ---------------------------------------------------------------------------------------------------------------

/** The parts of the WebGPU API used here (the `webgpu` package's types are not a dependency). */
interface GpuAdapterLike {
  readonly limits: Readonly<Record<string, number>>;
  readonly features: { has(feature: string): boolean };
  readonly info?: { vendor?: string; architecture?: string; device?: string; description?: string };
  requestDevice(descriptor: { requiredFeatures: string[]; requiredLimits: Record<string, number> }): Promise<unknown>;
}

interface GpuLike {
  requestAdapter(options?: { powerPreference?: 'high-performance' | 'low-power' }): Promise<GpuAdapterLike | null>;
}

type WebGPUBackendCtor = new (device: unknown, adapterInfo?: unknown) => tf.KernelBackend;

const RAISED_LIMITS = [
  'maxComputeWorkgroupStorageSize',
  'maxComputeWorkgroupsPerDimension',
  'maxStorageBufferBindingSize',
  'maxBufferSize',
  'maxComputeWorkgroupSizeX',
  'maxComputeInvocationsPerWorkgroup',
  'maxStorageBuffersPerShaderStage',
] as const;

const WEBGPU_INSTALL = `npm install webgpu @tensorflow/tfjs-backend-webgpu@${tf.version_core}`;

async function activateWebGPU(): Promise<string> {
  const dawn = await importOptional('webgpu');
  if (!dawn.ok) {
    throw new Unavailable(dawn.missing ? 'npm package webgpu not installed' : `webgpu failed to load: ${errorText(dawn.error)}`,
      dawn.missing
        ? `backend 'webgpu' requested but the npm package 'webgpu' (Dawn for Node) is not installed: ${WEBGPU_INSTALL}`
        : `backend 'webgpu' requested but the npm package 'webgpu' failed to load (${errorText(dawn.error)}); reinstall it: ${WEBGPU_INSTALL}`,
      { cause: dawn.error });
  }
  const { create, globals } = dawn.module as { create?: (flags: string[]) => GpuLike; globals?: Record<string, unknown> };
  if (typeof create !== 'function') {
    throw new Unavailable('unexpected webgpu package API', `backend 'webgpu' requested but the installed 'webgpu' package has no create(): ${WEBGPU_INSTALL}`);
  }
  Object.assign(globalThis, globals ?? {}); // GPUBufferUsage, GPUMapMode, GPUShaderStage, ... used by tfjs-backend-webgpu
  const g = globalThis as { navigator?: object };
  if (!g.navigator) g.navigator = {}; // Node 20 has no navigator
  const gpu = create([]);
  Object.defineProperty(g.navigator, 'gpu', { value: gpu, configurable: true });
  const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
  if (!adapter) {
    throw new Unavailable('no GPU adapter',
      "backend 'webgpu' requested but no WebGPU adapter was found (it needs a GPU and a Vulkan, Metal or D3D12 driver; check that the Vulkan loader and the GPU's ICD are installed)");
  }
  // Imported after navigator.gpu exists: the package only registers itself when it sees navigator.gpu.
  const tfwebgpu = await importOptional('@tensorflow/tfjs-backend-webgpu');
  if (!tfwebgpu.ok) {
    throw new Unavailable(tfwebgpu.missing ? '@tensorflow/tfjs-backend-webgpu not installed' : `tfjs-backend-webgpu failed to load: ${errorText(tfwebgpu.error)}`,
      `backend 'webgpu' requested but @tensorflow/tfjs-backend-webgpu ${tfwebgpu.missing ? 'is not installed' : `failed to load (${errorText(tfwebgpu.error)})`}: ${WEBGPU_INSTALL}`,
      { cause: tfwebgpu.error });
  }
  const WebGPUBackend = tfwebgpu.module['WebGPUBackend'] as WebGPUBackendCtor | undefined;
  if (typeof WebGPUBackend !== 'function') {
    throw new Unavailable('unexpected tfjs-backend-webgpu API', `backend 'webgpu' requested but @tensorflow/tfjs-backend-webgpu exports no WebGPUBackend: ${WEBGPU_INSTALL}`);
  }
  if (tf.engine().registryFactory['webgpu']) tf.removeBackend('webgpu');
  let factoryError: unknown;
  tf.registerBackend('webgpu', async () => {
    try {
      const requiredFeatures = ['timestamp-query', 'bgra8unorm-storage'].filter((f) => adapter.features.has(f));
      const requiredLimits: Record<string, number> = {};
      for (const k of RAISED_LIMITS) if (typeof adapter.limits[k] === 'number') requiredLimits[k] = adapter.limits[k];
      const device = await adapter.requestDevice({ requiredFeatures, requiredLimits });
      return new WebGPUBackend(device, adapter.info);
    } catch (e) {
      factoryError = e;
      throw e;
    }
  }, 3);
  try {
    await setBackendChecked('webgpu', 'webgpu');
  } catch (e) {
    if (factoryError !== undefined && e instanceof Unavailable) {
      throw new Unavailable(`device creation failed: ${errorText(factoryError)}`,
        `backend 'webgpu' requested but the GPU device could not be created: ${errorText(factoryError)}`, { cause: factoryError });
    }
    throw e;
  }
  const i = adapter.info ?? {};
  const name = [i.vendor, i.architecture, i.device, i.description].filter((s) => s).join(' ') || 'unknown adapter';
  return `webgpu: ${name} (Dawn; read tensors with await data())`;
}

// ---------------------------------------------------------------------------------------------------------------
// wasm
// ---------------------------------------------------------------------------------------------------------------

async function activateWasm(): Promise<string> {
  registerWasmKernels(); // before setBackend
  await setBackendChecked('wasm', 'wasm');
  const simd = Boolean(await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT'));
  const threads = getThreadsCount();
  return `wasm: XNNPACK, ${threads} thread${threads === 1 ? '' : 's'}, ${simd ? 'SIMD' : 'no SIMD'}, project kernels`;
}

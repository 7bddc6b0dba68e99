/**
 * ML backend preflight: which TensorFlow.js backends load here, and exactly
 * why the others do not. Fovea never falls back silently: `fovea info` and
 * the app show this table and the reason for the choice.
 *
 * Order of preference: tensorflow-gpu (@tensorflow/tfjs-node-gpu, CUDA) >
 * webgpu (@tensorflow/tfjs-backend-webgpu on Dawn, any GPU with its normal
 * driver; a software adapter is never chosen here, only when asked for by
 * name) > tensorflow-cpu (@tensorflow/tfjs-node) > wasm
 * (@tensorflow/tfjs-backend-wasm with Fovea's training kernels) > cpu
 * (inference only).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { delimiter, join } from 'node:path';
import type { BackendName, BackendStatus, GpuAdapterInfo, GpuInfo, InferenceEngineStatus, MlPreflight } from '../../electron/contract/domain';
import { defaultInferenceThreads, loadOnnxRuntime } from '../train/onnx-inference';

const require = createRequire(import.meta.url);

/** tfjs-node-gpu 4.x is built against these (tfjs #8505, #8269). */
export const CUDA_REQUIREMENT = {
  cuda: '11.2',
  cudnn: '8.1',
  libraries: ['libcudart.so.11.0', 'libcublas.so.11', 'libcudnn.so.8'],
  windowsLibraries: ['cudart64_110.dll', 'cublas64_11.dll', 'cudnn64_8.dll'],
} as const;

export interface PreflightProbes {
  /** Version of an installed package, or null if it is not installed. */
  packageVersion(name: string): string | null;
  /** Load a tfjs-node flavour in this process; throws with the loader's message. */
  loadNodeBinding(name: '@tensorflow/tfjs-node-gpu' | '@tensorflow/tfjs-node'): Promise<void>;
  /** Initialise the wasm backend from local files; throws with the reason. */
  loadWasm(): Promise<void>;
  /** GPUs the NVIDIA driver reports; [] with a note when there is no driver. */
  gpus(): { gpus: GpuInfo[]; note: string | null };
  /** Which of the given shared libraries the dynamic loader can find. */
  findLibraries(names: readonly string[]): Record<string, string | null>;
  platform: NodeJS.Platform;
  /** Load onnxruntime-node (the inference engine); its version, or throws with the reason. Default: the real load. */
  loadOnnxRuntime?(): Promise<string>;
  /** The WebGPU adapter Dawn finds, or throws with the reason. Default: the real probe. */
  webGpuAdapter?(): Promise<GpuAdapterInfo>;
}

function packageVersion(name: string): string | null {
  try {
    const pkgPath = require.resolve(`${name}/package.json`);
    return (JSON.parse(readFileSync(pkgPath, 'utf8')) as { version?: string }).version ?? null;
  } catch {
    return null;
  }
}

function nvidiaSmiGpus(): { gpus: GpuInfo[]; note: string | null } {
  try {
    const out = execFileSync('nvidia-smi', ['--query-gpu=name,memory.total,driver_version', '--format=csv,noheader,nounits'], {
      encoding: 'utf8',
      timeout: 5000,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const gpus = out
      .split('\n')
      .map((l) => l.trim())
      .filter(Boolean)
      .map((line) => {
        const [name = 'NVIDIA GPU', mem = '', driver = ''] = line.split(',').map((s) => s.trim());
        const memoryMiB = Number.parseInt(mem, 10);
        return { name, memoryMiB: Number.isFinite(memoryMiB) ? memoryMiB : null, driverVersion: driver || null };
      });
    return { gpus, note: null };
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    return {
      gpus: [],
      note: code === 'ENOENT' ? 'no NVIDIA driver found (nvidia-smi is not installed)' : `nvidia-smi failed: ${(e as Error).message.split('\n')[0]}`,
    };
  }
}

function libraryDirs(platform: NodeJS.Platform): string[] {
  const dirs = new Set<string>();
  const envVar = platform === 'win32' ? 'PATH' : platform === 'darwin' ? 'DYLD_LIBRARY_PATH' : 'LD_LIBRARY_PATH';
  for (const d of (process.env[envVar] ?? '').split(delimiter)) if (d) dirs.add(d);
  if (platform === 'linux') {
    for (const d of ['/usr/lib/x86_64-linux-gnu', '/usr/lib64', '/usr/lib', '/usr/local/lib', '/usr/local/cuda/lib64', '/usr/local/cuda-11.2/lib64']) dirs.add(d);
    try {
      for (const e of readdirSync('/usr/local')) if (e.startsWith('cuda')) dirs.add(join('/usr/local', e, 'lib64'));
    } catch {
      /* no /usr/local */
    }
  }
  if (platform === 'win32' && process.env['CUDA_PATH']) dirs.add(join(process.env['CUDA_PATH'], 'bin'));
  return [...dirs];
}

function findLibraries(names: readonly string[], platform: NodeJS.Platform): Record<string, string | null> {
  const found: Record<string, string | null> = {};
  let ldconfig = '';
  if (platform === 'linux') {
    try {
      ldconfig = execFileSync('ldconfig', ['-p'], { encoding: 'utf8', timeout: 5000, stdio: ['ignore', 'pipe', 'ignore'] });
    } catch {
      ldconfig = '';
    }
  }
  const dirs = libraryDirs(platform);
  for (const name of names) {
    let hit: string | null = null;
    const m = ldconfig.split('\n').find((l) => l.trim().startsWith(`${name} `));
    if (m) hit = m.split('=>')[1]?.trim() ?? name;
    if (!hit) for (const d of dirs) if (existsSync(join(d, name))) { hit = join(d, name); break; }
    found[name] = hit;
  }
  return found;
}

export function defaultProbes(): PreflightProbes {
  return {
    packageVersion,
    async loadNodeBinding(name) {
      // Loading registers the 'tensorflow' backend with tfjs-core.
      require(name);
    },
    async loadWasm() {
      const { initWasmBackend } = await import('./wasm-setup');
      await initWasmBackend();
    },
    gpus: nvidiaSmiGpus,
    findLibraries: (names) => findLibraries(names, process.platform),
    platform: process.platform,
    loadOnnxRuntime: realOnnxRuntimeLoad,
  };
}

async function realWebGpuAdapter(): Promise<GpuAdapterInfo> {
  const { probeWebGpuAdapter } = await import('./webgpu-setup');
  return probeWebGpuAdapter();
}

async function realOnnxRuntimeLoad(): Promise<string> {
  const r = await loadOnnxRuntime();
  if (!r.ok) throw new Error(r.reason);
  return r.version;
}

/** Which engine runs predictions with the chosen backend (see native-models/train/inference.ts). */
async function probeInference(p: PreflightProbes, chosen: BackendName | null): Promise<InferenceEngineStatus | undefined> {
  if (chosen == null) return undefined;
  if (chosen === 'tensorflow-gpu' || chosen === 'webgpu') return { engine: 'tfjs', version: null, reason: `TF.js on ${chosen} (the GPU) runs predictions.` };
  try {
    const version = await (p.loadOnnxRuntime ?? realOnnxRuntimeLoad)();
    const threads = defaultInferenceThreads();
    return {
      engine: 'onnxruntime',
      version,
      reason: `onnxruntime-node ${version} runs predictions on the CPU (${threads} thread${threads === 1 ? '' : 's'}), each checkpoint converted to ONNX in memory; a model with a layer it cannot convert runs on TF.js ${chosen}.`,
    };
  } catch (e) {
    return { engine: 'tfjs', version: null, reason: `TF.js on ${chosen} runs predictions: ${firstLine(e)}.` };
  }
}

function firstLine(e: unknown): string {
  return (e instanceof Error ? e.message : String(e)).split('\n')[0]?.trim() ?? 'unknown error';
}

async function probeGpu(p: PreflightProbes, gpus: GpuInfo[], gpuNote: string | null): Promise<BackendStatus> {
  const pkg = '@tensorflow/tfjs-node-gpu';
  const version = p.packageVersion(pkg);
  const libs = p.platform === 'win32' ? CUDA_REQUIREMENT.windowsLibraries : CUDA_REQUIREMENT.libraries;
  const base = { name: 'tensorflow-gpu' as const, package: pkg, canTrain: true, version };
  const need = `It needs an NVIDIA GPU with CUDA ${CUDA_REQUIREMENT.cuda} and cuDNN ${CUDA_REQUIREMENT.cudnn} (${libs.join(', ')}).`;
  if (p.platform === 'darwin') {
    return { ...base, available: false, summary: 'no CUDA on macOS', reason: `${pkg} has no macOS build (CUDA is not available on macOS).` };
  }
  const found = p.findLibraries(libs);
  const missing = libs.filter((l) => !found[l]);
  const gpuPart = gpus.length ? `GPU: ${gpus.map((g) => g.name).join(', ')}.` : `No GPU detected (${gpuNote ?? 'none reported'}).`;
  const libPart = missing.length ? `Missing libraries: ${missing.join(', ')}.` : 'CUDA/cuDNN libraries found.';
  if (!version) {
    return {
      ...base,
      available: false,
      summary: 'not installed',
      reason:
        `${pkg} is not installed (an optional dependency: its install downloads libtensorflow, which failed or was skipped). ` +
        `${need} ${gpuPart} ${libPart} Install it with \`npm install ${pkg}\` on a machine with network access.`,
    };
  }
  if (missing.length) {
    return { ...base, available: false, summary: `missing ${missing.join(', ')}`, reason: `${pkg} ${version} is installed but cannot load: ${libPart} ${need} ${gpuPart}` };
  }
  try {
    await p.loadNodeBinding(pkg);
    return { ...base, available: true, summary: 'loaded', reason: `${pkg} ${version} loaded with CUDA. ${gpuPart}` };
  } catch (e) {
    return { ...base, available: false, summary: 'failed to load', reason: `${pkg} ${version} failed to load: ${firstLine(e)}. ${need} ${gpuPart}` };
  }
}

async function probeNodeCpu(p: PreflightProbes): Promise<BackendStatus> {
  const pkg = '@tensorflow/tfjs-node';
  const version = p.packageVersion(pkg);
  const base = { name: 'tensorflow-cpu' as const, package: pkg, canTrain: true, version };
  if (!version) {
    return {
      ...base,
      available: false,
      summary: 'not installed',
      reason: `${pkg} is not installed (optional; its install downloads libtensorflow). Install it with \`npm install ${pkg}\` for faster CPU training.`,
    };
  }
  try {
    await p.loadNodeBinding(pkg);
    return { ...base, available: true, summary: 'loaded', reason: `${pkg} ${version} loaded (libtensorflow on the CPU).` };
  } catch (e) {
    return { ...base, available: false, summary: 'failed to load', reason: `${pkg} ${version} failed to load: ${firstLine(e)}.` };
  }
}

async function probeWasm(p: PreflightProbes): Promise<BackendStatus> {
  const pkg = '@tensorflow/tfjs-backend-wasm';
  const version = p.packageVersion(pkg);
  const base = { name: 'wasm' as const, package: pkg, canTrain: true, version };
  if (!version) return { ...base, available: false, summary: 'not installed', reason: `${pkg} is not installed; run \`npm install\`.` };
  try {
    await p.loadWasm();
    return { ...base, available: true, summary: 'loaded', reason: `${pkg} ${version} loaded from local files (SIMD, with Fovea's training kernels).` };
  } catch (e) {
    return { ...base, available: false, summary: 'failed to initialise', reason: `${pkg} ${version} failed to initialise: ${firstLine(e)}.` };
  }
}

async function probeWebGpu(p: PreflightProbes): Promise<BackendStatus> {
  const pkg = '@tensorflow/tfjs-backend-webgpu';
  const version = p.packageVersion(pkg);
  const dawn = p.packageVersion('webgpu');
  const base = { name: 'webgpu' as const, package: pkg, canTrain: true, version };
  if (!version || !dawn) {
    return { ...base, available: false, summary: 'not installed', reason: `${!version ? pkg : 'webgpu (Dawn\'s Node bindings)'} is not installed; reinstall Fovea.` };
  }
  if (p.platform === 'linux' && !p.webGpuAdapter) {
    // Dawn needs the Vulkan loader; checked first so Dawn is not loaded just to print its own warning.
    const loader = p.findLibraries(['libvulkan.so.1'])['libvulkan.so.1'];
    if (!loader) {
      return {
        ...base,
        available: false,
        summary: 'no Vulkan',
        reason: `${pkg} ${version} on Dawn ${dawn}: no Vulkan loader (libvulkan.so.1). Install libvulkan1 and the GPU's Vulkan driver (mesa-vulkan-drivers, or the NVIDIA driver) to train on the GPU.`,
      };
    }
  }
  try {
    const adapter = await (p.webGpuAdapter ?? realWebGpuAdapter)();
    const { adapterSummary } = await import('./webgpu-setup');
    if (adapter.software) {
      return {
        ...base,
        adapter,
        available: true,
        summary: 'software adapter only',
        reason: `Only a software adapter: ${adapterSummary(adapter)}. It runs on the CPU, slower than wasm: never chosen automatically; \`--backend webgpu\` uses it with a warning. Install the GPU's Vulkan/D3D12/Metal driver for a hardware adapter.`,
      };
    }
    return { ...base, adapter, available: true, summary: 'loaded', reason: `${pkg} ${version} on Dawn ${dawn}: ${adapterSummary(adapter)}.` };
  } catch (e) {
    return { ...base, available: false, summary: 'no adapter', reason: `${pkg} ${version} on Dawn ${dawn}: ${firstLine(e)}.` };
  }
}

/** Whether 'auto' may pick this backend: a software WebGPU adapter is never picked silently. */
export function autoEligible(b: BackendStatus): boolean {
  return b.available && !(b.name === 'webgpu' && b.adapter?.software === true);
}

function probeCpu(p: PreflightProbes): BackendStatus {
  const pkg = '@tensorflow/tfjs-backend-cpu';
  const version = p.packageVersion(pkg);
  return {
    name: 'cpu',
    package: pkg,
    version,
    available: version !== null,
    canTrain: false,
    summary: version ? 'inference only' : 'not installed',
    reason: version ? 'Plain JavaScript: inference only (far too slow to train).' : `${pkg} is not installed; run \`npm install\`.`,
  };
}

const ORDER: readonly BackendName[] = ['tensorflow-gpu', 'webgpu', 'tensorflow-cpu', 'wasm', 'cpu'];

/** Probe every backend (in order) and choose one. Never throws. */
export async function runPreflight(probes: PreflightProbes = defaultProbes()): Promise<MlPreflight> {
  const { gpus, note } = probes.gpus();
  const gpu = await probeGpu(probes, gpus, note);
  // Only one tfjs-node flavour can load in a process: skip the CPU one when the GPU one loaded.
  const nodeCpu: BackendStatus = gpu.available
    ? {
        name: 'tensorflow-cpu',
        package: '@tensorflow/tfjs-node',
        canTrain: true,
        version: probes.packageVersion('@tensorflow/tfjs-node'),
        available: false,
        summary: 'not needed',
        reason: 'Not loaded: tensorflow-gpu is in use (only one libtensorflow can load per process).',
      }
    : await probeNodeCpu(probes);
  const webgpu = await probeWebGpu(probes);
  const wasm = await probeWasm(probes);
  const cpu = probeCpu(probes);
  const backends = [gpu, webgpu, nodeCpu, wasm, cpu];
  const eligible = (n: BackendName) => backends.some((b) => b.name === n && autoEligible(b));
  const chosen = ORDER.find(eligible) ?? null;
  const skipped = backends.filter((b) => ORDER.indexOf(b.name) < (chosen ? ORDER.indexOf(chosen) : ORDER.length));
  const why = chosen
    ? `Using ${chosen}${skipped.length ? ` because ${skipped.map((b) => `${b.name} is unavailable (${b.summary})`).join(' and ')}` : ': the fastest backend available'}.` +
      (chosen === 'cpu' ? ' Training is disabled on the cpu backend.' : '')
    : 'No TensorFlow.js backend could load: reinstall Fovea.';
  const inference = await probeInference(probes, chosen);
  return { backends, chosen, why: inference ? `${why} Inference: ${inference.reason}` : why, gpus, ...(inference ? { inference } : {}) };
}

/**
 * TensorFlow.js's WebGPU backend in Node, on Dawn's Node bindings (the `webgpu` package: Vulkan on
 * Linux, D3D12 on Windows, Metal on macOS, with only the normal GPU driver).
 *
 * tfjs-backend-webgpu registers itself only when `navigator.gpu` exists at import time, so this
 * module installs Dawn's GPU object (and the WebGPU globals: GPUBufferUsage, GPUMapMode...) before
 * importing it. Everything is per thread: the training and inference workers each call
 * `initWebGpuBackend()`.
 *
 * Faults: Dawn reports a lost device (driver reset, GPU unplugged), an out-of-memory and a shader
 * that fails to compile as events on the device, not as exceptions of the op that caused them.
 * `takeWebGpuFault()` returns the first such fault since the backend started; the trainer checks it
 * after every step's read-back and stops the run with it (never continuing on the CPU).
 */
import * as tf from '@tensorflow/tfjs';
import type { GpuAdapterInfo } from '../../electron/contract/domain';

/** Names of software adapters (no GPU underneath); Dawn's isFallbackAdapter is not reliable for Vulkan ICDs. */
const SOFTWARE_ADAPTER = /swiftshader|llvmpipe|lavapipe|softpipe|microsoft basic render|\bwarp\b/i;

interface DawnModule {
  create(options: string[]): GPU;
  globals: object;
}

const state: { gpu: GPU | null; init: Promise<GpuAdapterInfo> | null; fault: string | null } = { gpu: null, init: null, fault: null };

/** Loads Dawn and installs navigator.gpu and the WebGPU globals in this thread (once). */
async function installDawn(): Promise<GPU> {
  if (state.gpu) return state.gpu;
  const dawn = (await import('webgpu')) as unknown as DawnModule;
  Object.assign(globalThis, dawn.globals);
  const gpu = dawn.create([]);
  const g = globalThis as { navigator?: object };
  // Node 21+ has a navigator object (a getter on globalThis); Node 20 has none.
  if (g.navigator) Object.defineProperty(g.navigator, 'gpu', { value: gpu, configurable: true });
  else Object.defineProperty(globalThis, 'navigator', { value: { gpu }, configurable: true, writable: true });
  state.gpu = gpu;
  return gpu;
}

const MiB = 2 ** 20;

export function describeAdapter(adapter: GPUAdapter): GpuAdapterInfo {
  const i = adapter.info;
  const text = `${i.vendor} ${i.architecture} ${i.device} ${i.description}`;
  const fallback = (adapter as { isFallbackAdapter?: boolean }).isFallbackAdapter === true || (i as { isFallbackAdapter?: boolean }).isFallbackAdapter === true;
  return {
    vendor: i.vendor,
    architecture: i.architecture,
    device: i.device,
    description: i.description,
    software: fallback || SOFTWARE_ADAPTER.test(text),
    maxBufferMiB: Math.floor(adapter.limits.maxBufferSize / MiB),
    maxStorageBufferBindingMiB: Math.floor(adapter.limits.maxStorageBufferBindingSize / MiB),
  };
}

/** One line for a person: "google swiftshader (SwiftShader driver 5.0.0), software, max buffer 1024 MiB". */
export function adapterSummary(a: GpuAdapterInfo): string {
  const name = [a.vendor, a.architecture].filter(Boolean).join(' ') || 'unknown vendor';
  const detail = [a.device, a.description].filter(Boolean).join(', ');
  return `${name}${detail ? ` (${detail})` : ''}, ${a.software ? 'SOFTWARE adapter (no GPU)' : 'hardware'}, max buffer ${a.maxBufferMiB} MiB, max storage binding ${a.maxStorageBufferBindingMiB} MiB`;
}

/**
 * The adapter this thread would train on, without starting tfjs: for preflight. Throws with the
 * reason when Dawn does not load or finds no adapter.
 */
export async function probeWebGpuAdapter(): Promise<GpuAdapterInfo> {
  const gpu = await installDawn();
  const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
  if (adapter == null) {
    throw new Error(
      process.platform === 'linux'
        ? 'no WebGPU adapter: Dawn found no Vulkan driver (install the GPU vendor\'s Vulkan driver, e.g. mesa-vulkan-drivers or the NVIDIA driver, and check that libvulkan.so.1 is present)'
        : process.platform === 'win32'
          ? 'no WebGPU adapter: Dawn found no D3D12 device (update the GPU driver)'
          : 'no WebGPU adapter: Dawn found no Metal device',
    );
  }
  return describeAdapter(adapter);
}

async function init(): Promise<GpuAdapterInfo> {
  const info = await probeWebGpuAdapter();
  await import('@tensorflow/tfjs-backend-webgpu');
  if (!(await tf.setBackend('webgpu'))) throw new Error('the webgpu backend failed to initialise');
  await tf.ready();
  watchDevice();
  return info;
}

/** The backend's GPUDevice (tfjs-backend-webgpu keeps it as `device`). */
function backendDevice(): GPUDevice | null {
  const b = tf.findBackend('webgpu') as unknown as { device?: GPUDevice } | null;
  return b?.device ?? null;
}

function watchDevice(): void {
  const device = backendDevice();
  if (device == null) return;
  void device.lost.then((info) => {
    state.fault ??= `The GPU device was lost (${info.reason === 'destroyed' ? 'destroyed' : 'driver reset, GPU removed or hung'}): ${info.message || 'no detail'}.`;
  });
  device.addEventListener('uncapturederror', (ev) => {
    const err = (ev as GPUUncapturedErrorEvent).error;
    const kind = err instanceof GPUOutOfMemoryError ? 'out of GPU memory' : err instanceof GPUValidationError ? 'GPU validation error (a shader failed to compile or a buffer exceeded a limit)' : 'GPU internal error';
    state.fault ??= `${kind}: ${err.message.split('\n')[0] ?? ''}`;
  });
}

/**
 * Makes 'webgpu' the active backend of this thread. Idempotent; the adapter is returned for the
 * log. Throws with the reason (no adapter, Dawn missing) when it cannot start.
 */
export async function initWebGpuBackend(): Promise<GpuAdapterInfo> {
  if (state.init == null) {
    state.init = init().catch((e: unknown) => {
      state.init = null;
      throw e;
    });
    return state.init;
  }
  const info = await state.init;
  if (tf.getBackend() !== 'webgpu') await tf.setBackend('webgpu');
  return info;
}

/** The first device fault since the backend started (and clears it), or null. */
export function takeWebGpuFault(): string | null {
  const f = state.fault;
  state.fault = null;
  return f;
}

/** Tests: report a fault as Dawn would (a lost device cannot be provoked on purpose in SwiftShader). */
export function injectWebGpuFault(message: string): void {
  state.fault ??= message;
}

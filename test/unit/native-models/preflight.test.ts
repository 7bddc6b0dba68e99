import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { GpuAdapterInfo } from '../../../electron/contract/domain';
import { runPreflight, type PreflightProbes } from '../../../native-models/backends/preflight';
import { chooseBackend } from '../../../native-models/train/backend';

function probes(over: Partial<PreflightProbes>): PreflightProbes {
  return {
    packageVersion: (n) => (n.includes('tfjs-node') ? null : '4.22.0'),
    loadNodeBinding: async () => {
      throw new Error('should not be called');
    },
    loadWasm: async () => {},
    gpus: () => ({ gpus: [], note: 'no NVIDIA driver found (nvidia-smi is not installed)' }),
    findLibraries: (names) => Object.fromEntries(names.map((n) => [n, null])),
    platform: 'linux',
    ...over,
  };
}

test('no tfjs-node: wasm is chosen and the GPU row says what is missing and what it needs', async () => {
  const r = await runPreflight(probes({}));
  assert.equal(r.chosen, 'wasm');
  const gpu = r.backends.find((b) => b.name === 'tensorflow-gpu');
  assert.equal(gpu?.available, false);
  assert.match(gpu?.reason ?? '', /not installed/);
  assert.match(gpu?.reason ?? '', /CUDA 11\.2 and cuDNN 8\.1/);
  assert.match(gpu?.reason ?? '', /libcudnn\.so\.8/);
  assert.match(r.why, /^Using wasm because tensorflow-gpu is unavailable .*tensorflow-cpu is unavailable/);
});

test('tfjs-node-gpu installed but cuDNN missing: named precisely, CPU tfjs-node used when it loads', async () => {
  const loaded: string[] = [];
  const r = await runPreflight(
    probes({
      packageVersion: () => '4.22.0',
      loadNodeBinding: async (n) => {
        loaded.push(n);
      },
      gpus: () => ({ gpus: [{ name: 'NVIDIA RTX A4000', memoryMiB: 16376, driverVersion: '535.1' }], note: null }),
      findLibraries: (names) => Object.fromEntries(names.map((n) => [n, n === 'libcudnn.so.8' ? null : `/usr/lib/${n}`])),
    }),
  );
  const gpu = r.backends.find((b) => b.name === 'tensorflow-gpu');
  assert.equal(gpu?.available, false);
  assert.match(gpu?.reason ?? '', /Missing libraries: libcudnn\.so\.8\./);
  assert.match(gpu?.reason ?? '', /RTX A4000/);
  assert.equal(r.chosen, 'tensorflow-cpu');
  assert.deepEqual(loaded, ['@tensorflow/tfjs-node'], 'the GPU binding is not even tried without its libraries');
  assert.equal(r.gpus[0]?.memoryMiB, 16376);
});

test('everything fails but cpu: cpu is chosen and the user is told training is disabled', async () => {
  const r = await runPreflight(
    probes({
      loadWasm: async () => {
        throw new Error('wasm file missing\nstack');
      },
    }),
  );
  assert.equal(r.chosen, 'cpu');
  assert.match(r.why, /Training is disabled/);
  assert.match(r.backends.find((b) => b.name === 'wasm')?.reason ?? '', /failed to initialise: wasm file missing\.$/);
});

test('the real preflight on this machine chooses wasm and loads it from local files', async () => {
  const r = await runPreflight();
  assert.equal(r.chosen, 'wasm', r.why);
  const wasm = r.backends.find((b) => b.name === 'wasm');
  assert.equal(wasm?.available, true, wasm?.reason);
});

test('the inference engine is reported: ONNX Runtime when it loads, TF.js with the reason when not', async () => {
  const ok = await runPreflight(probes({ loadOnnxRuntime: async () => '1.30.0' }));
  assert.equal(ok.inference?.engine, 'onnxruntime');
  assert.equal(ok.inference?.version, '1.30.0');
  assert.match(ok.why, /Inference: onnxruntime-node 1\.30\.0 runs predictions on the CPU \(\d+ threads?\).*runs on TF\.js wasm\.$/);

  const missing = await runPreflight(
    probes({
      loadOnnxRuntime: async () => {
        throw new Error("onnxruntime-node failed to load: Cannot find module 'onnxruntime-node'");
      },
    }),
  );
  assert.equal(missing.inference?.engine, 'tfjs');
  assert.equal(missing.inference?.version, null);
  assert.match(missing.why, /Inference: TF\.js on wasm runs predictions: onnxruntime-node failed to load: Cannot find module/);

  // The real probe (default): onnxruntime-node is a dependency and loads here.
  const real = await runPreflight(probes({}));
  assert.equal(real.inference?.engine, 'onnxruntime', real.why);
});

const adapter = (over: Partial<GpuAdapterInfo>): GpuAdapterInfo => ({
  vendor: 'nvidia',
  architecture: 'ampere',
  device: 'NVIDIA RTX A4000',
  description: 'Vulkan driver',
  software: false,
  maxBufferMiB: 4096,
  maxStorageBufferBindingMiB: 2048,
  ...over,
});

test('a hardware WebGPU adapter: auto picks webgpu (before tfjs-node and wasm) and the row names the adapter and its limits', async () => {
  const r = await runPreflight(probes({ webGpuAdapter: async () => adapter({}) }));
  assert.equal(r.chosen, 'webgpu');
  const w = r.backends.find((b) => b.name === 'webgpu');
  assert.equal(w?.available, true);
  assert.match(w?.reason ?? '', /nvidia ampere \(NVIDIA RTX A4000, Vulkan driver\), hardware, max buffer 4096 MiB/);
  assert.equal(chooseBackend('auto', r, 'train').backend, 'webgpu');
  assert.deepEqual(chooseBackend('webgpu', r, 'train'), { ok: true, backend: 'webgpu' });
  assert.match(r.inference?.reason ?? '', /TF\.js on webgpu/);
});

test('only a software adapter (SwiftShader): auto never picks it; --backend webgpu uses it with a warning', async () => {
  const r = await runPreflight(probes({ webGpuAdapter: async () => adapter({ vendor: 'google', architecture: 'swiftshader', device: 'SwiftShader Device', software: true }) }));
  assert.equal(r.chosen, 'wasm');
  assert.match(r.why, /webgpu is unavailable \(software adapter only\)/);
  const c = chooseBackend('webgpu', r, 'train');
  assert.equal(c.ok, true);
  assert.equal(c.backend, 'webgpu');
  assert.match(c.ok ? (c.warning ?? '') : '', /SOFTWARE adapter/);
});

test('no adapter: webgpu is unavailable with the reason, and asking for it is refused (no silent fallback)', async () => {
  const r = await runPreflight(
    probes({
      webGpuAdapter: async () => {
        throw new Error('no WebGPU adapter: Dawn found no Vulkan driver');
      },
    }),
  );
  assert.equal(r.chosen, 'wasm');
  assert.match(r.backends.find((b) => b.name === 'webgpu')?.reason ?? '', /no WebGPU adapter: Dawn found no Vulkan driver/);
  const c = chooseBackend('webgpu', r, 'train');
  assert.equal(c.ok, false);
  assert.match(c.ok ? '' : c.message, /webgpu backend was asked for but is unavailable.*no WebGPU adapter/);
});

test('Linux without the Vulkan loader: webgpu says so without loading Dawn', async () => {
  const r = await runPreflight(probes({}));
  const w = r.backends.find((b) => b.name === 'webgpu');
  assert.equal(w?.available, false);
  assert.match(w?.reason ?? '', /no Vulkan loader \(libvulkan\.so\.1\)/);
});

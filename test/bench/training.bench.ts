/**
 * Training and inference speed of Fovea's models against the same
 * architectures in PyTorch, measured in the same run.
 *
 *   npx tsx test/bench/training.bench.ts [--quick]      (or runTrainingBench() from run.ts)
 *
 * Models: the classification CNN at 64x64x1 (10 classes, batch 32) and the
 * U-Net at 128x128x1 (2 classes, batch 8), built by native-models'
 * factories. TF.js training goes through the real training loop
 * (runTraining: variableGrads + Adam + the task loss + metrics read-back),
 * in-process, on synthetic batches prepared up front; images/s counts the
 * batches after two warm-up batches. Inference is the model's forward pass
 * with the result read back (no decoding). Backends: wasm, and tensorflow
 * (tfjs-node) when preflight finds it. Inference also through ONNX Runtime
 * (onnxruntime-node, Fovea's default inference engine on the CPU): the same
 * model converted in memory as native-models/train/inference.ts does, run
 * by an InferenceSession with 1 intra-op thread, like PyTorch here.
 *
 * Reference: test/bench/torch_models.py, the same layers (parameter counts
 * are compared), Debian's python3-torch on the CPU with the same thread
 * count as Fovea (1 thread, and every core: Fovea's convolutions run on
 * ONNX Runtime's pool, see native-models/backends/threads.ts), interleaved
 * and repeated (median and range). Ratios are TF.js / PyTorch (> 1: TF.js faster).
 * On more than one core, wasm is also timed data-parallel (native-models/train/data-parallel.ts:
 * the leader and N-1 replica threads, each with 1 ONNX Runtime thread), in the same rounds.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import type { BackendName } from '../../electron/contract/domain';
import type { Batch, TrainConfig } from '../../electron/contract/ml';
import { createModel } from '../../native-models/models/index';
import { createOrtModel, loadOnnxRuntime } from '../../native-models/train/onnx-inference';
import { activateBackend, runTraining } from '../../native-models/train/trainer';
import { threadPreflight } from '../../native-models/train/backend';
import { report, type BenchResult } from './bench-util';

const HERE = dirname(fileURLToPath(import.meta.url));

interface ModelCase {
  name: string;
  /** torch_models.py's model argument. */
  torchModel: 'classifier' | 'unet';
  config: TrainConfig;
  trainBatches: number;
  inferBatches: number;
}

function config(task: 'classification' | 'segmentation', inputSize: number, batchSize: number, classes: number): TrainConfig {
  return {
    task,
    inputSize,
    channels: 1,
    classNames: Array.from({ length: classes }, (_, i) => `c${i}`),
    multiLabel: false,
    epochs: 1,
    batchSize,
    learningRate: 1e-3,
    seed: 1,
    backend: 'wasm',
    earlyStoppingPatience: 0,
    augment: { flipHorizontal: false, flipVertical: false, rotateDegrees: 0, scale: 0, intensity: 0 },
    classWeights: null,
    normalization: { kind: 'unit' },
  };
}

/** Random inputs and labels of the config's shape (speed does not depend on content). */
function syntheticBatch(c: TrainConfig, seed: number): Batch {
  let s = seed >>> 0;
  const rand = (): number => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
  const n = c.batchSize;
  const K = c.classNames.length;
  const x = new Float32Array(n * c.inputSize * c.inputSize * c.channels).map(() => rand() * 2 - 1);
  if (c.task === 'classification') {
    const labels = new Float32Array(n * K);
    for (let i = 0; i < n; i++) labels[i * K + Math.floor(rand() * K)] = 1;
    return { x, n, targets: { task: 'classification', labels }, itemIds: [] };
  }
  const masks = new Uint8Array(n * c.inputSize * c.inputSize).map(() => Math.floor(rand() * K));
  return { x, n, targets: { task: 'segmentation', masks }, itemIds: [] };
}

/** Training images/s through runTraining, after `warmup` batches. */
async function trainSpeed(c: TrainConfig, batches: number, warmup = 2): Promise<number> {
  const pool = [syntheticBatch(c, 1), syntheticBatch(c, 2)];
  const dir = mkdtempSync(join(tmpdir(), 'fovea-bench-train-'));
  const stamps: number[] = [];
  try {
    const outcome = await runTraining(
      c,
      { batchesPerEpoch: { train: batches + warmup, val: 0 }, batch: async (_split, _epoch, i) => pool[i % pool.length] as Batch },
      { checkpointDir: dir },
      { isCancelled: () => false, onBatch: () => stamps.push(performance.now()) },
    );
    if (outcome.status !== 'done') throw new Error(`training failed: ${JSON.stringify(outcome.error)}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const first = stamps[warmup - 1] as number;
  const last = stamps[stamps.length - 1] as number;
  return (batches * c.batchSize) / ((last - first) / 1000);
}

/** Inference images/s: forward pass + read-back, after one warm-up call. */
function inferSpeed(c: TrainConfig, batches: number): { imagesPerSecond: number; params: number } {
  const model = createModel(c);
  const b = syntheticBatch(c, 3);
  const x = tf.tensor4d(b.x, [b.n, c.inputSize, c.inputSize, c.channels]);
  const run = (): void => {
    tf.tidy(() => {
      const out = model.apply(x, { training: false }) as tf.Tensor | tf.Tensor[];
      for (const t of Array.isArray(out) ? out : [out]) t.dataSync();
    });
  };
  run();
  const t0 = performance.now();
  for (let i = 0; i < batches; i++) run();
  const secs = (performance.now() - t0) / 1000;
  const params = model.countParams();
  x.dispose();
  model.dispose();
  return { imagesPerSecond: (batches * c.batchSize) / secs, params };
}

/** ONNX Runtime inference images/s (1 thread): forward pass with outputs read back, after one warm-up call. */
async function ortInferSpeed(c: TrainConfig, batches: number): Promise<number | { error: string }> {
  const ort = await loadOnnxRuntime();
  if (!ort.ok) return { error: ort.reason };
  const model = createModel(c);
  const session = await createOrtModel(ort.ort, ort.version, model, 1);
  model.dispose();
  try {
    const b = syntheticBatch(c, 3);
    await session.run(b.x, b.n);
    const t0 = performance.now();
    for (let i = 0; i < batches; i++) await session.run(b.x, b.n);
    return (batches * c.batchSize) / ((performance.now() - t0) / 1000);
  } finally {
    await session.dispose();
  }
}

interface TorchResult {
  params: number;
  train_img_s: number;
  infer_img_s: number;
  torch: string;
  threads: number;
  device: string;
}

function torchSpeed(m: ModelCase, threads: number, device: 'cpu' | 'cuda' = 'cpu'): TorchResult | { error: string } {
  const c = m.config;
  const args = [join(HERE, 'torch_models.py'), m.torchModel, c.inputSize, c.channels, c.classNames.length, c.batchSize, m.trainBatches, m.inferBatches].map(String);
  const env = { ...process.env, OMP_NUM_THREADS: String(threads), MKL_NUM_THREADS: String(threads), FOVEA_TORCH_THREADS: String(threads), FOVEA_TORCH_DEVICE: device };
  const r = spawnSync('/usr/bin/python3', args, { encoding: 'utf8', timeout: 600_000, env });
  if (r.status !== 0) return { error: (r.stderr || r.error?.message || `exit ${r.status}`).trim().split('\n').pop() ?? 'failed' };
  try {
    return JSON.parse(r.stdout.trim().split('\n').pop() ?? '') as TorchResult;
  } catch {
    return { error: `unreadable output: ${r.stdout.slice(0, 200)}` };
  }
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
}

/** "median (min-max, n rounds)" of samples, for the report's note. */
function spread(xs: number[], digits = 2): string {
  return `median of ${xs.length}, range ${Math.min(...xs).toFixed(digits)}-${Math.max(...xs).toFixed(digits)}`;
}

function argValue(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

/**
 * Training speed against PyTorch, interleaved and repeated: each round times PyTorch and Fovea
 * back to back at each thread count (1 thread, and every core), so load on the machine hits both
 * alike; every figure is the median of the rounds with its range. Options (argv):
 *   --quick            fewer batches, 1 round
 *   --rounds N         rounds (default 3)
 *   --backend webgpu   also time Fovea on WebGPU (a software adapter is timed too, and labelled)
 *   --torch-device cuda  PyTorch on CUDA for the GPU comparison (test/bench/gpu-check.sh)
 *   --skip-wasm        only the other backends (the GPU check's time limit)
 */
export async function runTrainingBench(opts: { quick?: boolean } = {}): Promise<void> {
  const q = opts.quick ?? process.argv.includes('--quick');
  const rounds = Math.max(1, Number(argValue('--rounds') ?? (q ? 1 : 3)) || 1);
  const torchDevice = argValue('--torch-device') === 'cuda' ? 'cuda' : 'cpu';
  const cases: ModelCase[] = [
    { name: 'classifier 64x64x1 b32', torchModel: 'classifier', config: config('classification', 64, 32, 10), trainBatches: q ? 4 : 12, inferBatches: q ? 4 : 10 },
    // 12 U-Net batches (was 6: the ratio moved +-0.03 run to run); PyTorch times the same count.
    { name: 'U-Net 128x128x1 b8', torchModel: 'unet', config: config('segmentation', 128, 8, 2), trainBatches: q ? 2 : 12, inferBatches: q ? 2 : 5 },
  ];
  const all = availableParallelism();
  const threadCounts = [...new Set([1, all])];
  const pf = await threadPreflight();
  // Other backends than wasm: every core (they manage their own threads), against PyTorch on every core (or CUDA).
  const extra: BackendName[] = [];
  for (const b of ['tensorflow-gpu', 'tensorflow-cpu'] as const) if (pf.backends.find((s) => s.name === b)?.available) extra.push(b);
  const gpu = pf.backends.find((b) => b.name === 'webgpu');
  if (argValue('--backend') === 'webgpu' || (gpu?.available && gpu.adapter && !gpu.adapter.software)) {
    if (gpu?.available) extra.push('webgpu');
    else process.stdout.write(`training   webgpu not measured: ${gpu?.reason ?? 'not probed'}\n`);
  }
  const gpuLabel = gpu?.adapter ? `${gpu.adapter.vendor} ${gpu.adapter.architecture}${gpu.adapter.software ? ' (SOFTWARE adapter)' : ''}` : '';
  const skipped = pf.backends.filter((b) => b.name.startsWith('tensorflow') && !b.available).map((b) => `${b.name}: ${b.summary}`);
  if (skipped.length) process.stdout.write(`training   not measured: ${skipped.join('; ')}\n`);

  for (const m of cases) {
    type Key = string;
    const fovea = new Map<Key, number[]>();
    const torch = new Map<Key, number[]>();
    const ratios = new Map<Key, number[]>();
    const push = (map: Map<Key, number[]>, k: Key, v: number) => map.set(k, [...(map.get(k) ?? []), v]);
    let torchInfo: TorchResult | null = null;
    const measure = async (key: Key, backend: BackendName, threads: number, device: 'cpu' | 'cuda', dataParallel = false): Promise<void> => {
      const t = torchSpeed(m, threads, device);
      if ('error' in t) process.stdout.write(`training   PyTorch ${device} ${threads} thread(s) unavailable for ${m.name}: ${t.error}\n`);
      else {
        torchInfo ??= t;
        push(torch, key, t.train_img_s);
      }
      process.env['FOVEA_THREADS'] = String(threads);
      process.env['FOVEA_DATA_PARALLEL'] = dataParallel ? '1' : '0';
      const c: TrainConfig = { ...m.config, backend: backend === 'wasm' ? 'wasm' : backend === 'webgpu' ? 'webgpu' : 'tensorflow' };
      const f = await trainSpeed(c, m.trainBatches);
      push(fovea, key, f);
      if (!('error' in t)) push(ratios, key, f / t.train_img_s);
    };
    for (let r = 0; r < rounds; r++) {
      if (!process.argv.includes('--skip-wasm')) {
        for (const threads of threadCounts) await measure(`wasm|${threads}`, 'wasm', threads, 'cpu');
        if (all > 1) await measure(`wasm-dp|${all}`, 'wasm', all, 'cpu', true);
      }
      for (const b of extra) await measure(`${b}|${all}`, b, all, b === 'webgpu' || b === 'tensorflow-gpu' ? torchDevice : 'cpu');
    }
    delete process.env['FOVEA_THREADS'];
    delete process.env['FOVEA_DATA_PARALLEL'];
    const tv = (torchInfo as TorchResult | null)?.torch ?? '?';
    for (const key of fovea.keys()) {
      const [backend = '', threads = ''] = key.split('|');
      const device = backend === 'webgpu' || backend === 'tensorflow-gpu' ? torchDevice : 'cpu';
      const ref = `PyTorch ${tv} ${device === 'cuda' ? 'CUDA' : `CPU ${threads} thread${threads === '1' ? '' : 's'}`}`;
      const wasmThreads = backend === 'wasm-dp' ? ` data-parallel ${threads} threads (${threads} replicas x 1 ONNX Runtime thread)` : backend === 'wasm' ? ` ${threads} thread${threads === '1' ? '' : 's'}${threads === '1' ? '' : ` (1 TF.js thread, ONNX Runtime pool of ${threads})`}` : '';
      const label = `${backend === 'wasm-dp' ? 'wasm' : backend}${backend === 'webgpu' ? ` [${gpuLabel}]` : ''}${wasmThreads}`;
      const fs = fovea.get(key) ?? [];
      report({ bench: 'training', metric: `${m.name} train, TF.js ${label}`, value: median(fs), unit: 'img/s', note: spread(fs, 1) });
      const ts = torch.get(key);
      if (ts?.length) report({ bench: 'training', metric: `${m.name} train, ${ref}`, value: median(ts), unit: 'img/s', note: spread(ts, 1) });
      const rs = ratios.get(key);
      if (rs?.length) report({ bench: 'training', metric: `${m.name} train ratio ${label} / ${ref}`, value: median(rs), unit: 'x', goal: backend === 'webgpu' ? '>= 0.5x PyTorch CUDA' : threads === String(all) ? '>= 1.0x (all cores)' : undefined, note: spread(rs) } as BenchResult);
    }

    // Inference: once per case, on wasm and ONNX Runtime at 1 thread, like PyTorch at 1 thread.
    if (process.argv.includes('--skip-wasm')) continue;
    await activateBackend('wasm');
    const infer = inferSpeed({ ...m.config, backend: 'wasm' }, m.inferBatches);
    const t1 = torchSpeed(m, 1);
    report({ bench: 'training', metric: `${m.name} infer, TF.js wasm`, value: infer.imagesPerSecond, unit: 'img/s', note: 'error' in t1 ? undefined : infer.params === t1.params ? `params ${infer.params} (same in PyTorch)` : `params ${infer.params} vs PyTorch ${t1.params}: architectures differ` } as BenchResult);
    if (!('error' in t1)) {
      report({ bench: 'training', metric: `${m.name} infer, PyTorch ${t1.torch} CPU 1 thread`, value: t1.infer_img_s, unit: 'img/s' });
      report({ bench: 'training', metric: `${m.name} infer ratio TF.js wasm / PyTorch 1 thread`, value: infer.imagesPerSecond / t1.infer_img_s, unit: 'x' });
    }
    const ort = await ortInferSpeed(m.config, m.inferBatches * 2);
    if (typeof ort !== 'number') process.stdout.write(`training   ONNX Runtime inference not measured for ${m.name}: ${ort.error}\n`);
    else {
      report({ bench: 'training', metric: `${m.name} infer, ONNX Runtime CPU 1 thread (Fovea's inference engine)`, value: ort, unit: 'img/s' });
      if (!('error' in t1)) report({ bench: 'training', metric: `${m.name} infer ratio ONNX Runtime / PyTorch 1 thread`, value: ort / t1.infer_img_s, unit: 'x' });
    }
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) await runTrainingBench();

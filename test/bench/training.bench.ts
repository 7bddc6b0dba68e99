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
 * are compared), Debian's python3-torch on the CPU with
 * torch.set_num_threads(1), because the TF.js wasm backend is
 * single-threaded under Node. Ratios are TF.js / PyTorch (> 1: TF.js faster).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import type { BackendName } from '../../electron/contract/domain';
import type { Batch, TrainConfig } from '../../electron/contract/ml';
import { createModel } from '../../native-models/models/index';
import { createOrtModel, loadOnnxRuntime } from '../../native-models/train/onnx-inference';
import { activateBackend, runTraining } from '../../native-models/train/trainer';
import { threadPreflight } from '../../native-models/train/backend';
import { report } from './bench-util';

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
}

function torchSpeed(m: ModelCase): TorchResult | { error: string } {
  const c = m.config;
  const args = [join(HERE, 'torch_models.py'), m.torchModel, c.inputSize, c.channels, c.classNames.length, c.batchSize, m.trainBatches, m.inferBatches].map(String);
  const r = spawnSync('/usr/bin/python3', args, { encoding: 'utf8', timeout: 600_000, env: { ...process.env, OMP_NUM_THREADS: '1', MKL_NUM_THREADS: '1' } });
  if (r.status !== 0) return { error: (r.stderr || r.error?.message || `exit ${r.status}`).trim().split('\n').pop() ?? 'failed' };
  try {
    return JSON.parse(r.stdout.trim().split('\n').pop() ?? '') as TorchResult;
  } catch {
    return { error: `unreadable output: ${r.stdout.slice(0, 200)}` };
  }
}

export async function runTrainingBench(opts: { quick?: boolean } = {}): Promise<void> {
  const q = opts.quick ?? process.argv.includes('--quick');
  const cases: ModelCase[] = [
    { name: 'classifier 64x64x1 b32', torchModel: 'classifier', config: config('classification', 64, 32, 10), trainBatches: q ? 4 : 12, inferBatches: q ? 4 : 10 },
    // 12 U-Net batches (was 6: the ratio moved +-0.03 run to run); PyTorch times the same count.
    { name: 'U-Net 128x128x1 b8', torchModel: 'unet', config: config('segmentation', 128, 8, 2), trainBatches: q ? 2 : 12, inferBatches: q ? 2 : 5 },
  ];
  const pf = await threadPreflight();
  const backends: BackendName[] = ['wasm'];
  for (const b of ['tensorflow-gpu', 'tensorflow-cpu'] as const) if (pf.backends.find((s) => s.name === b)?.available) backends.push(b);
  const skipped = pf.backends.filter((b) => b.name.startsWith('tensorflow') && !b.available).map((b) => `${b.name}: ${b.summary}`);
  if (skipped.length) process.stdout.write(`training   not measured: ${skipped.join('; ')}\n`);

  for (const m of cases) {
    const torch = torchSpeed(m);
    if ('error' in torch) process.stdout.write(`training   PyTorch reference unavailable for ${m.name}: ${torch.error}\n`);
    else {
      report({ bench: 'training', metric: `${m.name} train, PyTorch ${torch.torch} CPU 1 thread`, value: torch.train_img_s, unit: 'img/s' });
      report({ bench: 'training', metric: `${m.name} infer, PyTorch ${torch.torch} CPU 1 thread`, value: torch.infer_img_s, unit: 'img/s' });
    }
    for (const backend of backends) {
      await activateBackend(backend);
      const c: TrainConfig = { ...m.config, backend: backend === 'wasm' ? 'wasm' : 'tensorflow' };
      const train = await trainSpeed(c, m.trainBatches);
      const infer = inferSpeed(c, m.inferBatches);
      const note = 'error' in torch ? undefined : infer.params === torch.params ? `params ${infer.params} (same in PyTorch)` : `params ${infer.params} vs PyTorch ${torch.params}: architectures differ`;
      report({ bench: 'training', metric: `${m.name} train, TF.js ${backend}`, value: train, unit: 'img/s', ...(note ? { note } : {}) });
      report({ bench: 'training', metric: `${m.name} infer, TF.js ${backend}`, value: infer.imagesPerSecond, unit: 'img/s' });
      if (!('error' in torch)) {
        report({ bench: 'training', metric: `${m.name} train ratio TF.js ${backend} / PyTorch`, value: train / torch.train_img_s, unit: 'x' });
        report({ bench: 'training', metric: `${m.name} infer ratio TF.js ${backend} / PyTorch`, value: infer.imagesPerSecond / torch.infer_img_s, unit: 'x' });
      }
    }
    const ort = await ortInferSpeed(m.config, m.inferBatches * 2);
    if (typeof ort !== 'number') process.stdout.write(`training   ONNX Runtime inference not measured for ${m.name}: ${ort.error}\n`);
    else {
      report({ bench: 'training', metric: `${m.name} infer, ONNX Runtime CPU 1 thread (Fovea's inference engine)`, value: ort, unit: 'img/s' });
      if (!('error' in torch)) report({ bench: 'training', metric: `${m.name} infer ratio ONNX Runtime / PyTorch`, value: ort / torch.infer_img_s, unit: 'x' });
    }
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) await runTrainingBench();

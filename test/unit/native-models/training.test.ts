/**
 * The training loop, in-process (workerless engine), on synthetic data:
 * each task learns, tensors do not leak, resume equals an uninterrupted run,
 * cancel and early stopping, backend refusals, and out-of-memory.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import type { MlPreflight } from '../../../electron/contract/domain';
import type { EpochResult, TrainConfig } from '../../../electron/contract/ml';
import { initWasmBackend } from '../../../native-models/backends/wasm-setup';
import { createMlEngine } from '../../../native-models/engine';
import { loadCheckpointModel, readCheckpointState } from '../../../native-models/train/checkpoint-io';
import { isBetterEpoch, monitorFor, type CheckpointState } from '../../../native-models/train/trainer';
import { boxes, discs, makeBatch, rng, squares, SyntheticProvider, testConfig, type Generator } from './synthetic';

const root = mkdtempSync(join(tmpdir(), 'fovea-train-'));
let dirs = 0;
const newDir = (): string => join(root, `run${++dirs}`);
const engine = createMlEngine({ workerless: true });

before(async () => {
  await initWasmBackend();
});
after(() => {
  try {
    engine.dispose();
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('classification: bright vs dark squares > 90% validation accuracy in 2 epochs; no tensor leaks', async () => {
  const config = testConfig('classification', { epochs: 2 });
  const provider = new SyntheticProvider(config, squares, { trainBatches: 6, valBatches: 2 });
  const tensorsAtBatch: number[] = [];
  const epochs: EpochResult[] = [];
  const before = tf.memory().numTensors;
  const checkpointDir = newDir();
  const outcome = await engine.train(config, provider, {
    checkpointDir,
    onBatch: (p) => {
      tensorsAtBatch.push(tf.memory().numTensors);
      assert.ok(p.loss > 0 && Number.isFinite(p.imagesPerSecond) && p.etaSeconds >= 0);
      assert.equal(p.batchesPerEpoch, 6);
    },
    onEpoch: (r) => epochs.push(r),
  });
  assert.equal(outcome.status, 'done', JSON.stringify(outcome));
  assert.equal(outcome.backend, 'wasm');
  assert.equal(outcome.epochsCompleted, 2);
  assert.equal(epochs.length, 2);
  assert.ok((outcome.bestValMetrics?.['accuracy'] ?? 0) > 0.9, JSON.stringify(epochs));
  // The optimizer creates its moments at the first step; from then on the count is flat.
  assert.equal(tensorsAtBatch.length, 12);
  assert.deepEqual(new Set(tensorsAtBatch.slice(1)).size, 1, `tensors per batch: ${tensorsAtBatch.join(',')}`);
  assert.equal(tf.memory().numTensors, before, 'model and optimizer are disposed after the run');
  for (const d of ['epoch-1', 'epoch-2', 'best', 'last']) assert.ok(existsSync(join(checkpointDir, d, 'model.json')), d);

  // predict() with the best checkpoint.
  const samples = Array.from({ length: 8 }, (_, i) => squares(rng(1000 + i), 32, 1));
  const preds = await engine.predict(join(checkpointDir, 'best'), config, makeBatch('classification', samples, 32, 1, 2));
  const correct = preds.filter((p, i) => p.task === 'classification' && (p.probabilities[1] ?? 0) > 0.5 === (samples[i]?.label === 1)).length;
  assert.ok(correct >= 7, `${correct}/8 correct`);
});

test('segmentation: the U-Net segments synthetic discs with validation Dice > 0.8', async () => {
  const config = testConfig('segmentation', { epochs: 4, batchSize: 8 });
  const provider = new SyntheticProvider(config, discs, { trainBatches: 8, valBatches: 2 });
  const checkpointDir = newDir();
  const outcome = await engine.train(config, provider, { checkpointDir });
  assert.equal(outcome.status, 'done', JSON.stringify(outcome));
  assert.ok((outcome.bestValMetrics?.['dice'] ?? 0) > 0.8, JSON.stringify(outcome.bestValMetrics));
  assert.ok((outcome.bestValMetrics?.['iou'] ?? 0) > 0.65, JSON.stringify(outcome.bestValMetrics));
  const sample = discs(rng(4242), 32, 1);
  const [pred] = await engine.predict(join(checkpointDir, 'best'), config, makeBatch('segmentation', [sample], 32, 1, 2));
  assert.ok(pred?.task === 'segmentation');
  assert.equal(pred.classes.length, 32 * 32);
  let inter = 0;
  let sum = 0;
  pred.classes.forEach((c, i) => {
    const t = sample.mask?.[i];
    if (t === 255) return;
    if (c === 1 && t === 1) inter++;
    sum += (c === 1 ? 1 : 0) + (t === 1 ? 1 : 0);
  });
  assert.ok((2 * inter) / sum > 0.8, `dice of one prediction ${(2 * inter) / sum}`);
  assert.ok(pred.confidence.every((p) => p >= 0.5 - 1e-6 && p <= 1 + 1e-6));
});

test('detection: the detector finds synthetic squares (val AP50, and predict() on a new image)', async () => {
  const config = testConfig('detection', { epochs: 8, batchSize: 8, inputSize: 48 });
  const provider = new SyntheticProvider(config, boxes, { trainBatches: 10, valBatches: 2 });
  const checkpointDir = newDir();
  const outcome = await engine.train(config, provider, { checkpointDir });
  assert.equal(outcome.status, 'done', JSON.stringify(outcome));
  assert.ok((outcome.bestValMetrics?.['ap50'] ?? 0) > 0.7, JSON.stringify(outcome.bestValMetrics));
  // The best checkpoint is the epoch with the highest validation AP@0.5 (ties: the lower validation loss).
  const state = readCheckpointState<CheckpointState>(join(checkpointDir, 'best'));
  assert.equal(state?.monitor, 'valAp50');
  const history = state?.run.history ?? [];
  const topAp = Math.max(...history.map((h) => h.valMetrics['ap50'] ?? 0));
  const tied = history.filter((h) => (h.valMetrics['ap50'] ?? 0) === topAp);
  assert.equal(outcome.bestEpoch, tied.reduce((a, b) => (b.valLoss < a.valLoss ? b : a)).epoch, JSON.stringify(history.map((h) => [h.epoch, h.valMetrics['ap50'], h.valLoss])));
  const sample = boxes(rng(77), 48, 1);
  const [pred] = await engine.predict(join(checkpointDir, 'best'), config, makeBatch('detection', [sample], 48, 1, 1));
  assert.ok(pred?.task === 'detection');
  const top = pred.boxes[0];
  assert.ok(top && top.score > 0.3, JSON.stringify(pred.boxes.slice(0, 3)));
  const iou = Math.max(
    ...(sample.boxes ?? []).map(([x = 0, y = 0, w = 0, h = 0]) => {
      const ix = Math.max(0, Math.min(x + w, top.x + top.width) - Math.max(x, top.x));
      const iy = Math.max(0, Math.min(y + h, top.y + top.height) - Math.max(y, top.y));
      return (ix * iy) / (w * h + top.width * top.height - ix * iy);
    }),
  );
  assert.ok(iou > 0.5, `top box ${JSON.stringify(top)} vs ${JSON.stringify(sample.boxes)}: IoU ${iou}`);
});

async function weightsOf(dir: string): Promise<Float32Array[]> {
  const m = await loadCheckpointModel(dir);
  const w = m.getWeights().map((t) => t.dataSync() as Float32Array);
  m.dispose();
  return w;
}

test('resume: 1 epoch + cancel + resume to 3 ends like an uninterrupted 3-epoch run', async (t) => {
  const config: TrainConfig = testConfig('classification', { epochs: 3, batchSize: 8 });
  const opts = { trainBatches: 3, valBatches: 1 };
  const straight = newDir();
  const a = await engine.train(config, new SyntheticProvider(config, squares, opts), { checkpointDir: straight });
  assert.equal(a.status, 'done');

  const resumed = newDir();
  const ac = new AbortController();
  const seen: number[] = [];
  // Cancel while epoch 2 is under way: at its second batch.
  const p1 = new SyntheticProvider(config, squares, { ...opts, onRequest: (split, epoch, index) => void (split === 'train' && epoch === 2 && index === 1 && ac.abort()) });
  const b1 = await engine.train(config, p1, { checkpointDir: resumed, signal: ac.signal, onEpoch: (r) => seen.push(r.epoch) });
  assert.equal(b1.status, 'cancelled');
  assert.equal(b1.epochsCompleted, 1);
  assert.deepEqual(seen, [1]);
  assert.ok(existsSync(join(resumed, 'epoch-1', 'optimizer.bin')), 'the last completed epoch stays valid for resume');
  assert.equal(existsSync(join(resumed, 'epoch-2')), false, 'no checkpoint of the cancelled epoch');

  const b2 = await engine.train(config, new SyntheticProvider(config, squares, opts), { checkpointDir: resumed, resumeAfterEpoch: 1, onEpoch: (r) => seen.push(r.epoch) });
  assert.equal(b2.status, 'done', JSON.stringify(b2));
  assert.equal(b2.epochsCompleted, a.epochsCompleted);
  assert.deepEqual(seen, [1, 2, 3]);
  assert.equal(b2.bestEpoch, a.bestEpoch);
  const state = readCheckpointState<CheckpointState>(join(resumed, 'epoch-3'));
  assert.equal(state?.run.history.length, 3, 'the bookkeeping carried over');
  assert.deepEqual(readdirSync(resumed).sort(), ['best', 'epoch-2', 'epoch-3', 'last'], 'two epoch checkpoints kept');
  // Same data, dropout seeds and restored Adam state: the same weights.
  const wa = await weightsOf(join(straight, 'epoch-3'));
  const wb = await weightsOf(join(resumed, 'epoch-3'));
  assert.equal(wa.length, wb.length);
  let maxDiff = 0;
  wa.forEach((w, i) => w.forEach((v, j) => (maxDiff = Math.max(maxDiff, Math.abs(v - (wb[i]?.[j] ?? NaN))))));
  t.diagnostic(`largest weight difference, resumed vs uninterrupted: ${maxDiff}`);
  assert.ok(maxDiff < 1e-4, `max weight difference ${maxDiff}`);
});

test('the monitor: validation AP@0.5 for detection with validation batches (ties: the lower loss); else the validation loss', () => {
  assert.equal(monitorFor('detection', 3), 'valAp50');
  assert.equal(monitorFor('detection', 0), 'valLoss');
  assert.equal(monitorFor('segmentation', 3), 'valLoss');
  assert.equal(monitorFor('classification', 3), 'valLoss');
  const epoch = (n: number, valLoss: number, ap50: number): EpochResult => ({ epoch: n, trainLoss: 1, trainMetrics: {}, valLoss, valMetrics: { ap50 }, best: false, seconds: 1 });
  const history = [epoch(1, 2.0, 0.5)];
  const run = { bestEpoch: 1, bestMonitor: 0.5, history };
  assert.equal(isBetterEpoch('valAp50', epoch(2, 3.0, 0.6), run), true, 'higher AP wins though the loss rose');
  assert.equal(isBetterEpoch('valAp50', epoch(2, 1.0, 0.4), run), false, 'lower AP loses though the loss fell');
  assert.equal(isBetterEpoch('valAp50', epoch(2, 1.9, 0.5), run), true, 'same AP, lower loss');
  assert.equal(isBetterEpoch('valAp50', epoch(2, 2.1, 0.5), run), false, 'same AP, higher loss');
  assert.equal(isBetterEpoch('valLoss', epoch(2, 1.9, 0), { bestEpoch: 1, bestMonitor: 2.0, history }), true);
  assert.equal(isBetterEpoch('valLoss', epoch(2, 2.0, 1), { bestEpoch: 1, bestMonitor: 2.0, history }), false);
  assert.equal(isBetterEpoch('valAp50', epoch(1, 9, 0), { bestEpoch: null, bestMonitor: null, history: [] }), true, 'the first epoch is the best so far');
});

test('early stopping: stops when the monitor has not improved for `patience` epochs', async () => {
  // Validation labels are coin flips: the better the model learns the
  // training task, the worse its validation loss gets.
  const flipped: Generator = (r, size, channels) => ({ ...squares(r, size, channels), label: r() < 0.5 ? 0 : 1 });
  const config = testConfig('classification', { epochs: 8, batchSize: 8, earlyStoppingPatience: 2, learningRate: 1e-2 });
  const outcome = await engine.train(config, new SyntheticProvider(config, squares, { trainBatches: 2, valBatches: 1, valGen: flipped }), { checkpointDir: newDir() });
  assert.equal(outcome.status, 'stopped-early', JSON.stringify(outcome));
  assert.equal(outcome.epochsCompleted, (outcome.bestEpoch ?? NaN) + 2);
  assert.ok(outcome.epochsCompleted < 8);
});

test("explicit backend 'tensorflow' without tfjs-node: BACKEND_UNAVAILABLE with tfjs-node-gpu's reason; cpu refuses to train", async (t) => {
  const pf = await engine.preflight();
  if (pf.backends.some((b) => b.name.startsWith('tensorflow') && b.available)) {
    t.skip('tfjs-node is installed here');
    return;
  }
  const config = testConfig('classification', { backend: 'tensorflow' });
  const o = await engine.train(config, new SyntheticProvider(config, squares, { trainBatches: 1, valBatches: 0 }), { checkpointDir: newDir() });
  assert.equal(o.status, 'failed');
  assert.equal(o.error?.code, 'BACKEND_UNAVAILABLE');
  assert.equal(o.backend, 'tensorflow-gpu');
  const gpuReason = pf.backends.find((b) => b.name === 'tensorflow-gpu')?.reason ?? '';
  assert.ok(o.error?.message.includes(gpuReason), o.error?.message);
  assert.match(o.error?.message ?? '', /@tensorflow\/tfjs-node-gpu/);

  const cpu = await engine.train({ ...config, backend: 'cpu' }, new SyntheticProvider(config, squares, { trainBatches: 1, valBatches: 0 }), { checkpointDir: newDir() });
  assert.equal(cpu.error?.code, 'BACKEND_UNAVAILABLE');
  assert.equal(cpu.backend, 'cpu');
  assert.match(cpu.error?.message ?? '', /too slow to train/);

  // 'auto' where preflight could only find cpu: refused too, never a silent fallback.
  const cpuOnly: MlPreflight = { ...pf, chosen: 'cpu', why: 'Using cpu because wasm is unavailable (failed to initialise).' };
  const auto = await createMlEngine({ workerless: true, preflight: async () => cpuOnly }).train({ ...config, backend: 'auto' }, new SyntheticProvider(config, squares, { trainBatches: 1, valBatches: 0 }), { checkpointDir: newDir() });
  assert.equal(auto.error?.code, 'BACKEND_UNAVAILABLE');
  assert.match(auto.error?.message ?? '', /wasm is unavailable/);
});

test('a failing wasm allocation ends as OUT_OF_MEMORY with advice; the backend is usable again afterwards', async () => {
  const config = testConfig('classification', { epochs: 1, batchSize: 8 });
  // Inject the failure the way wasm reports it: the allocator traps.
  const backend = tf.backend() as unknown as { makeOutput: (shape: number[], dtype: string) => unknown };
  const original = backend.makeOutput.bind(backend);
  let calls = 0;
  backend.makeOutput = (shape, dtype) => {
    if (++calls > 50) throw new WebAssembly.RuntimeError('memory access out of bounds');
    return original(shape, dtype);
  };
  const o = await engine.train(config, new SyntheticProvider(config, squares, { trainBatches: 2, valBatches: 1 }), { checkpointDir: newDir() });
  backend.makeOutput = original;
  assert.equal(o.status, 'failed');
  assert.equal(o.error?.code, 'OUT_OF_MEMORY');
  assert.match(o.error?.message ?? '', /smaller batch size \(e\.g\. 4\) or a smaller input size/);
  // A fresh wasm instance replaced the one that trapped.
  assert.notEqual(tf.backend(), backend);
  const again = await engine.train(config, new SyntheticProvider(config, squares, { trainBatches: 2, valBatches: 1 }), { checkpointDir: newDir() });
  assert.equal(again.status, 'done', JSON.stringify(again));
});

test('a batch and input too large for the wasm heap fail at once with OUT_OF_MEMORY, before any batch is read', async () => {
  const config = testConfig('classification', { inputSize: 2048, batchSize: 16 });
  const provider = new SyntheticProvider(config, squares, { trainBatches: 1, valBatches: 0 });
  const o = await engine.train(config, provider, { checkpointDir: newDir() });
  assert.equal(o.error?.code, 'OUT_OF_MEMORY');
  assert.match(o.error?.message ?? '', /limited to 4 GiB/);
  assert.equal(provider.requests.length, 0);
});

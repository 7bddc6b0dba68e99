/**
 * The classification recipe's training parts (issue 13 item 5): the loss with label smoothing
 * equals PyTorch's CrossEntropyLoss(label_smoothing=e) (hard and soft targets) and the smoothed
 * binary cross-entropy for multi-label (test/reference/label_smoothing.py, skipped with a message
 * when /usr/bin/python3 has no torch); mixup and CutMix mix batches with targets that sum to 1,
 * the same for the same seed and batch, CutMix's lambda is the share of pixels each image keeps;
 * a short real training with mixup, CutMix and smoothing runs and keeps its settings in the
 * checkpoint; the validation loss is unsmoothed.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import type { Batch } from '../../../electron/contract/ml';
import { initWasmBackend } from '../../../native-models/backends/wasm-setup';
import { createMlEngine } from '../../../native-models/engine';
import { classificationLoss, smoothLabels } from '../../../native-models/models/classifier';
import { taskHooks, validateConfig } from '../../../native-models/models/index';
import { cutmixBox, cutmixImages, mixBatch, randomPermutation, sampleBeta, seededRandom } from '../../../native-models/train/batch-mix';
import { readCheckpointState } from '../../../native-models/train/checkpoint-io';
import type { CheckpointState } from '../../../native-models/train/trainer';
import { REPO_ROOT } from '../../helpers/paths';
import { squares, SyntheticProvider, testConfig } from './synthetic';

const PYTHON = '/usr/bin/python3';
const SCRIPT = join(REPO_ROOT, 'test', 'reference', 'label_smoothing.py');
const root = mkdtempSync(join(tmpdir(), 'fovea-clsrecipe-'));
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

interface LossCase {
  logits: number[][];
  target: number[] | number[][];
  eps: number;
  multi: boolean;
}

/** Our loss for a case: the model's probabilities (softmax or sigmoid of the logits), the smoothed targets. */
function ourLoss(c: LossCase): number {
  return tf.tidy(() => {
    const logits = tf.tensor2d(c.logits);
    const K = c.logits[0]?.length ?? 0;
    const probs = c.multi ? tf.sigmoid(logits) : tf.softmax(logits);
    const hard = typeof c.target[0] === 'number';
    const labels = hard ? tf.oneHot(tf.tensor1d(c.target as number[], 'int32'), K).toFloat() : tf.tensor2d(c.target as number[][]);
    return classificationLoss(probs, smoothLabels(labels, c.eps, c.multi), c.multi, null).dataSync()[0] as number;
  });
}

test('label smoothing: the loss equals PyTorch CrossEntropyLoss(label_smoothing) and the smoothed BCE', (t) => {
  const r = seededRandom(7);
  const logits = (n: number, k: number): number[][] => Array.from({ length: n }, () => Array.from({ length: k }, () => (r() - 0.5) * 4));
  const cases: LossCase[] = [
    { logits: logits(6, 3), target: [0, 1, 2, 2, 1, 0], eps: 0.1, multi: false },
    { logits: logits(5, 4), target: [3, 0, 1, 2, 3], eps: 0, multi: false },
    { logits: logits(4, 2), target: [1, 0, 1, 1], eps: 0.25, multi: false },
    // Soft targets (what mixup gives), smoothed on top.
    { logits: logits(3, 3), target: [[0.7, 0.3, 0], [0, 0.4, 0.6], [1, 0, 0]], eps: 0.1, multi: false },
    { logits: logits(4, 3), target: [[1, 0, 1], [0, 0, 0], [0, 1, 1], [1, 1, 1]], eps: 0.1, multi: true },
  ];
  // Hand-computed: two classes, logits equal (p = 0.5 each), eps 0.1: -(0.95 ln 0.5 + 0.05 ln 0.5) = ln 2.
  assert.ok(Math.abs(ourLoss({ logits: [[0, 0]], target: [0], eps: 0.1, multi: false }) - Math.LN2) < 1e-6);
  // One class of three, p = softmax([2, 0, 0]); eps 0.1: targets [0.9333, 0.0333, 0.0333].
  const p0 = Math.exp(2) / (Math.exp(2) + 2);
  const p1 = 1 / (Math.exp(2) + 2);
  const hand = -((0.9 + 0.1 / 3) * Math.log(p0) + 2 * (0.1 / 3) * Math.log(p1));
  assert.ok(Math.abs(ourLoss({ logits: [[2, 0, 0]], target: [0], eps: 0.1, multi: false }) - hand) < 1e-5);

  const run = spawnSync(PYTHON, [SCRIPT], { input: JSON.stringify({ cases }), encoding: 'utf8' });
  if (run.status !== 0 && /No module named 'torch'/.test(run.stderr)) {
    t.skip(`${PYTHON} has no torch: the PyTorch parity was not checked`);
    return;
  }
  assert.equal(run.status, 0, run.stderr);
  const ref = (JSON.parse(run.stdout) as { losses: number[] }).losses;
  cases.forEach((c, i) => {
    const ours = ourLoss(c);
    assert.ok(Math.abs(ours - (ref[i] as number)) < 2e-5, `case ${i}: ours ${ours}, PyTorch ${ref[i]}`);
  });
});

test('label smoothing applies to training steps only: the validation loss stays the plain cross-entropy', () => {
  const config = { ...testConfig('classification'), labelSmoothing: 0.2 };
  const hooks = taskHooks(config);
  tf.tidy(() => {
    const probs = tf.tensor2d([[0.9, 0.1], [0.2, 0.8]]);
    const labels = tf.tensor2d([[1, 0], [0, 1]]);
    const val = hooks.lossAndStats([probs], [labels]).loss.dataSync()[0] as number;
    const train = hooks.lossAndStats([probs], [labels], true).loss.dataSync()[0] as number;
    assert.ok(Math.abs(val - -(Math.log(0.9) + Math.log(0.8)) / 2) < 1e-5);
    const smoothed = -((0.9 * Math.log(0.9) + 0.1 * Math.log(0.1)) + (0.1 * Math.log(0.2) + 0.9 * Math.log(0.8))) / 2;
    assert.ok(Math.abs(train - smoothed) < 1e-5, `${train} vs ${smoothed}`);
  });
  assert.match(validateConfig({ ...config, labelSmoothing: 0.7 }) ?? '', /label smoothing must be 0 to 0.5/);
  assert.match(validateConfig({ ...testConfig('segmentation'), mixup: 0.2 }) ?? '', /classification only/);
});

function classBatch(n: number, size: number, channels: number, K: number): Batch {
  const x = new Float32Array(n * size * size * channels);
  // Image i is filled with the value i + 1: where each pixel came from is readable from its value.
  for (let i = 0; i < n; i++) x.fill(i + 1, i * size * size * channels, (i + 1) * size * size * channels);
  const labels = new Float32Array(n * K);
  for (let i = 0; i < n; i++) labels[i * K + (i % K)] = 1;
  return { x, n, targets: { task: 'classification', labels }, itemIds: Array.from({ length: n }, (_, i) => i + 1) };
}

test('mixup: soft targets sum to 1, images are the same lambda mix, deterministic per seed and batch', () => {
  const cfg = { task: 'classification' as const, mixup: 0.4, seed: 3, inputSize: 8, channels: 1 as const };
  const batch = classBatch(6, 8, 1, 3);
  const a = mixBatch(batch, cfg, 1, 0);
  const b = mixBatch(batch, cfg, 1, 0);
  const other = mixBatch(batch, cfg, 1, 1);
  const reseeded = mixBatch(batch, { ...cfg, seed: 4 }, 1, 0);
  assert.equal(a.mix.kind, 'mixup');
  assert.deepEqual(Array.from(a.batch.x), Array.from(b.batch.x), 'the same seed and batch mix the same way');
  assert.notEqual(a.mix.lambda, other.mix.lambda, 'another batch draws another lambda');
  assert.notEqual(a.mix.lambda, reseeded.mix.lambda, 'another seed draws another lambda');
  assert.deepEqual([...a.mix.perm].sort(), [0, 1, 2, 3, 4, 5]);
  const lam = a.mix.lambda;
  assert.ok(lam >= 0 && lam <= 1);
  const labels = (a.batch.targets as { labels: Float32Array }).labels;
  for (let i = 0; i < 6; i++) {
    const row = Array.from(labels.subarray(i * 3, i * 3 + 3));
    assert.ok(Math.abs(row.reduce((s, v) => s + v, 0) - 1) < 1e-6, `targets of image ${i} sum to 1: ${row}`);
    const j = a.mix.perm[i] as number;
    const expected = lam * (i + 1) + (1 - lam) * (j + 1);
    assert.ok(Math.abs((a.batch.x[i * 64 + 17] as number) - expected) < 1e-5);
    assert.ok(Math.abs((row[i % 3] as number) - (lam + (1 - lam) * (j % 3 === i % 3 ? 1 : 0))) < 1e-6);
  }
  // The batch given is left as it was (the provider may reuse it).
  assert.equal(batch.x[0], 1);
  // Off, a single image, another task: the batch itself.
  assert.equal(mixBatch(batch, { ...cfg, mixup: 0 }, 1, 0).batch, batch);
  assert.equal(mixBatch(classBatch(1, 8, 1, 3), cfg, 1, 0).batch.n, 1);
  assert.equal(mixBatch(classBatch(1, 8, 1, 3), cfg, 1, 0).mix.kind, 'none');
});

test('CutMix: lambda is the share of pixels each image keeps, targets sum to 1, deterministic', () => {
  const size = 16;
  const C = 3;
  const cfg = { task: 'classification' as const, cutmix: 1, seed: 11, inputSize: size, channels: C as 1 | 3 };
  const batch = classBatch(5, size, C, 2);
  let boxes = 0;
  for (let index = 0; index < 12; index++) {
    const { batch: mixed, mix } = mixBatch(batch, cfg, 2, index);
    assert.equal(mix.kind, 'cutmix');
    assert.deepEqual(Array.from(mixBatch(batch, cfg, 2, index).batch.x), Array.from(mixed.x));
    const labels = (mixed.targets as { labels: Float32Array }).labels;
    for (let i = 0; i < 5; i++) {
      const own = i + 1;
      const partner = (mix.perm[i] as number) + 1;
      let kept = 0;
      for (let p = 0; p < size * size * C; p++) if (mixed.x[i * size * size * C + p] === own) kept++;
      // A partner that is the image itself keeps every pixel; else the kept share is lambda.
      const share = kept / (size * size * C);
      if (partner !== own) assert.ok(Math.abs(share - mix.lambda) < 1e-9, `image ${i}: keeps ${share}, lambda ${mix.lambda}`);
      const sum = (labels[i * 2] as number) + (labels[i * 2 + 1] as number);
      assert.ok(Math.abs(sum - 1) < 1e-6);
    }
    if (mix.lambda < 1) boxes++;
  }
  assert.ok(boxes >= 6, 'most batches paste a box');
  // The box alone: clipped to the image, lambda recomputed from its area.
  const box = cutmixBox(10, 0.75, () => 0);
  assert.deepEqual(box, { x0: 0, x1: 3, y0: 0, y1: 3 });
  const r = cutmixImages(new Float32Array(2 * 100).fill(1).fill(2, 100), new Float32Array([1, 0, 0, 1]), 2, 10, 1, [1, 0], box);
  assert.equal(r.lambda, 1 - 9 / 100);
  assert.deepEqual(Array.from(r.labels).map((v) => Number(v.toFixed(4))), [0.91, 0.09, 0.09, 0.91]);
});

test('Beta(alpha, alpha) draws have the right mean and variance; permutations are permutations', () => {
  const r = seededRandom(5);
  for (const alpha of [0.2, 1, 2]) {
    const xs = Array.from({ length: 4000 }, () => sampleBeta(alpha, r));
    const mean = xs.reduce((s, x) => s + x, 0) / xs.length;
    const variance = xs.reduce((s, x) => s + (x - mean) ** 2, 0) / xs.length;
    const want = 1 / (4 * (2 * alpha + 1));
    assert.ok(Math.abs(mean - 0.5) < 0.03, `alpha ${alpha}: mean ${mean}`);
    assert.ok(Math.abs(variance - want) < 0.15 * want, `alpha ${alpha}: variance ${variance}, want ${want}`);
    assert.ok(xs.every((x) => x >= 0 && x <= 1));
  }
  assert.deepEqual(randomPermutation(7, r).sort(), [0, 1, 2, 3, 4, 5, 6]);
});

test('a short training with mixup, CutMix and label smoothing learns and keeps its settings in the checkpoint', { timeout: 60_000 }, async () => {
  const config = { ...testConfig('classification', { epochs: 2 }), mixup: 0.2, cutmix: 1, labelSmoothing: 0.1 };
  const provider = new SyntheticProvider(config, squares, { trainBatches: 6, valBatches: 2 });
  const checkpointDir = join(root, 'mix');
  const before = tf.memory().numTensors;
  const outcome = await engine.train(config, provider, { checkpointDir });
  assert.equal(outcome.status, 'done', JSON.stringify(outcome));
  assert.ok((outcome.bestValMetrics?.['accuracy'] ?? 0) > 0.8, JSON.stringify(outcome));
  assert.equal(tf.memory().numTensors, before, 'no tensor leaks');
  const state = readCheckpointState<CheckpointState>(join(checkpointDir, 'best'));
  assert.equal(state?.config.mixup, 0.2);
  assert.equal(state?.config.cutmix, 1);
  assert.equal(state?.config.labelSmoothing, 0.1);
});

test('mixed training is deterministic per seed: the same config twice gives the same losses, another seed others', { timeout: 60_000 }, async () => {
  const config = { ...testConfig('classification', { epochs: 1 }), mixup: 0.4, cutmix: 1 };
  const losses = async (seed: number): Promise<number[]> => {
    const c = { ...config, seed };
    const out: number[] = [];
    await engine.train(c, new SyntheticProvider(c, squares, { trainBatches: 3, valBatches: 1 }), { checkpointDir: join(root, `det-${seed}-${Math.random()}`), onBatch: (p) => out.push(p.loss) });
    return out;
  };
  const a = await losses(5);
  assert.deepEqual(await losses(5), a);
  assert.notDeepEqual(await losses(6), a);
});

/**
 * Detection decoding tuned on validation (issue 13 item 4): the grid decodes
 * exactly as decodeDetections would; duplicate boxes make it choose IoU NMS;
 * equal APs take the sparsest decoding; a trained run reports per-class AP
 * every epoch, returns its choice, the run store keeps it in the run's config,
 * and prediction uses it.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import type { EpochResult } from '../../../electron/contract/ml';
import { initWasmBackend } from '../../../native-models/backends/wasm-setup';
import { createMlEngine } from '../../../native-models/engine';
import { CANDIDATE_K, CANDIDATE_MIN_SCORE, DEFAULT_DECODING, TIE_TOLERANCE, tuneDecoding } from '../../../native-models/models/detection-decoding';
import { decodeDetections, selectDetections, type DetectedBox } from '../../../native-models/models/detector';
import { taskHooks } from '../../../native-models/models/index';
import { tempCore } from '../../helpers/temp-library';
import { boxes, makeBatch, rng, SyntheticProvider, testConfig } from './synthetic';

const root = mkdtempSync(join(tmpdir(), 'fovea-decoding-'));
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

/** Random detector outputs: [n, 12, 12, K] heatmap, boxes of 4.5-12 cells (they overlap), offsets. */
function randomOutputs(n: number, K: number, seed: number) {
  const r = rng(seed);
  const H = 12;
  const heat = Float32Array.from({ length: n * H * H * K }, () => r() ** 3);
  const size = Float32Array.from({ length: n * H * H * 2 }, () => 1.5 + r());
  const offset = Float32Array.from({ length: n * H * H * 2 }, () => r());
  return { heatmap: tf.tensor4d(heat, [n, H, H, K]), size: tf.tensor4d(size, [n, H, H, 2]), offset: tf.tensor4d(offset, [n, H, H, 2]) };
}

test('every grid point decodes from the candidates exactly as decodeDetections does', async () => {
  const out = randomOutputs(3, 2, 5);
  try {
    const candidates = await decodeDetections(out, CANDIDATE_K, CANDIDATE_MIN_SCORE);
    for (const d of [DEFAULT_DECODING, { scoreThreshold: 0.2, nmsIou: 0.5, topK: 20 }, { scoreThreshold: 0.03, nmsIou: 0.3, topK: 50 }, { scoreThreshold: 0.1, nmsIou: null, topK: 5 }]) {
      const direct = await decodeDetections(out, d.topK, d.scoreThreshold, d.nmsIou);
      direct.forEach((boxesOfImage, i) => assert.deepEqual(selectDetections(candidates[i] ?? [], d), boxesOfImage, `decoding ${JSON.stringify(d)}, image ${i}`));
      if (d.nmsIou !== null) assert.ok(direct.some((b, i) => b.length < selectDetections(candidates[i] ?? [], { ...d, nmsIou: null }).length), 'NMS removed something');
    }
  } finally {
    tf.dispose(Object.values(out));
  }
});

const box = (x: number, y: number, w: number, h: number, score: number, classIndex = 0): DetectedBox => ({ x, y, width: w, height: h, score, classIndex });

test('duplicates of found objects: the tuning picks IoU NMS and beats the default decoding', () => {
  // 10 images, one object each. Every object is found (score 0.9 - i/100), and a shifted duplicate
  // (IoU ~0.54, so a false positive) scores above the next image's true box.
  const candidates: DetectedBox[][] = [];
  const truths: number[][][] = [];
  for (let i = 0; i < 10; i++) {
    const s = 0.9 - i * 0.05;
    candidates.push([box(10, 10, 40, 40, s), box(20, 10, 40, 40, s - 0.01)]);
    truths.push([[10, 10, 40, 40, 0]]);
  }
  const r = tuneDecoding(candidates, truths, 1);
  assert.ok(r.defaultAp50 < 0.8, `duplicates cost AP with the defaults (${r.defaultAp50})`);
  assert.ok(r.best.nmsIou !== null && r.best.nmsIou < 0.54, JSON.stringify(r.best));
  assert.equal(r.ap50, 1);
  assert.equal(r.trials.length, 6 * 6 * 3);
});

test('equal APs keep the defaults; a setting moves only where it raises AP', () => {
  const candidates = [[box(0, 0, 10, 10, 0.95), box(50, 50, 10, 10, 0.02)], [box(5, 5, 20, 20, 0.8)]];
  const truths = [[[0, 0, 10, 10, 0]], [[5, 5, 20, 20, 0]]];
  const r = tuneDecoding(candidates, truths, 1);
  assert.equal(r.ap50, 1);
  assert.deepEqual(r.best, DEFAULT_DECODING);
  // A model that finds nothing yet: every AP is 0, the defaults stay (not the highest threshold, no box at all).
  const none = tuneDecoding([[box(60, 60, 5, 5, 0.5)]], [[[0, 0, 10, 10, 0]]], 1);
  assert.equal(none.ap50, 0);
  assert.deepEqual(none.best, DEFAULT_DECODING);
  // A low-scored true box: a threshold that drops it costs AP, so it stays in.
  const low = tuneDecoding([[box(0, 0, 10, 10, 0.95), box(30, 30, 10, 10, 0.04)]], [[[0, 0, 10, 10, 0], [30, 30, 10, 10, 0]]], 1);
  assert.ok(low.best.scoreThreshold <= 0.03 && low.ap50 === 1, JSON.stringify(low.best));
  assert.ok(TIE_TOLERANCE <= 0.01);
});

test('the decode hook uses the run config\'s decoding (prediction and evaluation)', async () => {
  const out = randomOutputs(2, 1, 9);
  try {
    const config = testConfig('detection', { inputSize: 48 });
    const outs = [out.heatmap, out.size, out.offset];
    const plain = await taskHooks(config).decode(outs, 2);
    const tuned = await taskHooks({ ...config, decoding: { scoreThreshold: 0.2, nmsIou: 0.4, topK: 3 } }).decode(outs, 2);
    const want = await decodeDetections(out, 3, 0.2, 0.4);
    tuned.forEach((p, i) => {
      assert.ok(p.task === 'detection' && p.boxes.length <= 3 && p.boxes.every((b) => b.score >= 0.2));
      assert.deepEqual(p.boxes, want[i]);
    });
    assert.ok(plain.every((p) => p.task === 'detection' && p.boxes.length > 3), 'the defaults keep more boxes');
  } finally {
    tf.dispose(Object.values(out));
  }
});

test('a trained run: AP@0.5 per class in every epoch, the tuned decoding in its outcome and in its stored config, used by predict()', async (t) => {
  const config = testConfig('detection', { epochs: 3, batchSize: 8, inputSize: 48 });
  const provider = new SyntheticProvider(config, boxes, { trainBatches: 6, valBatches: 2 });
  const checkpointDir = join(root, 'run');
  const epochs: EpochResult[] = [];
  const outcome = await engine.train(config, provider, { checkpointDir, onEpoch: (r) => epochs.push(r) });
  assert.equal(outcome.status, 'done', JSON.stringify(outcome));
  assert.equal(epochs.length, 3);
  for (const e of epochs) {
    assert.equal(typeof e.valMetrics['ap50'], 'number', JSON.stringify(e.valMetrics));
    assert.equal(e.valMetrics['ap50/square'], e.valMetrics['ap50'], 'one class: its AP is the mean');
  }
  const d = outcome.decoding;
  assert.ok(d?.tuned, JSON.stringify(outcome));
  assert.equal(d.tuned.valImages, 16);
  assert.equal(d.tuned.epoch, outcome.bestEpoch);
  assert.ok(d.tuned.valAp50 >= d.tuned.defaultValAp50 - TIE_TOLERANCE, JSON.stringify(d));
  // The validation pass with the default decoding is the best epoch's AP.
  assert.ok(Math.abs(d.tuned.defaultValAp50 - (outcome.bestValMetrics?.['ap50'] ?? -1)) < 1e-9, `${d.tuned.defaultValAp50} vs ${JSON.stringify(outcome.bestValMetrics)}`);

  // Stored with the run: the run store puts it into the run's config.
  const { core, cleanup } = tempCore();
  t.after(cleanup);
  const ds = core.datasets.create('d', '');
  const runId = core.runs.create(ds.id, config, {});
  core.runs.finish(runId, outcome);
  assert.deepEqual(core.runs.get(runId).config.decoding, d);
  assert.equal(core.runs.get(runId).config.inputSize, 48, 'the rest of the config is kept');

  // Used: predict() with the stored config decodes with it.
  const stored = core.runs.get(runId).config;
  const batch = makeBatch('detection', [boxes(rng(3), 48, 1), boxes(rng(4), 48, 1)], 48, 1, 1);
  const narrow = await engine.predict(join(checkpointDir, 'best'), { ...stored, decoding: { ...d, topK: 1 } }, batch);
  assert.ok(narrow.every((p) => p.task === 'detection' && p.boxes.length <= 1));
  const preds = await engine.predict(join(checkpointDir, 'best'), stored, batch);
  assert.ok(preds.every((p) => p.task === 'detection' && p.boxes.length <= d.topK && p.boxes.every((b) => b.score >= d.scoreThreshold)));
});

test('a failure while tuning keeps the run done, with the default decoding and a warning', async () => {
  const config = testConfig('detection', { epochs: 2, batchSize: 4, inputSize: 32 });
  let valRequests = 0;
  const provider = new SyntheticProvider(config, boxes, {
    trainBatches: 2,
    valBatches: 1,
    onRequest: (split) => {
      // The epochs' validation passes are served; the tuning pass after them fails.
      if (split === 'val' && ++valRequests > config.epochs) throw new Error('the disk went away');
    },
  });
  const outcome = await engine.train(config, provider, { checkpointDir: join(root, 'tuning-fails') });
  assert.equal(outcome.status, 'done', JSON.stringify(outcome));
  assert.equal(outcome.decoding, undefined);
  assert.match(outcome.warning ?? '', /Tuning the detection decoding .* failed \(.*the disk went away\); the run keeps the default decoding/);
});

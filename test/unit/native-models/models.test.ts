/**
 * Model factories: the documented output shapes, seeds, input checks, and
 * the default training configs.
 */
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { initWasmBackend } from '../../../native-models/backends/wasm-setup';
import { classifierLevels, createClassifier } from '../../../native-models/models/classifier';
import { defaultTrainConfig } from '../../../native-models/models/defaults';
import { createDetector } from '../../../native-models/models/detector';
import { createModel, validateConfig } from '../../../native-models/models/index';
import { createUnet } from '../../../native-models/models/unet';
import { testConfig } from './synthetic';

before(async () => {
  await initWasmBackend();
});

function outShapes(model: tf.LayersModel, x: tf.Tensor): number[][] {
  return tf.tidy(() => {
    const out = model.predict(x) as tf.Tensor | tf.Tensor[];
    return (Array.isArray(out) ? out : [out]).map((t) => t.shape);
  });
}

test('classifier: [n,S,S,C] -> [n,K]; softmax rows sum to 1, multi-label sigmoid does not have to', () => {
  for (const [size, channels] of [
    [28, 1],
    [64, 3],
  ] as const) {
    const m = createClassifier({ inputSize: size, channels, numClasses: 5, multiLabel: false, seed: 3 });
    const x = tf.randomNormal([2, size, size, channels], 0, 1, 'float32', 1);
    assert.deepEqual(outShapes(m, x), [[2, 5]]);
    const sums = tf.tidy(() => tf.sum(m.predict(x) as tf.Tensor, -1).arraySync() as number[]);
    for (const s of sums) assert.ok(Math.abs(s - 1) < 1e-5);
    const ml = createClassifier({ inputSize: size, channels, numClasses: 5, multiLabel: true, seed: 3 });
    assert.equal(ml.layers.at(-1)?.getConfig()['activation'], 'sigmoid');
    tf.dispose(x);
    m.dispose();
    ml.dispose();
  }
  assert.deepEqual([28, 64, 128].map(classifierLevels), [2, 3, 4], 'the last feature map ends near 6-8 px');
});

test('same seed, same weights; another seed, other weights', () => {
  const w = (seed: number) => {
    const m = createClassifier({ inputSize: 28, channels: 1, numClasses: 2, multiLabel: false, seed });
    const v = m.getWeights()[0]?.dataSync().slice(0, 16) ?? new Float32Array();
    m.dispose();
    return Array.from(v);
  };
  assert.deepEqual(w(5), w(5));
  assert.notDeepEqual(w(5), w(6));
});

test('U-Net: [n,S,S,C] -> [n,S,S,K] softmax; input size must divide by 2^depth', () => {
  const m = createUnet({ inputSize: 32, channels: 1, numClasses: 3, depth: 2, baseFilters: 8, seed: 1 });
  const x = tf.randomNormal([2, 32, 32, 1]);
  assert.deepEqual(outShapes(m, x), [[2, 32, 32, 3]]);
  const s = tf.tidy(() => tf.sum(m.predict(x) as tf.Tensor, -1).max().dataSync()[0] as number);
  assert.ok(Math.abs(s - 1) < 1e-5);
  tf.dispose(x);
  m.dispose();
  assert.throws(() => createUnet({ inputSize: 36, channels: 1, numClasses: 2, seed: 1 }), /divisible by 8/);
  assert.throws(() => createUnet({ inputSize: 32, channels: 1, numClasses: 1, seed: 1 }), /at least 2 classes/);
});

test('detector: [n,S,S,C] -> heatmap [n,S/4,S/4,K], size and offset [n,S/4,S/4,2]', () => {
  const m = createDetector({ inputSize: 64, channels: 3, numClasses: 4, seed: 1, baseFilters: 8 });
  const x = tf.randomNormal([1, 64, 64, 3]);
  assert.deepEqual(outShapes(m, x), [
    [1, 16, 16, 4],
    [1, 16, 16, 2],
    [1, 16, 16, 2],
  ]);
  // The heatmap starts near CenterNet's 0.1 prior (bias -2.19).
  const mean = tf.tidy(() => ((m.predict(x) as tf.Tensor[])[0] as tf.Tensor).mean().dataSync()[0] as number);
  assert.ok(mean > 0.02 && mean < 0.4, `initial heatmap mean ${mean}`);
  tf.dispose(x);
  m.dispose();
  assert.throws(() => createDetector({ inputSize: 40, channels: 1, numClasses: 1, seed: 1 }), /multiple of 16/);
});

test('createModel dispatches by task with the default sizes; parameter counts stay small', () => {
  const counts: Record<string, number> = {};
  for (const task of ['classification', 'segmentation', 'detection'] as const) {
    const config = defaultTrainConfig(task, task === 'segmentation' ? ['background', 'lesion'] : ['a', 'b'], 1);
    const m = createModel(config);
    counts[task] = m.countParams();
    const outShape = (m.outputs[0] as tf.SymbolicTensor).shape;
    if (task === 'classification') assert.deepEqual(outShape, [null, 2]);
    if (task === 'segmentation') assert.deepEqual(outShape, [null, 128, 128, 2]);
    if (task === 'detection') assert.deepEqual(outShape, [null, 64, 64, 2]);
    m.dispose();
  }
  assert.ok((counts['classification'] ?? 0) < 400_000, JSON.stringify(counts));
  assert.ok((counts['segmentation'] ?? 0) < 1_000_000, JSON.stringify(counts));
  assert.ok((counts['detection'] ?? 0) < 1_000_000, JSON.stringify(counts));
});

test('default configs: the documented sizes, augmentation on, patience 5, and they validate', () => {
  const c = defaultTrainConfig('classification', ['normal', 'pneumonia'], 1);
  assert.deepEqual([c.inputSize, c.batchSize, c.epochs, c.learningRate, c.earlyStoppingPatience], [64, 32, 15, 1e-3, 5]);
  assert.equal(c.augment.flipHorizontal, true);
  assert.equal(c.augment.flipVertical, false);
  assert.equal(c.backend, 'auto');
  assert.deepEqual(c.normalization, { kind: 'per-image' });
  const d = defaultTrainConfig('detection', ['car'], 3);
  assert.deepEqual([d.inputSize, d.batchSize, d.epochs], [256, 8, 30]);
  assert.equal(d.augment.rotateDegrees, 0, 'no rotation for axis-aligned boxes');
  assert.deepEqual(d.normalization, { kind: 'unit' });
  const s = defaultTrainConfig('segmentation', ['background', 'liver'], 1);
  assert.deepEqual([s.inputSize, s.batchSize, s.epochs], [128, 8, 30]);
  for (const cfg of [c, d, s]) assert.equal(validateConfig(cfg), null);
  assert.match(validateConfig(testConfig('segmentation', { classNames: ['only'] })) ?? '', /at least 2 classes/);
  assert.match(validateConfig(testConfig('detection', { inputSize: 40 })) ?? '', /multiple of 16/);
  assert.match(validateConfig(testConfig('classification', { classWeights: [1] })) ?? '', /1 given for 2 classes/);
});

/**
 * Predictions through ONNX Runtime (the default inference engine on the CPU backends) equal
 * TF.js's for the three tasks: probabilities within 1e-4, the same classes and segmentation maps
 * (except near-ties), boxes within 1e-3. A model ONNX Runtime cannot run falls back to TF.js and
 * says so; the engine in use is reported per checkpoint.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import type { Prediction, TrainConfig } from '../../../electron/contract/ml';
import { initWasmBackend } from '../../../native-models/backends/wasm-setup';
import { createModel } from '../../../native-models/models/index';
import { saveCheckpoint } from '../../../native-models/train/checkpoint-io';
import { createInference } from '../../../native-models/train/inference';
import { defaultInferenceThreads, loadOnnxRuntime } from '../../../native-models/train/onnx-inference';
import { rng, testConfig } from './synthetic';

const root = mkdtempSync(join(tmpdir(), 'fovea-onnx-inference-'));
after(() => rmSync(root, { recursive: true, force: true }));
before(async () => {
  await initWasmBackend();
  const ort = await loadOnnxRuntime();
  assert.ok(ort.ok, ort.ok ? '' : ort.reason);
});

/** Random weights (and batch-norm statistics) so outputs are far from uniform, as after training. */
function perturb(model: tf.LayersModel, seed: number): void {
  const ws = model.weights.map((w, i) =>
    tf.tidy(() => {
      const base = w.originalName.split('/').pop() ?? '';
      const r = tf.randomNormal(w.shape as number[], 0, 0.2, 'float32', seed + i);
      if (base === 'kernel') return tf.clone(w.read());
      if (base === 'moving_variance') return tf.exp(tf.mul(r, 1.5));
      return tf.add(w.read(), r);
    }),
  );
  model.setWeights(ws);
  tf.dispose(ws);
}

async function checkpointFor(name: string, model: tf.LayersModel): Promise<string> {
  const dir = join(root, name);
  await saveCheckpoint(dir, model);
  return dir;
}

function images(config: TrainConfig, n: number, seed: number): Float32Array {
  const r = rng(seed);
  const x = new Float32Array(n * config.inputSize * config.inputSize * config.channels);
  for (let i = 0; i < x.length; i++) x[i] = r() * 2 - 1;
  return x;
}

async function bothEngines(name: string, config: TrainConfig, model: tf.LayersModel, n = 3): Promise<{ ort: Prediction[]; tfjs: Prediction[]; engine: string }> {
  const dir = await checkpointFor(name, model);
  const x = images(config, n, 7);
  const viaOrt = createInference({ threads: 1 });
  const viaTfjs = createInference({ engine: 'tfjs' });
  try {
    const ort = await viaOrt.predict('wasm', dir, config, x, n);
    const tfjs = await viaTfjs.predict('wasm', dir, config, x, n);
    assert.equal(viaTfjs.engineFor(dir)?.engine, 'tfjs');
    return { ort, tfjs, engine: `${viaOrt.engineFor(dir)?.engine}: ${viaOrt.engineFor(dir)?.detail}` };
  } finally {
    viaOrt.dispose();
    viaTfjs.dispose();
  }
}

const argmax = (a: ArrayLike<number>): number => {
  let best = 0;
  for (let i = 1; i < a.length; i++) if ((a[i] as number) > (a[best] as number)) best = i;
  return best;
};

test('classification: ONNX Runtime probabilities equal TF.js within 1e-4, same classes', async () => {
  const config = testConfig('classification', { inputSize: 48, classNames: ['a', 'b', 'c', 'd'] });
  const model = createModel(config);
  perturb(model, 11);
  const { ort, tfjs, engine } = await bothEngines('cls', config, model, 4);
  model.dispose();
  assert.match(engine, /^onnxruntime: ONNX Runtime \S+ on the CPU, 1 thread$/);
  assert.equal(ort.length, 4);
  ort.forEach((p, i) => {
    const q = tfjs[i] as Prediction;
    assert.ok(p.task === 'classification' && q.task === 'classification');
    const diff = Math.max(...p.probabilities.map((v, k) => Math.abs(v - (q.probabilities[k] as number))));
    assert.ok(diff <= 1e-4, `image ${i}: max difference ${diff}`);
    assert.equal(argmax(p.probabilities), argmax(q.probabilities));
  });
});

test('segmentation: ONNX Runtime maps equal TF.js (except near-ties), confidence within 1e-4', async () => {
  const config = testConfig('segmentation', { inputSize: 64, classNames: ['bg', 'a', 'b'] });
  const model = createModel(config);
  perturb(model, 12);
  const { ort, tfjs, engine } = await bothEngines('seg', config, model, 2);
  model.dispose();
  assert.match(engine, /^onnxruntime:/);
  let differing = 0;
  ort.forEach((p, i) => {
    const q = tfjs[i] as Prediction;
    assert.ok(p.task === 'segmentation' && q.task === 'segmentation');
    assert.equal(p.classes.length, 64 * 64);
    for (let j = 0; j < p.classes.length; j++) {
      const dc = Math.abs((p.confidence[j] as number) - (q.confidence[j] as number));
      assert.ok(dc <= 1e-4, `image ${i} pixel ${j}: confidence differs by ${dc}`);
      if (p.classes[j] !== q.classes[j]) differing++;
    }
  });
  // A differing class is only allowed where two classes tie within float error (none expected here).
  assert.equal(differing, 0);
});

test('detection: ONNX Runtime boxes equal TF.js within 1e-3, scores within 1e-4', async () => {
  const config = testConfig('detection', { inputSize: 64 });
  const model = createModel(config);
  perturb(model, 13);
  const { ort, tfjs, engine } = await bothEngines('det', config, model, 2);
  model.dispose();
  assert.match(engine, /^onnxruntime:/);
  let boxes = 0;
  ort.forEach((p, i) => {
    const q = tfjs[i] as Prediction;
    assert.ok(p.task === 'detection' && q.task === 'detection');
    assert.equal(p.boxes.length, q.boxes.length, `image ${i}: ${p.boxes.length} vs ${q.boxes.length} boxes`);
    p.boxes.forEach((b, j) => {
      const c = q.boxes[j] as typeof b;
      assert.equal(b.classIndex, c.classIndex);
      assert.ok(Math.abs(b.score - c.score) <= 1e-4, `score ${b.score} vs ${c.score}`);
      for (const k of ['x', 'y', 'width', 'height'] as const) assert.ok(Math.abs(b[k] - c[k]) <= 1e-3, `box ${j} ${k}: ${b[k]} vs ${c[k]}`);
      boxes++;
    });
  });
  assert.ok(boxes > 0, 'the perturbed detector finds boxes to compare');
});

test('a model ONNX Runtime cannot run (UNSUPPORTED layer) falls back to TF.js and says why', async () => {
  const input = tf.input({ shape: [8, 8, 1], name: 'image' });
  const y = tf.layers.conv2d({ filters: 2, kernelSize: 3, padding: 'same', name: 'ok_conv' }).apply(input) as tf.SymbolicTensor;
  const z = tf.layers.permute({ dims: [2, 1, 3], name: 'odd_permute' }).apply(y) as tf.SymbolicTensor;
  const f = tf.layers.flatten().apply(z) as tf.SymbolicTensor;
  const out = tf.layers.dense({ units: 2, activation: 'softmax', name: 'probabilities' }).apply(f) as tf.SymbolicTensor;
  const model = tf.model({ inputs: input, outputs: out });
  const dir = await checkpointFor('unsupported', model);
  const config = testConfig('classification', { inputSize: 8 });
  const x = images(config, 2, 3);
  const want = tf.tidy(() => (model.predict(tf.tensor4d(x, [2, 8, 8, 1])) as tf.Tensor).dataSync());
  model.dispose();
  const inference = createInference({ threads: 1 });
  try {
    const got = await inference.predict('wasm', dir, config, x, 2);
    assert.deepEqual(
      got.flatMap((p) => (p.task === 'classification' ? p.probabilities : [])),
      Array.from(want),
    );
    const use = inference.engineFor(dir);
    assert.equal(use?.engine, 'tfjs');
    assert.match(use?.detail ?? '', /^TF\.js on wasm: ONNX Runtime cannot run this model \(UNSUPPORTED: layer "odd_permute"/);
  } finally {
    inference.dispose();
  }
});

test('a rewritten checkpoint is converted again; FOVEA_INFERENCE_THREADS sets the threads', async () => {
  const config = testConfig('classification', { inputSize: 32 });
  const a = createModel(config);
  perturb(a, 21);
  const dir = await checkpointFor('rewritten', a);
  const x = images(config, 1, 5);
  const inference = createInference({ threads: 1 });
  try {
    const first = await inference.predict('wasm', dir, config, x, 1);
    await new Promise((r) => setTimeout(r, 20)); // a new mtime
    perturb(a, 22);
    await saveCheckpoint(dir, a);
    const second = await inference.predict('wasm', dir, config, x, 1);
    const want = tf.tidy(() => (a.predict(tf.tensor4d(x, [1, 32, 32, 1])) as tf.Tensor).dataSync());
    assert.notDeepEqual(first, second);
    const p = second[0] as Prediction;
    assert.ok(p.task === 'classification');
    p.probabilities.forEach((v, k) => assert.ok(Math.abs(v - (want[k] as number)) <= 1e-4));
  } finally {
    inference.dispose();
    a.dispose();
  }
  assert.equal(defaultInferenceThreads({ FOVEA_INFERENCE_THREADS: '3' }), 3);
  const d = defaultInferenceThreads({});
  assert.ok(d >= 1 && d <= 4);
});

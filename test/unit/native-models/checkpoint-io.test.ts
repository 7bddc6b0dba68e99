/**
 * Checkpoints without tfjs-node: model.json + weights.bin round trip to
 * identical predictions, a standard TF.js layers-model JSON, Adam's state
 * round trip, and atomic replacement.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { initWasmBackend } from '../../../native-models/backends/wasm-setup';
import { createDetector } from '../../../native-models/models/detector';
import { createUnet } from '../../../native-models/models/unet';
import {
  checkpointExists,
  fileSystemHandler,
  loadCheckpointModel,
  loadOptimizerState,
  readCheckpointState,
  saveCheckpoint,
} from '../../../native-models/train/checkpoint-io';

const dir = mkdtempSync(join(tmpdir(), 'fovea-ckpt-'));
before(async () => {
  await initWasmBackend();
});
after(() => rmSync(dir, { recursive: true, force: true }));

function predictAll(model: tf.LayersModel, x: tf.Tensor): Float32Array[] {
  return tf.tidy(() => {
    const out = model.predict(x) as tf.Tensor | tf.Tensor[];
    return (Array.isArray(out) ? out : [out]).map((t) => t.dataSync() as Float32Array);
  });
}

test('save then load gives identical predictions (U-Net and the 3-output detector)', async () => {
  const x = tf.randomNormal([2, 32, 32, 1], 0, 1, 'float32', 9);
  for (const [name, model] of [
    ['unet', createUnet({ inputSize: 32, channels: 1, numClasses: 3, depth: 2, baseFilters: 8, seed: 2 })],
    ['detector', createDetector({ inputSize: 32, channels: 1, numClasses: 2, seed: 2, baseFilters: 8 })],
  ] as const) {
    const d = join(dir, name);
    await saveCheckpoint(d, model, { state: { note: 'hello' } });
    const loaded = await loadCheckpointModel(d);
    const a = predictAll(model, x);
    const b = predictAll(loaded, x);
    assert.equal(a.length, b.length);
    a.forEach((v, i) => assert.deepEqual(b[i], v, `${name} output ${i}`));
    assert.deepEqual(readCheckpointState(d), { note: 'hello' });
    model.dispose();
    loaded.dispose();
  }
  x.dispose();
});

test('model.json is a standard TF.js layers model that tf.loadLayersModel reads through any handler', async () => {
  const model = createUnet({ inputSize: 16, channels: 1, numClasses: 2, depth: 1, baseFilters: 4, seed: 1 });
  const d = join(dir, 'standard');
  await model.save(fileSystemHandler(d));
  const json = JSON.parse(readFileSync(join(d, 'model.json'), 'utf8')) as tf.io.ModelJSON;
  assert.equal(json.format, 'layers-model');
  assert.deepEqual(json.weightsManifest[0]?.paths, ['weights.bin']);
  const bytes = json.weightsManifest[0]?.weights.reduce((s, w) => s + w.shape.reduce((a, b) => a * b, 1) * 4, 0);
  assert.equal(readFileSync(join(d, 'weights.bin')).byteLength, bytes);
  // Through tfjs's own in-memory handler, as a browser or converter would.
  const buf = readFileSync(join(d, 'weights.bin'));
  const viaMemory = await tf.loadLayersModel(
    tf.io.fromMemory({ modelTopology: json.modelTopology, weightSpecs: json.weightsManifest[0]?.weights ?? [], weightData: buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength) }),
  );
  const x = tf.ones([1, 16, 16, 1]);
  assert.deepEqual(predictAll(viaMemory, x), predictAll(model, x));
  tf.dispose([x]);
  model.dispose();
  viaMemory.dispose();
});

test("Adam's iterations and moments survive a save/load", async () => {
  const model = createUnet({ inputSize: 16, channels: 1, numClasses: 2, depth: 1, baseFilters: 4, seed: 1 });
  const vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
  const opt = tf.train.adam(1e-2);
  const x = tf.randomNormal([2, 16, 16, 1], 0, 1, 'float32', 3);
  for (let i = 0; i < 3; i++) opt.minimize(() => tf.mean(model.apply(x, { training: true }) as tf.Tensor) as tf.Scalar, false, vars);
  const d = join(dir, 'adam');
  await saveCheckpoint(d, model, { optimizer: opt });
  const before = await opt.getWeights();
  const opt2 = tf.train.adam(1e-2);
  assert.equal(await loadOptimizerState(d, opt2), true);
  const restored = await opt2.getWeights();
  assert.equal(restored.length, before.length);
  assert.equal(restored[0]?.name, 'iter');
  assert.equal(restored[0]?.tensor.dataSync()[0], 3);
  for (let i = 1; i < before.length; i++) assert.deepEqual(restored[i]?.tensor.dataSync(), before[i]?.tensor.dataSync());
  tf.dispose([x, before[0]?.tensor as tf.Tensor, restored[0]?.tensor as tf.Tensor]);
  assert.equal(await loadOptimizerState(join(dir, 'standard'), tf.train.adam(1)), false, 'no optimizer state saved there');
  opt.dispose();
  opt2.dispose();
  model.dispose();
});

test('writes are atomic: a stale .tmp is ignored and replaced; an interrupted swap falls back to .old', async () => {
  const model = createUnet({ inputSize: 16, channels: 1, numClasses: 2, depth: 1, baseFilters: 4, seed: 1 });
  const d = join(dir, 'atomic');
  await saveCheckpoint(d, model, { state: { v: 1 } });
  // A crash mid-write leaves a half-written .tmp: the checkpoint is untouched.
  writeFileSync(join(dir, 'atomic.tmp'), 'garbage');
  assert.deepEqual(readCheckpointState(d), { v: 1 });
  await saveCheckpoint(d, model, { state: { v: 2 } });
  assert.deepEqual(readCheckpointState(d), { v: 2 });
  assert.equal(existsSync(`${d}.tmp`), false);
  assert.equal(existsSync(`${d}.old`), false);
  // A crash between the two renames: only <dir>.old exists.
  renameSync(d, `${d}.old`);
  assert.equal(checkpointExists(d), true);
  assert.deepEqual(readCheckpointState(d), { v: 2 });
  (await loadCheckpointModel(d)).dispose();
  model.dispose();
});

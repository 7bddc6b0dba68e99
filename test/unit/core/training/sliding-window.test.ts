/**
 * Sliding-window inference: on a translation-equivariant model (1x1
 * convolutions: every output pixel depends on its own input pixel only) the
 * stitched Gaussian-weighted tiles must equal one prediction of the whole
 * image; the weights are normalised per pixel; Dice counts as documented.
 */
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { initWasmBackend } from '../../../../native-models/backends/wasm-setup';
import { argmaxClasses, diceScores, gaussianWeights, slidingWindowPredict, tileOrigins } from '../../../../electron/core/training/sliding-window';

before(async () => {
  await initWasmBackend();
});

/** A per-pixel model: 1x1 conv -> relu -> 1x1 conv -> softmax over 3 classes, fixed random weights. */
function pointwiseModel(channels: number, classes: number): tf.LayersModel {
  const input = tf.input({ shape: [null, null, channels] });
  const h = tf.layers.conv2d({ filters: 8, kernelSize: 1, activation: 'relu', kernelInitializer: tf.initializers.glorotUniform({ seed: 7 }) }).apply(input) as tf.SymbolicTensor;
  const out = tf.layers.conv2d({ filters: classes, kernelSize: 1, activation: 'softmax', kernelInitializer: tf.initializers.glorotUniform({ seed: 11 }) }).apply(h) as tf.SymbolicTensor;
  return tf.model({ inputs: input, outputs: out });
}

test('tiles cover the axis, stay inside it and overlap by at least the asked fraction', () => {
  assert.deepEqual(tileOrigins(10, 16, 0.5), [0]);
  assert.deepEqual(tileOrigins(16, 16, 0.5), [0]);
  const o = tileOrigins(100, 32, 0.5);
  assert.equal(o[0], 0);
  assert.equal(o.at(-1), 100 - 32);
  for (let i = 1; i < o.length; i++) assert.ok((o[i] as number) - (o[i - 1] as number) <= 16, `step ${(o[i] as number) - (o[i - 1] as number)}`);
  assert.throws(() => tileOrigins(100, 32, 1), RangeError);
});

test('Gaussian weights: peak 1 at the centre, symmetric, strictly positive at the corners, falling outward', () => {
  const p = 32;
  const w = gaussianWeights(p);
  const at = (x: number, y: number): number => w[y * p + x] as number;
  assert.ok(Math.abs(Math.max(...w) - 1) < 1e-6);
  assert.ok(at(0, 0) > 0);
  assert.ok(at(16, 16) > at(8, 16) && at(8, 16) > at(0, 16));
  for (let y = 0; y < p; y++) for (let x = 0; x < p; x++) assert.ok(Math.abs(at(x, y) - at(p - 1 - x, y)) < 1e-7 && Math.abs(at(x, y) - at(x, p - 1 - y)) < 1e-7);
});

test('weights are normalised per pixel: tiles that each predict the same constant give that constant everywhere', async () => {
  const H = 45;
  const W = 70;
  const K = 3;
  const image = new Float32Array(H * W);
  let calls = 0;
  const out = await slidingWindowPredict(image, H, W, 1, async (_x, n) => {
    calls++;
    const probs = new Float32Array(n * 16 * 16 * K);
    for (let i = 0; i < probs.length; i += K) probs.set([0.2, 0.5, 0.3], i);
    return probs;
  }, { patch: 16, overlap: 0.5, classes: K, batch: 3 });
  assert.ok(calls > 1);
  for (let p = 0; p < H * W; p++) {
    assert.ok(Math.abs((out[p * K] as number) - 0.2) < 1e-5 && Math.abs((out[p * K + 1] as number) - 0.5) < 1e-5 && Math.abs((out[p * K + 2] as number) - 0.3) < 1e-5, `pixel ${p}`);
  }
});

test('the centre of a tile outweighs a neighbour\'s edge: overlapping tiles that disagree blend toward the nearer centre', async () => {
  // Two tiles along x (width 24, patch 16: origins 0 and 8); tile 0 says class 0, tile 1 says class 1.
  const out = await slidingWindowPredict(new Float32Array(16 * 24), 16, 24, 1, async (_x, n) => {
    const probs = new Float32Array(n * 256 * 2);
    for (let t = 0; t < n; t++) for (let i = 0; i < 256; i++) probs[(t * 256 + i) * 2 + t] = 1;
    return probs;
  }, { patch: 16, overlap: 0.5, classes: 2, batch: 2 });
  const p1 = (x: number): number => out[(8 * 24 + x) * 2 + 1] as number;
  assert.equal(p1(2), 0); // only tile 0
  assert.equal(p1(22), 1); // only tile 1
  assert.ok(p1(9) < 0.5 && p1(14) > 0.5, `${p1(9)} ${p1(14)}`);
  assert.ok(Math.abs(p1(11) + p1(12) - 1) < 1e-6); // symmetric about the middle of the overlap
});

test('sliding-window output equals a whole-image prediction for a translation-equivariant model', async () => {
  const H = 53;
  const W = 77;
  const C = 3;
  const K = 3;
  const model = pointwiseModel(C, K);
  const image = new Float32Array(H * W * C);
  for (let i = 0; i < image.length; i++) image[i] = Math.sin(i * 0.37) * 0.5 + 0.5;
  const whole = tf.tidy(() => (model.predict(tf.tensor4d(image, [1, H, W, C])) as tf.Tensor).dataSync() as Float32Array);
  const tiled = await slidingWindowPredict(image, H, W, C, async (x, n) => tf.tidy(() => Float32Array.from((model.predict(tf.tensor4d(x, [n, 16, 16, C])) as tf.Tensor).dataSync() as Float32Array)), {
    patch: 16,
    overlap: 0.5,
    classes: K,
  });
  assert.equal(tiled.length, whole.length);
  let maxDiff = 0;
  for (let i = 0; i < whole.length; i++) maxDiff = Math.max(maxDiff, Math.abs((whole[i] as number) - (tiled[i] as number)));
  assert.ok(maxDiff < 1e-5, `max difference ${maxDiff}`);
  assert.deepEqual(argmaxClasses(tiled, K), argmaxClasses(whole, K));
  model.dispose();
});

test('Dice per foreground class: ignores 255 and pixels outside the region; an absent class is NaN', () => {
  const target = Uint8Array.from([0, 1, 1, 0, 255, 1, 0, 0]);
  const pred = Uint8Array.from([0, 1, 0, 1, 1, 1, 0, 0]);
  const [vessel, other] = diceScores(pred, target, 3);
  assert.ok(Math.abs((vessel as number) - (2 * 2) / (3 + 3)) < 1e-12);
  assert.ok(Number.isNaN(other));
  const within = Uint8Array.from([1, 1, 1, 0, 1, 1, 1, 1]);
  assert.ok(Math.abs((diceScores(pred, target, 2, within)[0] as number) - (2 * 2) / (2 + 3)) < 1e-12);
});

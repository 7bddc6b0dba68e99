/**
 * Detection targets and decoding: encoding boxes and decoding the targets
 * as if they were predictions gives the same boxes; the focal loss is ~0
 * for a perfect heatmap; AP@0.5 on hand-made cases.
 */
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { initWasmBackend } from '../../../native-models/backends/wasm-setup';
import { Ap50Accumulator, decodeDetections, detectionLoss, encodeDetectionTargets, gaussianRadius } from '../../../native-models/models/detector';

before(async () => {
  await initWasmBackend();
});

const S = 64;
const K = 3;
// Per image [x, y, w, h, class]: separated boxes of several sizes, odd
// positions (centres between cells), one touching the border.
const boxes = [
  [
    [3, 5, 14, 9, 0],
    [30.5, 40.25, 20, 17, 2],
    [50, 0, 14, 12, 1],
  ],
  [[10, 12, 7, 7, 1]],
  [],
];

function targetTensors(t: ReturnType<typeof encodeDetectionTargets>) {
  const H = t.outSize;
  return {
    heatmap: tf.tensor4d(t.heatmap, [t.n, H, H, K]),
    size: tf.tensor4d(t.size, [t.n, H, H, 2]),
    offset: tf.tensor4d(t.offset, [t.n, H, H, 2]),
    mask: tf.tensor4d(t.mask, [t.n, H, H, 1]),
  };
}

test('encode boxes, decode the targets as predictions: the same boxes come back', async () => {
  const t = encodeDetectionTargets(boxes, S, K);
  assert.equal(t.outSize, 16);
  assert.equal(t.mask.reduce((a, b) => a + b, 0), 4, 'one centre cell per box');
  assert.equal(t.heatmap.filter((v) => v === 1).length, 4, 'heatmap is exactly 1 at each centre');
  const tt = targetTensors(t);
  const decoded = await decodeDetections({ heatmap: tt.heatmap, size: tt.size, offset: tt.offset }, 100, 0.5);
  assert.equal(decoded.length, 3);
  boxes.forEach((want, i) => {
    const got = decoded[i] ?? [];
    assert.equal(got.length, want.length, `image ${i}: ${JSON.stringify(got)}`);
    for (const [x = 0, y = 0, w = 0, h = 0, c = 0] of want) {
      const m = got.find((g) => g.classIndex === c);
      assert.ok(m, `class ${c} found in image ${i}`);
      for (const [a, b] of [
        [m.x, x],
        [m.y, y],
        [m.width, w],
        [m.height, h],
      ] as const) assert.ok(Math.abs(a - b) < 1e-3, `image ${i} class ${c}: ${JSON.stringify(m)} vs ${JSON.stringify([x, y, w, h])}`);
      assert.equal(m.score, 1);
    }
  });
  tf.dispose(Object.values(tt));
});

test('gaussian radius grows with the box; invalid boxes are skipped', () => {
  assert.ok(gaussianRadius(4, 4) < gaussianRadius(10, 10));
  assert.ok(gaussianRadius(10, 10) > 0);
  const t = encodeDetectionTargets([[[1, 1, 0, 5, 0], [1, 1, 5, 5, 7], [1, 1, 5, 5, -1]]], S, K);
  assert.equal(t.mask.reduce((a, b) => a + b, 0), 0);
});

test('focal + L1 loss is ~0 for perfect predictions and large for an empty heatmap', () => {
  const t = encodeDetectionTargets(boxes, S, K);
  const tt = targetTensors(t);
  const perfect = detectionLoss({ heatmap: tt.heatmap as tf.Tensor4D, size: tt.size as tf.Tensor4D, offset: tt.offset as tf.Tensor4D }, tt);
  assert.ok((perfect.total.dataSync()[0] as number) < 0.05, `perfect loss ${perfect.total.dataSync()[0]}`);
  const empty = tf.fill(tt.heatmap.shape, 0.01) as tf.Tensor4D;
  const bad = detectionLoss({ heatmap: empty, size: tt.size as tf.Tensor4D, offset: tt.offset as tf.Tensor4D }, tt);
  assert.ok((bad.focal.dataSync()[0] as number) > 2);
  tf.dispose([...Object.values(tt), empty, ...Object.values(perfect), ...Object.values(bad)]);
});

test('AP@0.5: perfect is 1, a higher-scored false positive halves precision at the first hit, a miss halves recall', () => {
  const box = (x: number, y: number, score: number, classIndex = 0) => ({ x, y, width: 10, height: 10, classIndex, score });
  const perfect = new Ap50Accumulator(2);
  perfect.addImage([box(0, 0, 0.9), box(20, 20, 0.8)], [
    [0, 0, 10, 10, 0],
    [20, 20, 10, 10, 0],
  ]);
  assert.deepEqual(perfect.result(), { ap50: 1, perClass: [1, null] });

  const fp = new Ap50Accumulator(1);
  // FP (score 0.95) first, then two hits: precision 1/2 at recall 0.5, 2/3 at recall 1 -> envelope 2/3 everywhere.
  fp.addImage([box(40, 40, 0.95), box(0, 0, 0.9), box(20, 20, 0.8)], [
    [0, 0, 10, 10, 0],
    [20, 20, 10, 10, 0],
  ]);
  assert.ok(Math.abs(fp.result().ap50 - 2 / 3) < 1e-9);

  const miss = new Ap50Accumulator(1);
  miss.addImage([box(0, 0, 0.9)], [
    [0, 0, 10, 10, 0],
    [20, 20, 10, 10, 0],
  ]);
  assert.equal(miss.result().ap50, 0.5);

  // IoU below 0.5 is a miss; a duplicate detection of a matched box is a false positive.
  const loose = new Ap50Accumulator(1);
  loose.addImage([box(6, 0, 0.9), box(0, 0, 0.8), box(1, 0, 0.7)], [[0, 0, 10, 10, 0]]);
  // ranks: FP (IoU 0.25), TP, FP -> precision 1/2 at recall 1.
  assert.equal(loose.result().ap50, 0.5);
});

test('a region to ignore (class -1) marks its cells and takes the heatmap loss off them, nothing else', () => {
  // Image 0: one object of class 1 and a DontCare region [32, 0, 32, 32] (cells x 8..15, y 0..7).
  const t = encodeDetectionTargets([[[4, 4, 12, 12, 1], [32, 0, 32, 32, -1]]], S, K);
  const H = t.outSize;
  const ignored: [number, number][] = [];
  for (let y = 0; y < H; y++) for (let x = 0; x < H; x++) if (t.ignore[y * H + x] === 1) ignored.push([x, y]);
  assert.equal(ignored.length, 8 * 8);
  assert.ok(ignored.every(([x, y]) => x >= 8 && x <= 15 && y >= 0 && y <= 7));
  assert.equal(t.mask.reduce((a, b) => a + b, 0), 1, 'the region is not an object');
  tf.tidy(() => {
    // A model that fires everywhere inside the region: loss there only without the ignore map.
    const heat = new Float32Array(t.heatmap);
    for (const [x, y] of ignored) for (let k = 0; k < K; k++) heat[(y * H + x) * K + k] = 0.9;
    const out = { heatmap: tf.tensor4d(heat, [1, H, H, K]), size: tf.tensor4d(t.size, [1, H, H, 2]), offset: tf.tensor4d(t.offset, [1, H, H, 2]) };
    const targets = { heatmap: tf.tensor4d(t.heatmap, [1, H, H, K]), size: tf.tensor4d(t.size, [1, H, H, 2]), offset: tf.tensor4d(t.offset, [1, H, H, 2]), mask: tf.tensor4d(t.mask, [1, H, H, 1]) };
    const without = detectionLoss(out, targets).focal.dataSync()[0] as number;
    const withIgnore = detectionLoss(out, { ...targets, ignore: tf.tensor4d(t.ignore, [1, H, H, 1]) }).focal.dataSync()[0] as number;
    const perfect = detectionLoss({ ...out, heatmap: tf.tensor4d(t.heatmap, [1, H, H, K]) }, targets).focal.dataSync()[0] as number;
    assert.ok(without > 1, `firing in the region costs without the ignore map (${without})`);
    assert.ok(Math.abs(withIgnore - perfect) < 1e-3, `with it, the same as a perfect heatmap (${withIgnore} vs ${perfect})`);
  });
});

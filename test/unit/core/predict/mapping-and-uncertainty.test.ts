/**
 * The pure parts of model-assisted labeling: the letterbox inverse that
 * takes model outputs back to image pixels (known values), the shapes
 * stored per task, and the uncertainty scores on known probability vectors.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { TrainConfig } from '../../../../electron/contract/ml';
import { decodeRle } from '../../../../electron/core/labels/rle';
import { boxToImage, boxToInput, classMapToImageMasks, letterboxOf } from '../../../../electron/core/predict/letterbox-mapping';
import { predictionShapes } from '../../../../electron/core/predict/predict-service';
import {
  boxConfidenceUncertainty,
  marginUncertainty,
  meanBinaryEntropy,
  normalisedEntropy,
  uncertainArea,
} from '../../../../electron/core/predict/uncertainty';
import { sampleTransform, transformBoxes } from '../../../../electron/core/training/sample-loader';

const close = (a: number, b: number, eps = 1e-9): void => assert.ok(Math.abs(a - b) < eps, `${a} != ${b}`);

test('letterbox of a 200x100 image into 64 px: scale 0.32, padded top and bottom by 16', () => {
  const lb = letterboxOf(200, 100, 64);
  close(lb.scale, 0.32);
  close(lb.padX, 0);
  close(lb.padY, 16);
  // The same as the training pipeline's transform.
  const t = sampleTransform(200, 100, 64, null);
  close(t.letterbox.scale, lb.scale);
  close(t.letterbox.padY, lb.padY);
  const tall = letterboxOf(30, 120, 48);
  close(tall.scale, 0.4);
  close(tall.padX, (48 - 12) / 2);
  close(tall.padY, 0);
});

test('boxes map back from input to image pixels exactly, are clipped to the image, and vanish on the padding', () => {
  const lb = letterboxOf(200, 100, 64);
  // Input (16, 24, 32, 8) -> image x = 16/0.32 = 50, y = (24-16)/0.32 = 25, w = 100, h = 25.
  const b = boxToImage({ x: 16, y: 24, width: 32, height: 8 }, lb);
  assert.ok(b);
  close(b.x, 50);
  close(b.y, 25);
  close(b.width, 100);
  close(b.height, 25);
  // Round trip with the training pipeline's forward mapping.
  const fwd = transformBoxes([{ x: 50, y: 25, width: 100, height: 25, classIndex: 0 }], sampleTransform(200, 100, 64, null))[0];
  assert.ok(fwd);
  close(fwd[0], 16);
  close(fwd[1], 24);
  close(fwd[2], 32);
  close(fwd[3], 8);
  const back = boxToInput({ x: 50, y: 25, width: 100, height: 25 }, lb);
  close(back.y, 24);
  // Half on the top padding: clipped at y = 0.
  const clipped = boxToImage({ x: 0, y: 10, width: 10, height: 10 }, lb);
  assert.ok(clipped);
  close(clipped.y, 0);
  close(clipped.height, (20 - 16) / 0.32);
  // Entirely on the padding.
  assert.equal(boxToImage({ x: 0, y: 0, width: 64, height: 15 }, lb), null);
  assert.equal(boxToImage({ x: 10, y: 50, width: 5, height: 10 }, lb), null);
});

test('a class map maps back to COCO RLE masks in image pixels (nearest), background left out', () => {
  // 8x4 image into an 8 px input: scale 1, padY 2. Class 1 on input rows 3..4, columns 2..5.
  const lb = letterboxOf(8, 4, 8);
  close(lb.padY, 2);
  const classes = new Uint8Array(64);
  const confidence = new Float32Array(64).fill(0.9);
  for (let v = 3; v <= 4; v++) for (let u = 2; u <= 5; u++) {
    classes[v * 8 + u] = 1;
    confidence[v * 8 + u] = 0.6;
  }
  classes[0] = 2; // on the padding: never on the image
  const masks = classMapToImageMasks(classes, confidence, lb);
  assert.deepEqual(masks.map((m) => m.classIndex), [1]);
  const m = masks[0];
  assert.ok(m);
  assert.deepEqual(m.rle.size, [4, 8]);
  assert.equal(m.area, 8);
  close(m.meanConfidence ?? 0, 0.6, 1e-6);
  const px = decodeRle(m.rle);
  for (let r = 0; r < 4; r++) for (let c = 0; c < 8; c++) assert.equal(px[r * 8 + c], r >= 1 && r <= 2 && c >= 2 && c <= 5 ? 1 : 0, `(${c}, ${r})`);
  // Downscaled input: a 100x50 image into 10 px (scale 0.1, padY 2.5); input cell (u, v) covers image [10u, 10u+10).
  const lb2 = letterboxOf(100, 50, 10);
  const cls2 = new Uint8Array(100);
  cls2[4 * 10 + 3] = 1; // input (3, 4) -> image rows whose centre maps to v = 4: r in [15, 25), columns [30, 40)
  const m2 = classMapToImageMasks(cls2, null, lb2)[0];
  assert.ok(m2);
  assert.equal(m2.area, 100);
  const px2 = decodeRle(m2.rle);
  assert.equal(px2[15 * 100 + 30], 1);
  assert.equal(px2[24 * 100 + 39], 1);
  assert.equal(px2[14 * 100 + 30], 0);
  assert.equal(px2[25 * 100 + 40], 0);
});

const config = (task: TrainConfig['task'], classNames: string[], multiLabel = false): TrainConfig =>
  ({ task, classNames, multiLabel, inputSize: 64, channels: 1 }) as TrainConfig;

test('stored shapes per task: the winning class, boxes above the score floor in image pixels, masks per class', () => {
  const lb = letterboxOf(200, 100, 64);
  assert.deepEqual(predictionShapes({ task: 'classification', probabilities: [0.2, 0.7, 0.1] }, lb, config('classification', ['a', 'b', 'c'])), [
    { kind: 'class', classIndex: 1, className: 'b', score: 0.7 },
  ]);
  assert.deepEqual(
    predictionShapes({ task: 'classification', probabilities: [0.6, 0.2, 0.9] }, lb, config('classification', ['a', 'b', 'c'], true)).map((s) => s.classIndex),
    [0, 2],
  );
  const shapes = predictionShapes(
    {
      task: 'detection',
      boxes: [
        { x: 16, y: 24, width: 32, height: 8, classIndex: 1, score: 0.9 },
        { x: 16, y: 24, width: 32, height: 8, classIndex: 0, score: 0.1 },
        { x: 0, y: 0, width: 64, height: 10, classIndex: 0, score: 0.8 },
      ],
    },
    lb,
    config('detection', ['car', 'sign']),
  );
  assert.equal(shapes.length, 1);
  const s = shapes[0];
  assert.ok(s && s.kind === 'box');
  assert.equal(s.className, 'sign');
  close(s.x, 50);
  close(s.y, 25);
  close(s.width, 100);
  close(s.height, 25);
});

test('entropy and margin on known probability vectors', () => {
  close(normalisedEntropy([0.5, 0.5]), 1);
  close(normalisedEntropy([1, 0]), 0);
  close(normalisedEntropy([0.25, 0.25, 0.25, 0.25]), 1);
  const p = [0.7, 0.2, 0.1];
  close(normalisedEntropy(p), -(0.7 * Math.log(0.7) + 0.2 * Math.log(0.2) + 0.1 * Math.log(0.1)) / Math.log(3));
  close(marginUncertainty([0.6, 0.3, 0.1]), 0.7);
  close(marginUncertainty([0.1, 0.45, 0.45]), 1);
  close(marginUncertainty([1, 0, 0]), 0);
  close(meanBinaryEntropy([0.5, 1]), 0.5);
  close(meanBinaryEntropy([0.5]), 1);
  close(boxConfidenceUncertainty([]), 0);
  close(boxConfidenceUncertainty([0.95, 0.5, 0.05]), 1);
  close(boxConfidenceUncertainty([0.9, 0.2]), 0.4);

  // Ordering: most uncertain first, by entropy and by margin.
  const vectors: [string, number[]][] = [
    ['sure', [0.98, 0.01, 0.01]],
    ['split', [0.45, 0.45, 0.1]],
    ['flat', [0.34, 0.33, 0.33]],
    ['leaning', [0.7, 0.2, 0.1]],
  ];
  const byEntropy = [...vectors].sort((a, b) => normalisedEntropy(b[1]) - normalisedEntropy(a[1])).map((v) => v[0]);
  assert.deepEqual(byEntropy, ['flat', 'split', 'leaning', 'sure']);
  const byMargin = [...vectors].sort((a, b) => marginUncertainty(b[1]) - marginUncertainty(a[1])).map((v) => v[0]);
  assert.deepEqual(byMargin, ['split', 'flat', 'leaning', 'sure']);
});

test('uncertain mask area counts only the image area, below halfway between chance and certainty', () => {
  // 8x4 image in 8 px (rows 2..5 are the image). Two classes: threshold 0.75.
  const lb = letterboxOf(8, 4, 8);
  const conf = new Float32Array(64).fill(0.5); // padding rows are uncertain too, but do not count
  for (let v = 2; v < 6; v++) for (let u = 0; u < 8; u++) conf[v * 8 + u] = u < 2 ? 0.7 : 0.99;
  close(uncertainArea(conf, 2, lb), 8 / 32);
  // Three classes: threshold (1 + 1/3) / 2 = 0.667, so 0.7 is certain enough.
  close(uncertainArea(conf, 3, lb), 0);
});

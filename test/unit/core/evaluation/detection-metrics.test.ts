/**
 * COCO box evaluation against pycocotools' published numbers
 * (test/fixtures/coco-eval-reference.json: TorchMetrics' unit-test example
 * with the values pycocotools printed), and hand-computed cases for the
 * rules that example does not exercise (crowd and ignored ground truth,
 * ties across images, maxDets, classes without ground truth), each with its
 * derivation.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { boxIou, COCO_PARAMS, cocoEvaluate, linspace, type DetectionImage } from '../../../../electron/core/evaluation/detection-metrics';
import { REPO_ROOT } from '../../../helpers/paths';

interface RefBox {
  bbox: [number, number, number, number];
  class: number;
  score?: number;
}
interface Reference {
  classes: string[];
  images: { cocoImageId: number; groundTruth: RefBox[]; detections: RefBox[] }[];
  expected: {
    all: { mAP: number; mAP50: number; mAP75: number; mAR1: number; mAR10: number; mAR100: number; apPerClass: number[]; ar100PerClass: number[] };
    withoutImage133: { mAP: number; mAR100: number; apPerClass: number[]; ar100PerClass: number[] };
  };
}

const ref = JSON.parse(readFileSync(join(REPO_ROOT, 'test', 'fixtures', 'coco-eval-reference.json'), 'utf8')) as Reference;
/** The published values have 3 decimals. */
const ROUNDING = 5e-4 + 1e-9;

function toImages(images: Reference['images']): DetectionImage[] {
  // pycocotools evaluates images in sorted id order.
  return [...images]
    .sort((a, b) => a.cocoImageId - b.cocoImageId)
    .map((im) => ({
      itemId: im.cocoImageId,
      groundTruth: im.groundTruth.map((g) => ({ x: g.bbox[0], y: g.bbox[1], width: g.bbox[2], height: g.bbox[3], classIndex: g.class })),
      detections: im.detections.map((d) => ({ x: d.bbox[0], y: d.bbox[1], width: d.bbox[2], height: d.bbox[3], classIndex: d.class, score: d.score as number })),
    }));
}

function close(actual: number, expected: number, what: string, tol = ROUNDING): number {
  const d = Math.abs(actual - expected);
  assert.ok(d <= tol, `${what}: Fovea ${actual}, reference ${expected} (|diff| ${d})`);
  // Printed like pycocotools' summarize() ('%0.3f'), the value reads exactly as published.
  assert.equal(actual.toFixed(3), expected.toFixed(3), what);
  return d;
}

test('COCO mAP equals the pycocotools numbers published with TorchMetrics (to their 3 decimals)', () => {
  let max = 0;
  const all = cocoEvaluate(toImages(ref.images), ref.classes);
  const e = ref.expected.all;
  max = Math.max(max, close(all.mAP, e.mAP, 'mAP'), close(all.mAP50, e.mAP50, 'mAP50'), close(all.mAP75, e.mAP75, 'mAP75'));
  max = Math.max(max, close(all.mAR1, e.mAR1, 'mAR1'), close(all.mAR10, e.mAR10, 'mAR10'), close(all.mAR100, e.mAR100, 'mAR100'));
  ref.classes.forEach((name, k) => {
    max = Math.max(max, close(all.perClass[name]?.ap ?? NaN, e.apPerClass[k] as number, `AP class ${name}`));
    max = Math.max(max, close(all.perClass[name]?.ar100 ?? NaN, e.ar100PerClass[k] as number, `AR100 class ${name}`));
  });
  // Class 3 has a detection but no ground truth: -1, as pycocotools, and left out of the means.
  assert.equal(all.perClass['3']?.ap, -1);
  assert.equal(all.perClass['3']?.ap50, -1);

  const three = ref.images.filter((im) => im.cocoImageId !== 133);
  const w = cocoEvaluate(toImages(three), ref.classes.slice(0, 5));
  const e3 = ref.expected.withoutImage133;
  max = Math.max(max, close(w.mAP, e3.mAP, 'mAP (3 images)'), close(w.mAR100, e3.mAR100, 'mAR100 (3 images)'));
  ref.classes.slice(0, 5).forEach((name, k) => {
    max = Math.max(max, close(w.perClass[name]?.ap ?? NaN, e3.apPerClass[k] as number, `AP class ${name} (3 images)`));
    max = Math.max(max, close(w.perClass[name]?.ar100 ?? NaN, e3.ar100PerClass[k] as number, `AR100 class ${name} (3 images)`));
  });
  process.stdout.write(`# COCO reference (pycocotools via TorchMetrics): max |Fovea - published| = ${max.toExponential(2)} (published to 3 decimals; every value rounds to the published one)\n`);

  // Per-image results at IoU 0.5 (the error gallery's input): image 73 has one TP (class 2), one FP (class 3), one missed class-2 box.
  const im73 = all.images.find((i) => i.itemId === 73);
  assert.ok(im73);
  assert.equal(im73.truePositives, 1);
  assert.equal(im73.falsePositives, 1);
  assert.deepEqual(im73.missed, [0]);
  assert.equal(im73.detections[0]?.matched, 1);
});

test('IoU thresholds and recall points are numpy.linspace values', () => {
  assert.equal(COCO_PARAMS.iouThresholds.length, 10);
  assert.equal(COCO_PARAMS.iouThresholds[8], 0.8999999999999999); // what numpy gives, not 0.9
  assert.equal(COCO_PARAMS.recallThresholds.length, 101);
  assert.equal(COCO_PARAMS.recallThresholds[57], 0.5700000000000001);
  assert.deepEqual(linspace(0, 1, 3), [0, 0.5, 1]);
});

const box = (x: number, y: number, w: number, h: number) => ({ x, y, width: w, height: h });

test('one detection at IoU 0.7755 is a hit at 6 of the 10 thresholds: AP 0.6', () => {
  // gt [214,41]-[562,285], det [258,41]-[606,285]: intersection 304 x 244, union 392 x 244,
  // IoU = 304/392 = 0.7755 >= 0.50 .. 0.75, < 0.80 .. 0.95 -> AP = (6 x 1 + 4 x 0) / 10.
  const r = cocoEvaluate([{ groundTruth: [{ ...box(214, 41, 348, 244), classIndex: 0 }], detections: [{ ...box(258, 41, 348, 244), classIndex: 0, score: 0.536 }] }], ['a']);
  assert.ok(Math.abs(boxIou(box(258, 41, 348, 244), box(214, 41, 348, 244)) - 304 / 392) < 1e-12);
  assert.ok(Math.abs(r.mAP - 0.6) < 1e-12);
  assert.ok(Math.abs(r.mAP50 - 1) < 1e-12);
});

test('a crowd region absorbs detections (intersection over detection area) and is never missed; a regular box is preferred', () => {
  // gt A [0,0,10,10] regular; crowd C [0,0,20,20]. e [5,5,10,10] (0.95): A is at IoU 25/175 < 0.5;
  // against the crowd region IoU = 100 / area(e) = 1 -> matched to C -> ignored (neither TP nor FP).
  // d [0,0,10,10] (0.9): IoU 1 with A and 1 with C; A comes first (regular before ignored) -> TP.
  // Detections in score order: ignored, TP; 1 regular ground truth -> precision 1 at recall 1: AP 1.
  // (Were C an ordinary box, e would be a FP ahead of the TP: AP 0.5.)
  const images: DetectionImage[] = [
    {
      groundTruth: [{ ...box(0, 0, 10, 10), classIndex: 0 }, { ...box(0, 0, 20, 20), classIndex: 0, crowd: true }],
      detections: [{ ...box(5, 5, 10, 10), classIndex: 0, score: 0.95 }, { ...box(0, 0, 10, 10), classIndex: 0, score: 0.9 }, { ...box(12, 12, 8, 8), classIndex: 0, score: 0.85 }],
    },
  ];
  // f [12,12,8,8] (0.85) also lies inside C: ignored too (a crowd region can be matched many times).
  const r = cocoEvaluate(images, ['a']);
  assert.ok(Math.abs(r.mAP - 1) < 1e-12, String(r.mAP));
  assert.equal(r.perClass['a']?.groundTruth, 1);
  const im = r.images[0];
  assert.ok(im);
  assert.equal(im.truePositives, 1);
  assert.equal(im.falsePositives, 0);
  assert.deepEqual(im.missed, []);
  assert.deepEqual(im.detections.map((d) => [d.matched, d.ignored]), [
    [1, true],
    [0, false],
    [1, true],
  ]);
  const plain = cocoEvaluate([{ ...images[0], groundTruth: [{ ...box(0, 0, 10, 10), classIndex: 0 }, { ...box(0, 0, 20, 20), classIndex: 0 }] } as DetectionImage], ['a']);
  assert.ok(plain.mAP < 0.6);
});

test('an ignored (difficult) box is matched once with the ordinary IoU and counts neither way', () => {
  // A [0,0,10,10] regular, D [20,0,10,10] ignored. x [20,0,10,10] 0.9 -> D (ignored);
  // y [21,0,10,10] 0.8: D is taken (not a crowd), A at IoU 0 -> FP; z [0,0,10,10] 0.7 -> A, TP.
  // Order: ignored, FP, TP; npig = 1: precision after the TP 1/2, recall 1 -> every recall point
  // takes the interpolated precision 0.5: AP 0.5. (Were D regular: (51 x 1 + 50 x 2/3) / 101.)
  const r = cocoEvaluate(
    [
      {
        groundTruth: [{ ...box(0, 0, 10, 10), classIndex: 0 }, { ...box(20, 0, 10, 10), classIndex: 0, ignore: true }],
        detections: [{ ...box(20, 0, 10, 10), classIndex: 0, score: 0.9 }, { ...box(21, 0, 10, 10), classIndex: 0, score: 0.8 }, { ...box(0, 0, 10, 10), classIndex: 0, score: 0.7 }],
      },
    ],
    ['a'],
  );
  assert.ok(Math.abs(r.mAP - 0.5) < 1e-12, String(r.mAP));
  assert.equal(r.images[0]?.falsePositives, 1);
});

test('equal scores across images keep image order (pycocotools: sorted image ids)', () => {
  // Image 0: g0, a (0.9) hits g0, b (0.5) misses. Image 1: g1, c (0.5) hits g1.
  // Merged: a TP, b FP, c TP (the tie keeps image order). npig 2: recall [.5, .5, 1],
  // precision [1, .5, 2/3] -> interpolated [1, 2/3, 2/3]; recall points 0..0.50 (51) take 1,
  // 0.51..1 (50) take 2/3: AP = (51 + 100/3) / 101 = 253/303. Swapping the images puts c first: AP 1.
  const im0: DetectionImage = { groundTruth: [{ ...box(0, 0, 10, 10), classIndex: 0 }], detections: [{ ...box(0, 0, 10, 10), classIndex: 0, score: 0.9 }, { ...box(50, 50, 10, 10), classIndex: 0, score: 0.5 }] };
  const im1: DetectionImage = { groundTruth: [{ ...box(0, 0, 10, 10), classIndex: 0 }], detections: [{ ...box(0, 0, 10, 10), classIndex: 0, score: 0.5 }] };
  assert.ok(Math.abs(cocoEvaluate([im0, im1], ['a']).mAP50 - 253 / 303) < 1e-12);
  assert.ok(Math.abs(cocoEvaluate([im1, im0], ['a']).mAP50 - 1) < 1e-12);
});

test('only the 100 highest-scoring detections per image and class count', () => {
  // One ground truth; n far-away detections scored 0.9, then the hit scored 0.5.
  // n = 99: the hit is the 100th: precision 1/100 at recall 1 -> AP 0.01 (interpolated back to recall 0).
  // n = 100: the hit is the 101st and is dropped: AP 0, AR@100 0.
  const make = (n: number): DetectionImage[] => [
    {
      groundTruth: [{ ...box(0, 0, 10, 10), classIndex: 0 }],
      detections: [...Array.from({ length: n }, (_, i) => ({ ...box(100 + i * 20, 100, 10, 10), classIndex: 0, score: 0.9 })), { ...box(0, 0, 10, 10), classIndex: 0, score: 0.5 }],
    },
  ];
  const r99 = cocoEvaluate(make(99), ['a']);
  assert.ok(Math.abs(r99.mAP50 - 0.01) < 1e-12, String(r99.mAP50));
  assert.equal(r99.mAR100, 1);
  assert.equal(r99.mAR10, 0);
  const r100 = cocoEvaluate(make(100), ['a']);
  assert.equal(r100.mAP50, 0);
  assert.equal(r100.mAR100, 0);
});

test('classes without ground truth are -1 and left out of the means; with ground truth and no detection, AP 0', () => {
  const r = cocoEvaluate(
    [
      { groundTruth: [{ ...box(0, 0, 10, 10), classIndex: 0 }, { ...box(30, 30, 10, 10), classIndex: 1 }], detections: [{ ...box(0, 0, 10, 10), classIndex: 0, score: 0.8 }, { ...box(60, 60, 5, 5), classIndex: 2, score: 0.9 }] },
      { groundTruth: [], detections: [] },
    ],
    ['a', 'b', 'c', 'd'],
  );
  assert.ok(Math.abs((r.perClass['a']?.ap ?? NaN) - 1) < 1e-12); // tp / (tp + fp + 2^-52), as pycocotools
  assert.equal(r.perClass['b']?.ap, 0);
  assert.equal(r.perClass['c']?.ap, -1);
  assert.equal(r.perClass['d']?.ap, -1);
  assert.ok(Math.abs(r.mAP - 0.5) < 1e-12);
  assert.equal(r.n, 2);
  assert.equal(cocoEvaluate([{ groundTruth: [], detections: [] }], ['a']).mAP, -1);
});

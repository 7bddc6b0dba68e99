/**
 * Segmentation Dice / IoU: a hand-computed case (derivation below), the
 * empty-class convention, per-series aggregation, and random masks against
 * a direct numpy computation (fails, naming the install command, when /usr/bin/python3 lacks numpy).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { SegmentationAccumulator } from '../../../../electron/core/evaluation/segmentation-metrics';
import { createRandom } from '../../../../electron/core/samples/seeded-random';
import { requireTool } from '../../../helpers/reference-tools';

const near = (a: number | null | undefined, b: number, what: string) => {
  assert.ok(a !== null && a !== undefined && Math.abs(a - b) < 1e-12, `${what}: ${String(a)} vs ${b}`);
};

test('Dice and IoU of a hand-computed 4x4 case (255 ignored, an unknown predicted value is a miss)', () => {
  // truth            pred          per pixel (class 0 bg, 1 a, 2 b; 7 names no class)
  // 0 0 1 1          0 1 1 1       tp0, fn0+fp1, tp1, tp1
  // 0 0 1 1          0 0 1 0       tp0, tp0, tp1, fn1+fp0
  // 2 2 . .          2 0 2 2       tp2, fn2+fp0, ignored, ignored
  // 2 2 0 0          7 2 0 0       fn2 (no FP), tp2, tp0, tp0
  // class 0: tp 5 fp 2 fn 1 -> Dice 10/13, IoU 5/8
  // class 1: tp 3 fp 1 fn 1 -> Dice 6/8,  IoU 3/5
  // class 2: tp 2 fp 0 fn 2 -> Dice 4/6,  IoU 2/4
  // foreground means: Dice (3/4 + 2/3) / 2 = 17/24, IoU (3/5 + 1/2) / 2 = 11/20
  const truth = Uint8Array.from([0, 0, 1, 1, 0, 0, 1, 1, 2, 2, 255, 255, 2, 2, 0, 0]);
  const pred = Uint8Array.from([0, 1, 1, 1, 0, 0, 1, 0, 2, 0, 2, 2, 7, 2, 0, 0]);
  const acc = new SegmentationAccumulator(['background', 'a', 'b']);
  const img = acc.add(truth, pred, { itemId: 1, frameIndex: 0 });
  const r = acc.result();
  near(r.perClass['background']?.dice, 10 / 13, 'dice bg');
  near(r.perClass['background']?.iou, 5 / 8, 'iou bg');
  near(r.perClass['a']?.dice, 6 / 8, 'dice a');
  near(r.perClass['a']?.iou, 3 / 5, 'iou a');
  near(r.perClass['b']?.dice, 4 / 6, 'dice b');
  near(r.perClass['b']?.iou, 2 / 4, 'iou b');
  near(r.dice, 17 / 24, 'mean dice');
  near(r.iou, 11 / 20, 'mean iou');
  near(img.dice, 17 / 24, 'image dice');
  assert.equal(r.ignoredPixels, 2);
  assert.deepEqual([r.perClass['b']?.truePositives, r.perClass['b']?.falsePositives, r.perClass['b']?.falseNegatives], [2, 0, 2]);
});

test('a class absent from truth and prediction is null and left out of the means (not counted as 1)', () => {
  const acc = new SegmentationAccumulator(['background', 'a', 'b']);
  // Image 1: only a (perfect). Image 2: nothing but background, predicted right.
  const i1 = acc.add([0, 1, 1, 0], [0, 1, 1, 0]);
  const i2 = acc.add([0, 0, 0, 0], [0, 0, 0, 0]);
  const r = acc.result();
  assert.equal(r.perClass['b']?.dice, null);
  assert.equal(r.perClass['b']?.iou, null);
  assert.equal(r.dice, 1);
  assert.equal(i1.dice, 1);
  assert.equal(i2.dice, null, 'no foreground in truth or prediction: undefined, not perfect');
  assert.equal(r.meanImageDice, 1, 'the undefined image is left out of the per-image mean');
  // A false positive on an empty image is a real error: Dice 0 for that class there.
  const acc2 = new SegmentationAccumulator(['background', 'a']);
  assert.equal(acc2.add([0, 0], [1, 0]).dice, 0);
});

test('per series: pixels pooled over the series images', () => {
  const acc = new SegmentationAccumulator(['background', 'lesion']);
  // Series 7: image A tp 1 fn 1, image B tp 1 fp 1 -> pooled tp 2 fp 1 fn 1: Dice 4/6. Series 8: perfect.
  acc.add([1, 1, 0, 0], [1, 0, 0, 0], { itemId: 1, seriesId: 7 });
  acc.add([1, 0, 0, 0], [1, 1, 0, 0], { itemId: 2, seriesId: 7 });
  acc.add([0, 1, 0, 0], [0, 1, 0, 0], { itemId: 3, seriesId: 8 });
  acc.add([0, 1, 0, 0], [0, 1, 0, 0], { itemId: 4, seriesId: null });
  const r = acc.result();
  assert.deepEqual(r.perSeries.map((s) => [s.seriesId, s.images]), [
    [7, 2],
    [8, 1],
  ]);
  near(r.perSeries[0]?.dice, 4 / 6, 'series 7');
  near(r.perSeries[1]?.dice, 1, 'series 8');
  // Whole set: tp 4 fp 1 fn 1 -> 8/10; per image: 2/3, 2/3, 1, 1 -> mean 5/6.
  near(r.dice, 8 / 10, 'set dice');
  near(r.meanImageDice, 5 / 6, 'mean image dice');
});

test('random masks: per-class and per-image Dice / IoU equal a direct numpy computation', () => {
  requireTool('numpy');
  const r = createRandom('segmentation-numpy');
  const K = 4;
  const images = Array.from({ length: 6 }, (_, i) => {
    const n = 32 * 32;
    // Image 5 never has class 3 anywhere (empty class in that image).
    const truth = Array.from({ length: n }, () => (r.bool(0.05) ? 255 : r.int(0, i === 5 ? 2 : K - 1)));
    const pred = truth.map((v) => (v !== 255 && r.bool(0.7) ? v : r.int(0, i === 5 ? 2 : K - 1)));
    return { truth, pred };
  });
  const acc = new SegmentationAccumulator(['bg', 'c1', 'c2', 'c3']);
  const per = images.map((im) => acc.add(im.truth, im.pred));
  const ours = acc.result();
  const script = `
import json, sys
import numpy as np
d = json.load(sys.stdin); K = d['K']
def stats(t, p):
    v = t != 255
    out = []
    for c in range(K):
        tp = int(np.sum((t == c) & (p == c) & v)); fp = int(np.sum((t != c) & (p == c) & v)); fn = int(np.sum((t == c) & (p != c) & v))
        out.append(None if tp + fp + fn == 0 else [2 * tp / (2 * tp + fp + fn), tp / (tp + fp + fn)])
    return out
T = [np.array(i['truth']) for i in d['images']]; P = [np.array(i['pred']) for i in d['images']]
print(json.dumps({'all': stats(np.concatenate(T), np.concatenate(P)), 'images': [stats(a, b) for a, b in zip(T, P)]}))
`;
  const run = spawnSync('/usr/bin/python3', ['-c', script], { input: JSON.stringify({ K, images }), encoding: 'utf8', maxBuffer: 16 * 1024 * 1024 });
  assert.equal(run.status, 0, run.stderr);
  const np = JSON.parse(run.stdout) as { all: ([number, number] | null)[]; images: ([number, number] | null)[][] };
  let max = 0;
  const cmp = (a: number | null | undefined, b: number | null | undefined, what: string) => {
    if (a === null || a === undefined || b === null || b === undefined) return assert.equal(a ?? null, b ?? null, what);
    max = Math.max(max, Math.abs(a - b));
    assert.ok(Math.abs(a - b) < 1e-12, `${what}: ${a} vs ${b}`);
  };
  ['bg', 'c1', 'c2', 'c3'].forEach((name, k) => {
    cmp(ours.perClass[name]?.dice, np.all[k]?.[0], `dice ${name}`);
    cmp(ours.perClass[name]?.iou, np.all[k]?.[1], `iou ${name}`);
    per.forEach((im, i) => {
      cmp(im.perClass[name]?.dice, np.images[i]?.[k]?.[0] ?? null, `image ${i} dice ${name}`);
      cmp(im.perClass[name]?.iou, np.images[i]?.[k]?.[1] ?? null, `image ${i} iou ${name}`);
    });
  });
  assert.equal(per[5]?.perClass['c3']?.dice, null);
  process.stdout.write(`# segmentation vs numpy: max |diff| ${max.toExponential(2)}\n`);
});

/**
 * Detection augmentation (issue 13 item 4): scale jitter with shifts (random crops) keeps boxes on
 * what they frame. A bright rectangle is drawn into an image, its box is augmented with it, and the
 * box must still frame the bright pixels in the model input, draw after draw; a box cut down below
 * minBoxVisibility becomes a region to ignore (class -1); saturation changes colour and leaves
 * grey alone; the first six numbers of a sample's draw are those of before the new options.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { AugmentConfig } from '../../../../electron/contract/ml';
import { applyAffine, assembleSample, drawAugmentation, renderSample, sampleTransform, transformBoxes, type DecodedSample } from '../../../../electron/core/training/sample-loader';
import type { Sample } from '../../../../electron/core/training/training-samples';
import { defaultTrainConfig } from '../../../../native-models/models/defaults';

const W = 200;
const H = 120;

/** A grey image, 1 inside each rectangle, 0 elsewhere, as the cache holds it (full resolution). */
function drawn(rects: { x: number; y: number; width: number; height: number }[], channels: 1 | 3 = 1): DecodedSample {
  const data = new Float32Array(W * H * channels);
  for (const r of rects) {
    for (let y = r.y; y < r.y + r.height; y++) for (let x = r.x; x < r.x + r.width; x++) for (let c = 0; c < channels; c++) data[(y * W + x) * channels + c] = 1;
  }
  return { image: { width: W, height: H, channels, data }, reduction: 1, sourceWidth: W, sourceHeight: H, classMap: null, missingMasks: [], bytes: data.byteLength };
}

function sampleOf(boxes: { x: number; y: number; width: number; height: number }[]): Sample {
  return {
    itemId: 7,
    frameIndex: 0,
    kind: 'image',
    blobSha256: 'x',
    width: W,
    height: H,
    colour: false,
    patientKey: null,
    target: { task: 'detection', boxes: boxes.map((b) => ({ ...b, classIndex: 0 })) },
    annotations: [],
  };
}

/** The extent of the pixels brighter than 0.5 in an S x S single-channel input, or null. */
function brightExtent(x: Float32Array, S: number): [number, number, number, number] | null {
  let x0 = Infinity;
  let y0 = Infinity;
  let x1 = -Infinity;
  let y1 = -Infinity;
  for (let v = 0; v < S; v++) {
    for (let u = 0; u < S; u++) {
      if ((x[v * S + u] as number) <= 0.5) continue;
      x0 = Math.min(x0, u);
      y0 = Math.min(y0, v);
      x1 = Math.max(x1, u + 1);
      y1 = Math.max(y1, v + 1);
    }
  }
  return Number.isFinite(x0) ? [x0, y0, x1, y1] : null;
}

const CROP: AugmentConfig = { flipHorizontal: true, flipVertical: false, rotateDegrees: 0, scale: 0.4, intensity: 0, translate: 0.25, minBoxVisibility: 0.4 };

test('scale jitter and shifts (random crops): the box still frames the drawn rectangle, clipped where the crop cuts it', () => {
  const rect = { x: 20, y: 15, width: 150, height: 90 };
  const S = 64;
  const decoded = drawn([rect]);
  const sample = sampleOf([rect]);
  let shifted = 0;
  let clipped = 0;
  let zoomed = 0;
  for (let epoch = 0; epoch < 40; epoch++) {
    const draw = drawAugmentation(CROP, 11, epoch, sample.itemId, 0);
    if (Math.abs(draw.shiftX) > 0.05 || Math.abs(draw.shiftY) > 0.05) shifted++;
    if (draw.scale > 1.15) zoomed++;
    const loaded = assembleSample(sample, decoded, { task: 'detection', inputSize: S, channels: 1, normalization: { kind: 'unit' }, augment: CROP, seed: 11, epoch });
    assert.equal(loaded.target.task, 'detection');
    const boxes = loaded.target.task === 'detection' ? loaded.target.boxes : [];
    const bright = brightExtent(loaded.x, S);
    if (bright === null) {
      assert.equal(boxes.filter((b) => b[4] === 0).length, 0, `epoch ${epoch}: no rectangle in view, no object box`);
      continue;
    }
    const [bx0, by0, bx1, by1] = bright;
    const [x, y, w, h, cls] = boxes[0] as [number, number, number, number, number];
    assert.equal(boxes.length, 1, `epoch ${epoch}: one box`);
    // The box is the bright region's extent, to a pixel (bilinear edges), clipped to the input.
    const d = [x - bx0, y - by0, x + w - bx1, y + h - by1].map(Math.abs);
    assert.ok(d.every((e) => e < 1.01), `epoch ${epoch}: box ${[x, y, x + w, y + h].map((n) => n.toFixed(2)).join(',')} vs bright ${bright.join(',')}`);
    assert.ok(x >= 0 && y >= 0 && x + w <= S + 1e-9 && y + h <= S + 1e-9, 'inside the input');
    // Class: an object while most of it is visible, a region to ignore once a crop cut most of it away.
    const [p0x, p0y] = applyAffine(loaded.transform.forward, rect.x, rect.y);
    const [p1x, p1y] = applyAffine(loaded.transform.forward, rect.x + rect.width, rect.y + rect.height);
    const visible = (w * h) / Math.abs((p1x - p0x) * (p1y - p0y));
    assert.equal(cls, visible < 0.4 ? -1 : 0, `epoch ${epoch}: visible ${visible.toFixed(2)}`);
    if (visible < 0.999) clipped++;
  }
  assert.ok(shifted > 10 && zoomed > 5 && clipped > 0, `the draws exercised shifts (${shifted}), zooms (${zoomed}) and crops (${clipped})`);
});

test('a box the crop cuts mostly away becomes a region to ignore; a whole box stays an object; without augmentation nothing is ignored', () => {
  // The input is the image's left half at scale 1 (shift half an input to the right of a 2x zoom).
  const S = 64;
  const t = sampleTransform(W, H, S, { flipHorizontal: false, flipVertical: false, angle: 0, scale: 2, contrast: 1, brightness: 0, shiftX: 0.5, shiftY: 0, saturation: 1 });
  const inside = { x: 10, y: 40, width: 20, height: 20, classIndex: 0 };
  const cut = { x: 95, y: 40, width: 30, height: 20, classIndex: 0 }; // 5 of its 30 px in view
  const [a, b] = transformBoxes([inside, cut], t, 0.4);
  assert.ok(a && b);
  assert.equal(a[4], 0, 'whole box: object');
  assert.equal(b[4], -1, 'mostly cut: ignored');
  assert.ok(Math.abs((b[2] as number) - (a[2] as number) / 4) < 1e-6, 'the ignored region is the visible part (5 of 20 px wide at the same scale)');
  assert.equal(transformBoxes([cut], t)[0]?.[4], 0, 'minVisibility 0 (the default) keeps it an object');
  const plain = assembleSample(sampleOf([cut]), drawn([cut]), { task: 'detection', inputSize: S, channels: 1, normalization: { kind: 'unit' }, augment: null });
  assert.ok(plain.target.task === 'detection' && plain.target.boxes.every((bx) => bx[4] === 0));
});

test('saturation jitter changes colours around their luma and leaves grey pixels unchanged', () => {
  const S = 32;
  const d: DecodedSample = drawn([], 3);
  // Left half saturated red-ish, right half mid grey.
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      const o = (y * W + x) * 3;
      d.image.data.set(x < W / 2 ? [0.8, 0.3, 0.2] : [0.5, 0.5, 0.5], o);
    }
  }
  const base = { flipHorizontal: false, flipVertical: false, angle: 0, scale: 1, contrast: 1, brightness: 0, shiftX: 0, shiftY: 0 };
  const same = renderSample(d, sampleTransform(W, H, S, { ...base, saturation: 1 })).x;
  const grey = renderSample(d, sampleTransform(W, H, S, { ...base, saturation: 0 })).x;
  const more = renderSample(d, sampleTransform(W, H, S, { ...base, saturation: 1.5 })).x;
  const px = (img: Float32Array, u: number, v: number): number[] => Array.from(img.subarray((v * S + u) * 3, (v * S + u) * 3 + 3));
  const luma = 0.299 * 0.8 + 0.587 * 0.3 + 0.114 * 0.2;
  const red = { u: 4, v: 16 };
  px(same, red.u, red.v).forEach((c, i) => assert.ok(Math.abs(c - ([0.8, 0.3, 0.2][i] as number)) < 1e-5));
  px(grey, red.u, red.v).forEach((c) => assert.ok(Math.abs(c - luma) < 1e-5, 'saturation 0 is the luma'));
  const m = px(more, red.u, red.v);
  assert.ok(Math.abs((m[0] as number) - (luma + (0.8 - luma) * 1.5)) < 1e-5 && (m[2] as number) < 0.2, 'saturation 1.5 pushes away from the luma');
  for (const img of [grey, more]) px(img, 28, 16).forEach((c) => assert.ok(Math.abs(c - 0.5) < 1e-5, 'grey stays grey'));
});

test('the draw order is kept: flips, angle, scale, contrast, brightness do not move when shifts and saturation are on', () => {
  const old: AugmentConfig = { flipHorizontal: true, flipVertical: true, rotateDegrees: 10, scale: 0.2, intensity: 0.2 };
  for (let e = 0; e < 5; e++) {
    const a = drawAugmentation(old, 3, e, 9, 0);
    const b = drawAugmentation({ ...old, translate: 0.2, saturation: 0.3 }, 3, e, 9, 0);
    for (const k of ['flipHorizontal', 'flipVertical', 'angle', 'scale', 'contrast', 'brightness'] as const) assert.equal(a[k], b[k]);
    assert.ok(a.shiftX === 0 && a.shiftY === 0);
    assert.equal(a.saturation, 1);
  }
});

test('the detection defaults augment with crops, shifts and colour, and ignore boxes cut below 40%', () => {
  const a = defaultTrainConfig('detection', ['person'], 3).augment;
  assert.ok(a.scale >= 0.3 && (a.translate ?? 0) > 0 && (a.saturation ?? 0) > 0 && a.minBoxVisibility === 0.4 && a.rotateDegrees === 0);
});

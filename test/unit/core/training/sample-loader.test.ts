/**
 * The sample loader on a real library: DICOM windowing against the VOI
 * formula computed here from the stored values, MONOCHROME1 inversion,
 * multi-frame samples, the label rules of collectSamples, and geometry that
 * follows the pixels through letterbox and augmentation (a box over a bright
 * rectangle, a mask over a bright shape under flips).
 */
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import dicomParser from 'dicom-parser';
import sharp from 'sharp';
import type { AugmentConfig } from '../../../../electron/contract/ml';
import { encodeMask } from '../../../../electron/core/labels/rle';
import { drawAugmentation, loadSample } from '../../../../electron/core/training/sample-loader';
import { collectSamples, maskReader } from '../../../../electron/core/training/training-samples';
import { SHARED_TESTDATA } from '../../../helpers/paths';
import { tempCore } from '../../../helpers/temp-library';

const NO_AUGMENT: AugmentConfig = { flipHorizontal: false, flipVertical: false, rotateDegrees: 0, scale: 0, intensity: 0 };

/** Modality values straight from the file with dicom-parser (not Fovea's decoder). */
function storedModalityValues(path: string): { values: Float64Array; width: number; height: number; photometric: string } {
  const bytes = new Uint8Array(readFileSync(path));
  const ds = dicomParser.parseDicom(bytes);
  const rows = ds.uint16('x00280010') as number;
  const cols = ds.uint16('x00280011') as number;
  const bitsStored = ds.uint16('x00280101') as number;
  const signed = ds.uint16('x00280103') === 1;
  assert.equal(ds.uint16('x00280100'), 16);
  const slope = ds.floatString('x00281053') ?? 1;
  const intercept = ds.floatString('x00281052') ?? 0;
  const el = ds.elements['x7fe00010'] as { dataOffset: number; length: number };
  const view = new DataView(bytes.buffer, bytes.byteOffset + el.dataOffset, rows * cols * 2);
  const values = new Float64Array(rows * cols);
  for (let i = 0; i < values.length; i++) {
    let v = view.getUint16(i * 2, true) & ((1 << bitsStored) - 1);
    if (signed && v >= 1 << (bitsStored - 1)) v -= 1 << bitsStored;
    values[i] = v * slope + intercept;
  }
  return { values, width: cols, height: rows, photometric: (ds.string('x00280004') ?? '').trim() };
}

test('DICOM: a fixed window is the linear VOI formula of the stored values; MONOCHROME1 is inverted; frames are samples', async (t) => {
  const { core, cleanup } = tempCore();
  t.after(cleanup);
  const ds = core.datasets.create('dicom', '');
  const files = {
    ct: join(SHARED_TESTDATA, 'dicom/pydicom/CT_small.dcm'),
    cr: join(SHARED_TESTDATA, 'dicom/pydicom/dicomdirtests/77654033/CR1/6154'),
    mf: join(SHARED_TESTDATA, 'dicom/pydicom-data/emri_small.dcm'),
  };
  const imp = await core.importFiles({ datasetId: ds.id, paths: Object.values(files) });
  assert.equal(imp.counts.imported, 3);
  const items = core.db.prepare('SELECT id, source_name AS name, series_id AS seriesId FROM items WHERE dataset_id = ? ORDER BY id').all(ds.id) as {
    id: number;
    name: string;
    seriesId: number;
  }[];
  const itemOf = (file: string) => items.find((i) => file.endsWith(i.name)) as (typeof items)[number];
  const scan = core.annotations.ensureClass(ds.id, 'scan');
  const other = core.annotations.ensureClass(ds.id, 'model-only');
  core.annotations.create({ datasetId: ds.id, itemId: itemOf(files.ct).id, classId: scan, kind: 'class', geometry: null, source: 'human', author: 't' });
  core.annotations.create({ datasetId: ds.id, itemId: itemOf(files.cr).id, classId: scan, kind: 'class', geometry: null, source: 'imported', author: 't' });
  // A series label: every frame of the multi-frame instance inherits it.
  const seriesLabel = core.annotations.create({ datasetId: ds.id, seriesId: itemOf(files.mf).seriesId, classId: scan, kind: 'class', geometry: null, source: 'human', author: 't' });
  // A model's proposal is not training data.
  core.annotations.create({ datasetId: ds.id, itemId: itemOf(files.ct).id, classId: other, kind: 'class', geometry: null, source: 'model', status: 'proposed', author: 'model' });

  const collected = collectSamples(core.db, ds.id, 'classification');
  assert.deepEqual(collected.classNames, ['scan'], 'the proposed class is not a training class');
  assert.equal(collected.channels, 1);
  assert.equal(collected.samples.length, 12, 'CT + CR + 10 frames');
  const frames = collected.samples.filter((s) => s.itemId === itemOf(files.mf).id);
  assert.deepEqual(frames.map((s) => s.frameIndex), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  assert.ok(frames.every((s) => s.annotations.length === 1 && s.annotations[0]?.[0] === seriesLabel));
  assert.equal(collected.snapshot.samples.length, 12);

  for (const file of [files.ct, files.cr]) {
    const ref = storedModalityValues(file);
    // A soft-tissue window for the CT; for the CR one that spans its values, so few pixels clip.
    const lo = Math.min(...ref.values);
    const hi = Math.max(...ref.values);
    const window = file === files.ct ? { center: 40, width: 400 } : { center: (lo + hi) / 2, width: hi - lo };
    const sample = collected.samples.find((s) => s.itemId === itemOf(file).id);
    assert.ok(sample);
    // inputSize = the image side: the letterbox is the identity, so pixels compare one to one.
    const loaded = await loadSample(core.blobs, sample, {
      task: 'classification',
      inputSize: ref.width,
      channels: 1,
      normalization: { kind: 'window', ...window },
    });
    assert.equal(loaded.x.length, ref.width * ref.height);
    let maxDiff = 0;
    let inside = 0;
    for (let i = 0; i < ref.values.length; i++) {
      const x = ref.values[i] as number;
      let y = Math.min(1, Math.max(0, (x - (window.center - 0.5)) / (window.width - 1) + 0.5));
      if (ref.photometric === 'MONOCHROME1') y = 1 - y;
      if (y > 0 && y < 1) inside++;
      maxDiff = Math.max(maxDiff, Math.abs((loaded.x[i] as number) - y));
    }
    assert.ok(maxDiff < 1e-5, `${file}: max difference ${maxDiff}`);
    assert.ok(inside > ref.values.length / 4, `${file}: the window is not all clipped (${inside} inside)`);
  }
  assert.equal(storedModalityValues(files.cr).photometric, 'MONOCHROME1');

  // Frames decode separately; per-image min/max spans [0, 1].
  const f0 = await loadSample(core.blobs, frames[0] as (typeof frames)[number], { task: 'classification', inputSize: 64, channels: 1, normalization: { kind: 'per-image' } });
  const f5 = await loadSample(core.blobs, frames[5] as (typeof frames)[number], { task: 'classification', inputSize: 64, channels: 3, normalization: { kind: 'per-image' } });
  assert.equal(f5.x.length, 64 * 64 * 3, 'grey to RGB');
  assert.equal(Math.min(...f0.x), 0);
  assert.equal(Math.max(...f0.x), 1);
  let differs = 0;
  for (let i = 0; i < 64 * 64; i++) if (Math.abs((f0.x[i] as number) - (f5.x[i * 3] as number)) > 1e-3) differs++;
  assert.ok(differs > 100, 'frame 5 is not frame 0');
});

async function greyPng(path: string, width: number, height: number, bright: (x: number, y: number) => boolean): Promise<Uint8Array> {
  const raw = new Uint8Array(width * height);
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) raw[y * width + x] = bright(x, y) ? 255 : 0;
  await sharp(raw, { raw: { width, height, channels: 1 } }).png().toFile(path);
  return raw;
}

test('a box stays on its bright rectangle through letterbox, flips, rotation and scale', async (t) => {
  const { core, dir, cleanup } = tempCore();
  t.after(cleanup);
  mkdirSync(join(dir, 'img'));
  const rect = { x: 120, y: 20, width: 50, height: 40 };
  await greyPng(join(dir, 'img/rect.png'), 200, 100, (x, y) => x >= rect.x && x < rect.x + rect.width && y >= rect.y && y < rect.y + rect.height);
  const ds = core.datasets.create('boxes', '');
  await core.importFiles({ datasetId: ds.id, paths: [join(dir, 'img')] });
  const itemId = core.db.prepare('SELECT id FROM items WHERE dataset_id = ?').pluck().get(ds.id) as number;
  const cls = core.annotations.ensureClass(ds.id, 'target');
  core.annotations.create({ datasetId: ds.id, itemId, classId: cls, kind: 'box', geometry: rect, source: 'human', author: 't' });
  const { samples } = collectSamples(core.db, ds.id, 'detection');
  const sample = samples[0];
  assert.ok(sample && samples.length === 1);
  const S = 64;

  // Letterbox alone: scale 64/200, centred vertically (pad 16).
  const plain = await loadSample(core.blobs, sample, { task: 'detection', inputSize: S, channels: 1, normalization: { kind: 'unit' } });
  assert.equal(plain.target.task, 'detection');
  const [b0] = plain.target.task === 'detection' ? plain.target.boxes : [];
  assert.ok(b0);
  const expected = [120 * 0.32, 20 * 0.32 + 16, 50 * 0.32, 40 * 0.32, 0];
  b0.forEach((v, i) => assert.ok(Math.abs(v - (expected[i] as number)) < 1e-9, `box ${b0.join(',')} vs ${expected.join(',')}`));
  for (let v = 0; v < 16; v++) for (let u = 0; u < S; u++) assert.equal(plain.x[v * S + u], 0, 'padding is 0');

  const augment: AugmentConfig = { flipHorizontal: true, flipVertical: true, rotateDegrees: 20, scale: 0.2, intensity: 0.1 };
  let flipped = 0;
  let rotated = 0;
  for (let epoch = 0; epoch < 8; epoch++) {
    const draw = drawAugmentation(augment, 5, epoch, itemId, 0);
    if (draw.flipHorizontal || draw.flipVertical) flipped++;
    if (Math.abs(draw.angle) > (5 * Math.PI) / 180) rotated++;
    const loaded = await loadSample(core.blobs, sample, { task: 'detection', inputSize: S, channels: 1, normalization: { kind: 'unit' }, augment, seed: 5, epoch });
    assert.ok(loaded.target.task === 'detection' && loaded.target.boxes.length === 1);
    const [bx, by, bw, bh] = loaded.target.boxes[0] as number[] as [number, number, number, number];
    // The bright pixels' extent in the output.
    let x0 = Infinity;
    let y0 = Infinity;
    let x1 = -Infinity;
    let y1 = -Infinity;
    for (let v = 0; v < S; v++) {
      for (let u = 0; u < S; u++) {
        if ((loaded.x[v * S + u] as number) <= 0.5) continue;
        // Every bright pixel is inside the box (one pixel of slack for the bilinear edge).
        assert.ok(u + 0.5 >= bx - 1 && u + 0.5 <= bx + bw + 1 && v + 0.5 >= by - 1 && v + 0.5 <= by + bh + 1, `epoch ${epoch}: bright (${u},${v}) outside box ${[bx, by, bw, bh].map((n) => n.toFixed(1)).join(',')}`);
        x0 = Math.min(x0, u);
        y0 = Math.min(y0, v);
        x1 = Math.max(x1, u + 1);
        y1 = Math.max(y1, v + 1);
      }
    }
    // ...and the box is no looser than the bright region's extent (2 px for corners and edges).
    assert.ok(x0 - bx < 2.5 && y0 - by < 2.5 && bx + bw - x1 < 2.5 && by + bh - y1 < 2.5, `epoch ${epoch}: box ${[bx, by, bw, bh]} vs bright ${[x0, y0, x1, y1]}`);
  }
  assert.ok(flipped > 0 && rotated > 0, 'the epochs exercised flips and rotations');
});

test('a mask follows its shape through a horizontal flip; padding is 255 in the mask and 0 in the image', async (t) => {
  const { core, dir, cleanup } = tempCore();
  t.after(cleanup);
  mkdirSync(join(dir, 'img'));
  const W = 64;
  const H = 48;
  // An L: not symmetric, so a flip that did not happen (or happened twice) shows.
  const inL = (x: number, y: number) => (x >= 10 && x < 30 && y >= 5 && y < 15) || (x >= 10 && x < 16 && y >= 15 && y < 40);
  const raw = await greyPng(join(dir, 'img/shape.png'), W, H, inL);
  const ds = core.datasets.create('masks', '');
  await core.importFiles({ datasetId: ds.id, paths: [join(dir, 'img')] });
  const itemId = core.db.prepare('SELECT id FROM items WHERE dataset_id = ?').pluck().get(ds.id) as number;
  const cls = core.annotations.ensureClass(ds.id, 'lesion');
  core.annotations.create({ datasetId: ds.id, itemId, classId: cls, kind: 'mask', geometry: { rle: encodeMask(raw, H, W) }, source: 'human', author: 't' });
  const collected = collectSamples(core.db, ds.id, 'segmentation');
  assert.deepEqual(collected.classNames, ['background', 'lesion']);
  const sample = collected.samples[0];
  assert.ok(sample);
  const augment: AugmentConfig = { ...NO_AUGMENT, flipHorizontal: true };
  const byFlip = new Map<boolean, { x: Float32Array; mask: Uint8Array }>();
  for (let epoch = 0; epoch < 10 && byFlip.size < 2; epoch++) {
    const flip = drawAugmentation(augment, 3, epoch, itemId, 0).flipHorizontal;
    if (byFlip.has(flip)) continue;
    const loaded = await loadSample(core.blobs, sample, {
      task: 'segmentation',
      inputSize: W,
      channels: 1,
      normalization: { kind: 'unit' },
      augment,
      seed: 3,
      epoch,
      readMask: maskReader(core.db),
    });
    assert.ok(loaded.target.task === 'segmentation');
    byFlip.set(flip, { x: loaded.x, mask: loaded.target.mask });
  }
  assert.equal(byFlip.size, 2, 'both a flipped and an unflipped epoch');
  const pad = (W - H) / 2;
  for (const [flip, { x, mask }] of byFlip) {
    let lesion = 0;
    for (let v = 0; v < W; v++) {
      for (let u = 0; u < W; u++) {
        const i = v * W + u;
        if (v < pad || v >= pad + H) {
          assert.equal(mask[i], 255);
          assert.equal(x[i], 0);
          continue;
        }
        assert.equal(mask[i] === 1, (x[i] as number) > 0.5, `flip=${flip} (${u},${v})`);
        const srcX = flip ? W - 1 - u : u;
        assert.equal(mask[i] === 1, inL(srcX, v - pad), `flip=${flip}: mask at (${u},${v})`);
        if (mask[i] === 1) lesion++;
      }
    }
    assert.equal(lesion, 20 * 10 + 6 * 25);
  }
});

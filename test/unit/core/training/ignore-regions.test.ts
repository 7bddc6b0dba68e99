/**
 * Regions to ignore: "void"/"DontCare" classes and, for densely labelled data, every pixel no
 * label covers (unlabeledPixels 'ignore') are left out of segmentation targets (255) and
 * detection targets, on a real temp library.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import sharp from 'sharp';
import { encodeMask } from '../../../../electron/core/labels/rle';
import { decodeSample, loadSample } from '../../../../electron/core/training/sample-loader';
import { collectSamples, IGNORE_INDEX, maskReader } from '../../../../electron/core/training/training-samples';
import { tempCore } from '../../../helpers/temp-library';

const W = 8;
const H = 6;

async function oneImage(t: { after(fn: () => void): void }) {
  const { core, dir, cleanup } = tempCore();
  t.after(cleanup);
  const ds = core.datasets.create('road', '');
  const raw = Buffer.alloc(W * H * 3, 0);
  for (let i = 0; i < raw.length; i++) raw[i] = (i * 37) & 0xff;
  await sharp(raw, { raw: { width: W, height: H, channels: 3 } }).png().toFile(join(dir, 'scene.png'));
  const report = await core.importFiles({ datasetId: ds.id, paths: [join(dir, 'scene.png')] });
  assert.equal(report.counts.imported, 1);
  const itemId = core.db.prepare('SELECT id FROM items WHERE dataset_id = ?').pluck().get(ds.id) as number;
  const mask = (pred: (x: number, y: number) => boolean) => {
    const m = new Uint8Array(W * H);
    for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) m[y * W + x] = pred(x, y) ? 1 : 0;
    return { rle: encodeMask(m, H, W) };
  };
  const road = core.annotations.ensureClass(ds.id, 'road');
  const voidClass = core.annotations.ensureClass(ds.id, 'void');
  const base = { datasetId: ds.id, itemId, source: 'human' as const, author: 'test' };
  core.annotations.create({ ...base, classId: road, kind: 'mask', geometry: mask((_x, y) => y >= 4) });
  core.annotations.create({ ...base, classId: voidClass, kind: 'mask', geometry: mask((x, y) => y < 2 && x < 2) });
  return { core, ds, itemId, road, voidClass, base };
}

test('segmentation: a void class is not a class to learn; its pixels, and with unlabeledPixels=ignore every unlabelled pixel, are 255', async (t) => {
  const { core, ds } = await oneImage(t);
  const collected = collectSamples(core.db, ds.id, 'segmentation');
  assert.deepEqual(collected.classNames, ['background', 'road']);
  const sample = collected.samples[0];
  assert.ok(sample);
  const readMask = maskReader(core.db);
  for (const unlabeledPixels of ['background', 'ignore'] as const) {
    const decoded = await decodeSample(core.blobs, sample, { normalization: { kind: 'unit' }, channels: 3, readMask, unlabeledPixels });
    const map = decoded.classMap;
    assert.ok(map);
    for (let y = 0; y < H; y++) {
      for (let x = 0; x < W; x++) {
        const want = y >= 4 ? 1 : y < 2 && x < 2 ? IGNORE_INDEX : unlabeledPixels === 'ignore' ? IGNORE_INDEX : 0;
        assert.equal(map[y * W + x], want, `${unlabeledPixels}: pixel (${x}, ${y})`);
      }
    }
  }
});

test('detection: DontCare boxes are left out of the targets and counted', async (t) => {
  const { core, ds, base } = await oneImage(t);
  const car = core.annotations.ensureClass(ds.id, 'Car');
  const dontCare = core.annotations.ensureClass(ds.id, 'DontCare');
  core.annotations.create({ ...base, classId: car, kind: 'box', geometry: { x: 1, y: 1, width: 3, height: 2 } });
  core.annotations.create({ ...base, classId: dontCare, kind: 'box', geometry: { x: 5, y: 0, width: 2, height: 2 } });
  const collected = collectSamples(core.db, ds.id, 'detection');
  // The road mask also gives a box (masks are objects for detection); DontCare and void give none.
  assert.deepEqual(collected.classNames, ['road', 'Car']);
  const boxes = collected.samples[0]?.target.task === 'detection' ? collected.samples[0].target.boxes : [];
  assert.equal(boxes.length, 2);
  assert.equal(collected.excluded.ignoreRegions, 2);
  assert.ok(collected.warnings.some((w) => /ignore class/.test(w)));
});

test('detection: void and DontCare regions travel to the batch as class -1 boxes (no object, no loss there)', async (t) => {
  const { core, ds, base } = await oneImage(t);
  const car = core.annotations.ensureClass(ds.id, 'Car');
  const dontCare = core.annotations.ensureClass(ds.id, 'DontCare');
  core.annotations.create({ ...base, classId: car, kind: 'box', geometry: { x: 1, y: 1, width: 3, height: 2 } });
  core.annotations.create({ ...base, classId: dontCare, kind: 'box', geometry: { x: 4, y: 0, width: 4, height: 4 } });
  const collected = collectSamples(core.db, ds.id, 'detection');
  const sample = collected.samples[0];
  assert.ok(sample && sample.target.task === 'detection');
  // The void mask's bounds (2 x 2 at the corner) and the DontCare box.
  assert.deepEqual(sample.target.ignore, [
    { x: 0, y: 0, width: 2, height: 2, classIndex: -1 },
    { x: 4, y: 0, width: 4, height: 4, classIndex: -1 },
  ]);
  const loaded = await loadSample(core.blobs, sample, { task: 'detection', inputSize: 16, normalization: { kind: 'unit' }, channels: 3 });
  assert.ok(loaded.target.task === 'detection');
  const regions = loaded.target.boxes.filter((b) => b[4] === -1);
  assert.equal(regions.length, 2);
  // 8 x 6 into 16 px: scale 2, 2 px of padding above; the DontCare box lands at [8, 2, 8, 8].
  assert.deepEqual(regions[1], [8, 2, 8, 8, -1]);
});

test('segmentation: a COCO crowd mask is a region to ignore (255), painted over the classes under it', async (t) => {
  const { core, ds, itemId } = await oneImage(t);
  const person = core.annotations.ensureClass(ds.id, 'person');
  const m = new Uint8Array(W * H);
  for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) m[y * W + x] = y >= 3 && x >= 6 ? 1 : 0;
  core.annotations.create({ datasetId: ds.id, itemId, source: 'imported', author: 'test', classId: person, kind: 'mask', geometry: { rle: encodeMask(m, H, W), crowd: true } });
  const collected = collectSamples(core.db, ds.id, 'segmentation');
  assert.deepEqual(collected.classNames, ['background', 'road'], 'a crowd of people teaches no "person"');
  const sample = collected.samples[0];
  assert.ok(sample);
  const decoded = await decodeSample(core.blobs, sample, { normalization: { kind: 'unit' }, channels: 3, readMask: maskReader(core.db) });
  for (let y = 3; y < H; y++) for (let x = 6; x < W; x++) assert.equal(decoded.classMap?.[y * W + x], IGNORE_INDEX, `crowd pixel (${x}, ${y}) over the road`);
});

/**
 * Labels made in other tools, on real data read in place: Penn-Fudan boxes
 * (PASCAL annotation text), CamVid class-index masks, a CSV. Unknown images
 * are reported, never dropped silently; importing twice adds nothing.
 */
import assert from 'node:assert/strict';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import sharp from 'sharp';
import { decodeRle } from '../../electron/core/labels/rle';
import { SHARED_TESTDATA } from '../helpers/paths';
import { tempCore } from '../helpers/temp-library';

const PED = join(SHARED_TESTDATA, 'train/pennfudan_ped');
const CAMVID = join(SHARED_TESTDATA, 'train/camvid');
const CAMVID_CLASSES = ['Sky', 'Building', 'Pole', 'Road', 'Pavement', 'Tree', 'SignSymbol', 'Fence', 'Car', 'Pedestrian', 'Bicyclist', 'Unlabelled'];

test('Penn-Fudan boxes land on their images in pixel coordinates; unknown images are reported; re-import adds nothing', async (t) => {
  const { core, dir, cleanup } = tempCore();
  t.after(cleanup);
  // Import only the Fudan images (symlinks in a temp folder): the Penn label files then name images the dataset lacks.
  const subset = join(dir, 'fudan');
  mkdirSync(subset);
  for (const f of (await import('node:fs')).readdirSync(join(PED, 'PNGImages')).filter((n) => n.startsWith('Fudan'))) symlinkSync(join(PED, 'PNGImages', f), join(subset, f));
  const ds = core.datasets.create('ped', '');
  const imp = await core.importFiles({ datasetId: ds.id, paths: [subset] });
  assert.equal(imp.counts.imported, 52);

  const r = await core.importLabels(ds.id, join(PED, 'Annotation'), 'voc', 'tester');
  assert.equal(r.imagesInFile, 119);
  assert.equal(r.matchedImages, 52);
  assert.equal(r.unmatchedImages.length, 67, 'every Penn* annotation file is reported');
  assert.ok(r.unmatchedImages.every((n) => /PennPed/.test(n)));
  const box = core.db
    .prepare("SELECT a.geometry, c.name FROM annotations a JOIN items i ON i.id = a.item_id JOIN label_classes c ON c.id = a.class_id WHERE i.source_name = 'FudanPed00001.png' ORDER BY a.id LIMIT 1")
    .get() as { geometry: string; name: string };
  // (160, 182) - (302, 431), 1-based inclusive -> x=159, y=181, w=143, h=250.
  assert.deepEqual(JSON.parse(box.geometry), { x: 159, y: 181, width: 143, height: 250 });
  assert.equal(box.name, 'PASpersonWalking');
  // The Fudan files use these two label strings; both are reported as new classes.
  assert.deepEqual([...r.classesCreated].sort(), ['PASpersonStanding', 'PASpersonWalking']);
  assert.equal(core.datasets.get(ds.id).counts.labeledItems, 52, 'labelled images are marked done');

  const again = await core.importLabels(ds.id, join(PED, 'Annotation'), 'voc', 'tester');
  assert.equal(again.annotationsCreated, 0);
  assert.equal(again.annotationsSkipped, r.annotationsCreated);
  const audit = core.db.prepare("SELECT count(*) AS n FROM audit_log WHERE action = 'labels.import'").get() as { n: number };
  assert.equal(audit.n, 2);
});

test('CamVid class-index masks become per-class RLE masks whose pixels equal a direct count', async (t) => {
  const { core, cleanup } = tempCore();
  t.after(cleanup);
  const ds = core.datasets.create('camvid', '');
  await core.importFiles({ datasetId: ds.id, paths: [join(CAMVID, 'val')] });
  const r = await core.importLabels(ds.id, join(CAMVID, 'valannot'), 'masks', 'tester', { classes: CAMVID_CLASSES, ignoreValues: [11] });
  assert.equal(r.unmatchedImages.length, 0);
  assert.equal(r.matchedImages, 26);
  const row = core.db
    .prepare("SELECT a.geometry FROM annotations a JOIN items i ON i.id = a.item_id JOIN label_classes c ON c.id = a.class_id WHERE i.source_name = '0016E5_07959.png' AND c.name = 'Road'")
    .get() as { geometry: string };
  const rle = (JSON.parse(row.geometry) as { rle: { size: [number, number]; counts: number[] } }).rle;
  const mask = decodeRle(rle);
  const { data, info } = await sharp(join(CAMVID, 'valannot/0016E5_07959.png')).raw().toBuffer({ resolveWithObject: true });
  let direct = 0;
  let decoded = 0;
  for (let i = 0; i < info.width * info.height; i++) {
    if (data[i * info.channels] === 3) direct++;
    if (mask[i]) decoded++;
  }
  assert.ok(direct > 1000);
  assert.equal(decoded, direct);
  // Row-major mask agrees pixel by pixel.
  for (let i = 0; i < info.width * info.height; i += 97) assert.equal(mask[i] === 1, data[i * info.channels] === 3);
});

test('a CSV naming images the dataset lacks reports them; known rows become class labels', async (t) => {
  const { core, dir, cleanup } = tempCore();
  t.after(cleanup);
  const ds = core.datasets.create('lanes', '');
  await core.importFiles({ datasetId: ds.id, paths: [join(SHARED_TESTDATA, 'road/udacity-lanelines')] });
  const csv = join(dir, 'labels.csv');
  writeFileSync(csv, 'filename,label\nsolidWhiteCurve.jpg,curve\nsolidWhiteRight.jpg,straight;white\nmissing.jpg,curve\n');
  const r = await core.importLabels(ds.id, csv, 'csv', 'tester');
  assert.deepEqual(r.unmatchedImages, ['missing.jpg']);
  assert.equal(r.annotationsCreated, 3);
  assert.deepEqual(core.annotations.listClasses(ds.id).map((c) => c.name).sort(), ['curve', 'straight', 'white']);
});

/**
 * The entry point for predictions made elsewhere (an imported model) in image pixels: scored
 * against the library by the same rules as runs and files (score-images.ts), on a temp library:
 * perfect boxes give AP 1, a detection on a labelled-empty image is a false positive, a void
 * region swallows detections of any class, a split restricts the images.
 */
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import sharp from 'sharp';
import { evaluateDetectionsInImagePixels, IMAGE_RULE } from '../../../../electron/core/evaluation/score-images';
import { tempCore } from '../../../helpers/temp-library';

test('detections in image pixels from an imported model: rules of the image set, void regions, splits', async (t) => {
  const { core, dir, cleanup } = tempCore();
  t.after(cleanup);
  const img = join(dir, 'img');
  mkdirSync(img);
  for (const [k, n] of ['a', 'b', 'c'].entries()) writeFileSync(join(img, `${n}.png`), await sharp(Buffer.alloc(60 * 40, 90 + 40 * k), { raw: { width: 60, height: 40, channels: 1 } }).png().toBuffer());
  const ds = core.datasets.create('d', '');
  await core.importFiles({ datasetId: ds.id, paths: [img] });
  const items = core.db.prepare('SELECT id, source_name AS n FROM items WHERE dataset_id = ? ORDER BY n').all(ds.id) as { id: number; n: string }[];
  const [a, b, c] = items.map((i) => i.id) as [number, number, number];
  const car = core.annotations.ensureClass(ds.id, 'car');
  const dontCare = core.annotations.ensureClass(ds.id, 'DontCare');
  const base = { datasetId: ds.id, source: 'human' as const, author: 't', kind: 'box' as const };
  core.annotations.create({ ...base, itemId: a, classId: car, geometry: { x: 5, y: 5, width: 20, height: 10 } });
  core.annotations.create({ ...base, itemId: a, classId: dontCare, geometry: { x: 40, y: 0, width: 20, height: 20 } });
  core.annotations.setStatus({ itemId: b }, 'done', 't', null); // labelled, no car: a negative
  // c: unlabelled, not scored.
  const perfect = [{ itemId: a, frameIndex: 0, detections: [{ x: 5, y: 5, width: 20, height: 10, classIndex: 0, score: 0.9 }, { x: 42, y: 2, width: 10, height: 10, classIndex: 0, score: 0.95 }] }];
  const r = evaluateDetectionsInImagePixels(core.db, ds.id, perfect);
  assert.deepEqual(r.classNames, ['car']);
  // 1 up to pycocotools' eps in tp / (tp + fp + eps).
  const near = (a: number | undefined, b: number, what: string) => assert.ok(a !== undefined && Math.abs(a - b) < 1e-12, `${what}: ${String(a)}`);
  near(r.mAP, 1, 'the detection inside the DontCare region counts neither way');
  assert.deepEqual(r.counts, { scored: 2, labelledEmpty: 1, rule: IMAGE_RULE });
  const withFp = evaluateDetectionsInImagePixels(core.db, ds.id, [...perfect, { itemId: b, frameIndex: 0, detections: [{ x: 1, y: 1, width: 9, height: 9, classIndex: 0, score: 0.99 }] }, { itemId: c, frameIndex: 0, detections: [{ x: 1, y: 1, width: 9, height: 9, classIndex: 0, score: 0.99 }] }]);
  // The false positive on b outscores the hit: precision 1/2 at recall 1 -> AP 0.5 at every threshold; c is not scored.
  near(withFp.mAP, 0.5, 'COCO AP');
  near(withFp.perClass['car']?.vocAp50, 0.5, 'VOC AP');
  assert.equal(withFp.n, 2);
  core.splits.setSplit(ds.id, [a], 'test');
  core.splits.setSplit(ds.id, [b, c], 'train');
  const testOnly = evaluateDetectionsInImagePixels(core.db, ds.id, [...perfect, { itemId: b, frameIndex: 0, detections: [{ x: 1, y: 1, width: 9, height: 9, classIndex: 0, score: 0.99 }] }], { split: 'test', splitOf: core.splits.splitMap(ds.id) });
  assert.equal(testOnly.n, 1);
  near(testOnly.mAP, 1, 'test split only');
});

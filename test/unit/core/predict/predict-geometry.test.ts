/**
 * Predicted geometry lands in IMAGE pixels, checked against the model's raw
 * input-pixel outputs with the training pipeline's own forward transform
 * (sample-loader), on real models trained briefly on the sample library:
 * - detection (road scenes, letterboxed with padding): every stored box,
 *   mapped forward by transformBoxes, is the raw detection clipped to the
 *   image;
 * - segmentation (48x32 images in a 32 px input: scale 2/3, padding above
 *   and below): every stored mask decodes to the model's class map sampled
 *   at each image pixel's centre through the forward transform.
 */
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import sharp from 'sharp';
import { decodeRle } from '../../../../electron/core/labels/rle';
import type { CocoRle } from '../../../../electron/core/labels/label-types';
import { imageSources, predictImages, runModel, runPredict } from '../../../../electron/core/predict/predict-service';
import { createSampleLibrary, SAMPLE_ROAD_DATASET } from '../../../../electron/core/samples/sample-library';
import { createRandom } from '../../../../electron/core/samples/seeded-random';
import { applyAffine, sampleTransform, transformBoxes } from '../../../../electron/core/training/sample-loader';
import { tempCore } from '../../../helpers/temp-library';

test('detection and segmentation proposals are stored in image pixels, exactly inverting the letterbox', { timeout: 300_000 }, async (t) => {
  const { core, dir, cleanup } = tempCore();
  t.after(cleanup);
  await createSampleLibrary(core, { size: 'tiny' });

  // --- Detection on the road scenes.
  const road = core.datasets.findByName(SAMPLE_ROAD_DATASET);
  assert.ok(road);
  const det = await core.training.train(road.id, 'detection', { epochs: 1, inputSize: 32, batchSize: 16, backend: 'wasm', seed: 1 });
  assert.ok(det.outcome.status === 'done' || det.outcome.status === 'stopped-early', JSON.stringify(det.outcome));
  const detItems = (core.db.prepare('SELECT id FROM items WHERE dataset_id = ? ORDER BY id LIMIT 6').pluck().all(road.id) as number[]);
  const detReport = await runPredict(core, det.runId, { minScore: 0 });
  assert.ok(detReport.images > 0);
  const model = runModel(core, det.runId);
  const sources = imageSources(core, road.id, detItems);
  const first = sources[0];
  assert.ok(first && first.width !== first.height, 'road scenes are not square: the letterbox pads');
  let checked = 0;
  for await (const batch of predictImages(core, model, sources, { minScore: 0 })) {
    for (const p of batch) {
      const stored = core.db
        .prepare("SELECT geometry, score FROM annotations WHERE run_id = ? AND item_id = ? AND kind = 'box' AND status = 'proposed' ORDER BY id")
        .all(det.runId, p.source.itemId) as { geometry: string; score: number }[];
      const raw = p.prediction.task === 'detection' ? p.prediction.boxes : [];
      const tf = sampleTransform(p.source.width, p.source.height, model.config.inputSize, null);
      // Raw boxes clipped to the image area in input pixels (what survives the inverse mapping).
      const [u0, v0] = [tf.letterbox.padX, tf.letterbox.padY];
      const [u1, v1] = [u0 + p.source.width * tf.letterbox.scale, v0 + p.source.height * tf.letterbox.scale];
      const expected = raw
        .map((b) => {
          const x0 = Math.max(u0, b.x);
          const y0 = Math.max(v0, b.y);
          const x1 = Math.min(u1, b.x + b.width);
          const y1 = Math.min(v1, b.y + b.height);
          return x1 > x0 && y1 > y0 ? { box: [x0, y0, x1 - x0, y1 - y0], score: b.score } : null;
        })
        .filter((b) => b !== null);
      assert.equal(stored.length, expected.length, `item ${p.source.itemId}`);
      stored.forEach((s, i) => {
        const g = JSON.parse(s.geometry) as { x: number; y: number; width: number; height: number };
        assert.ok(g.x >= 0 && g.y >= 0 && g.x + g.width <= p.source.width + 1e-9 && g.y + g.height <= p.source.height + 1e-9, 'inside the image');
        const fwd = transformBoxes([{ ...g, classIndex: 0 }], tf)[0];
        const e = expected[i];
        assert.ok(e);
        assert.ok(Math.abs(s.score - e.score) < 1e-6);
        if (!fwd) return; // under one input pixel: the forward transform drops it
        for (let k = 0; k < 4; k++) assert.ok(Math.abs((fwd[k] as number) - (e.box[k] as number)) < 1e-4, `${fwd.join(',')} vs ${e.box.join(',')}`);
        checked++;
      });
    }
  }
  assert.ok(checked > 0, 'some boxes were checked');

  // --- Segmentation: 48x32 grey images with a bright rectangle (its mask), in a 32 px input
  // (scale 2/3, 5.33 px of padding above and below).
  const imgDir = join(dir, 'seg', 'images');
  const maskDir = join(dir, 'seg', 'masks');
  mkdirSync(imgDir, { recursive: true });
  mkdirSync(maskDir, { recursive: true });
  const r = createRandom('seg');
  for (let i = 0; i < 24; i++) {
    const [W, H] = [48, 32];
    const x0 = Math.floor(r.next() * 30);
    const y0 = Math.floor(r.next() * 18);
    const img = Buffer.alloc(W * H);
    const mask = Buffer.alloc(W * H);
    for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) {
      const inside = x >= x0 && x < x0 + 14 && y >= y0 && y < y0 + 10;
      img[y * W + x] = Math.max(0, Math.min(255, Math.round((inside ? 200 : 50) + r.normal(0, 20))));
      mask[y * W + x] = inside ? 1 : 0;
    }
    const name = `s_${String(i).padStart(2, '0')}.png`;
    writeFileSync(join(imgDir, name), await sharp(img, { raw: { width: W, height: H, channels: 1 } }).png().toBuffer());
    writeFileSync(join(maskDir, name), await sharp(mask, { raw: { width: W, height: H, channels: 1 } }).png().toBuffer());
  }
  const blobs = core.datasets.create('Blobs', '');
  await core.importFiles({ datasetId: blobs.id, paths: [imgDir] });
  await core.importLabels(blobs.id, maskDir, 'masks', 'test', { classes: ['background', 'blob'] });
  const blobItems = core.db.prepare('SELECT id FROM items WHERE dataset_id = ? ORDER BY id').pluck().all(blobs.id) as number[];
  core.splits.setSplit(blobs.id, blobItems.filter((_, i) => i % 4 === 0), 'val');
  core.splits.setSplit(blobs.id, blobItems.filter((_, i) => i % 4 !== 0), 'train');
  const seg = await core.training.train(blobs.id, 'segmentation', { epochs: 2, inputSize: 32, batchSize: 8, backend: 'wasm', seed: 1 });
  assert.ok(seg.outcome.status === 'done' || seg.outcome.status === 'stopped-early', JSON.stringify(seg.outcome));
  const segReport = await runPredict(core, seg.runId, {});
  assert.equal(segReport.uncertaintyMethod, 'uncertain-area');
  assert.equal(segReport.images, 24);
  const segModel = runModel(core, seg.runId);
  let masks = 0;
  for await (const batch of predictImages(core, segModel, imageSources(core, blobs.id))) {
    for (const p of batch) {
      if (p.prediction.task !== 'segmentation') assert.fail('a segmentation prediction');
      const cls = p.prediction.classes;
      const tf = sampleTransform(48, 32, 32, null);
      // The input pixel under each image pixel's centre, by the training pipeline's forward transform.
      const under = (c: number, rr: number): number => {
        const [u, v] = applyAffine(tf.forward, c + 0.5, rr + 0.5);
        return cls[Math.min(31, Math.floor(v)) * 32 + Math.min(31, Math.floor(u))] as number;
      };
      const expected = new Uint8Array(48 * 32);
      for (let rr = 0; rr < 32; rr++) for (let c = 0; c < 48; c++) expected[rr * 48 + c] = under(c, rr) === 1 ? 1 : 0;
      const stored = core.db
        .prepare("SELECT geometry FROM annotations WHERE run_id = ? AND item_id = ? AND kind = 'mask' AND status = 'proposed'")
        .all(seg.runId, p.source.itemId) as { geometry: string }[];
      const any = expected.some((v) => v === 1);
      assert.equal(stored.length, any ? 1 : 0, `item ${p.source.itemId}`);
      if (!stored[0]) continue;
      const rle = (JSON.parse(stored[0].geometry) as { rle: CocoRle }).rle;
      assert.deepEqual(rle.size, [32, 48]);
      assert.deepEqual(decodeRle(rle), expected);
      masks++;
    }
  }
  assert.ok(masks > 0, 'the model found some blobs');
  t.diagnostic(`${checked} boxes and ${masks} masks checked; detection pass ${detReport.seconds.toFixed(1)} s for ${detReport.images} images, segmentation ${segReport.seconds.toFixed(1)} s for ${segReport.images}`);
});

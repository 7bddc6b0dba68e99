/**
 * Detection and segmentation, end to end through the library:
 * - evaluatePredictions with a COCO results list (numeric ids resolved
 *   through the instances file; a crowd region; a negative image marked
 *   done) and with a folder of PNG masks (with its own class map), in
 *   original image pixels, against hand-derived numbers;
 * - evaluateRun for detection and segmentation runs, with a stand-in ML
 *   engine that predicts the batch's own targets (so the expected scores
 *   are perfect), which checks the batch plumbing, the mapping back to image
 *   pixels (issue 20.2: scores in the image's own pixels) and the stored
 *   files without training a model.
 */
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import sharp from 'sharp';
import type { Batch, MlEngine, Prediction, TrainConfig } from '../../../../electron/contract/ml';
import { evaluatePredictions } from '../../../../electron/core/evaluation/evaluate-predictions';
import { evaluateRun } from '../../../../electron/core/evaluation/evaluate-run';
import { tempCore } from '../../../helpers/temp-library';

async function grey(path: string, width: number, height: number, values: (i: number) => number): Promise<void> {
  const px = Buffer.from(Array.from({ length: width * height }, (_, i) => values(i)));
  writeFileSync(path, await sharp(px, { raw: { width, height, channels: 1 } }).png().toBuffer());
}

/** An engine whose predict() returns the batch's targets: a perfect model. */
const perfectEngine = {
  preflight: () => Promise.reject(new Error('not used')),
  defaultConfig: () => {
    throw new Error('not used');
  },
  train: () => Promise.reject(new Error('not used')),
  predict: (_checkpoint: string, config: TrainConfig, batch: Batch): Promise<Prediction[]> => {
    const t = batch.targets;
    const S = config.inputSize;
    return Promise.resolve(
      Array.from({ length: batch.n }, (_, i): Prediction => {
        if (t.task === 'detection') {
          return { task: 'detection', boxes: (t.boxes[i] ?? []).map((b) => ({ x: b[0] as number, y: b[1] as number, width: b[2] as number, height: b[3] as number, classIndex: b[4] as number, score: 0.9 })) };
        }
        if (t.task === 'segmentation') {
          const m = t.masks.slice(i * S * S, (i + 1) * S * S).map((v) => (v === 255 ? 0 : v));
          return { task: 'segmentation', classes: m, confidence: new Float32Array(S * S).fill(1) };
        }
        return { task: 'classification', probabilities: [] };
      }),
    );
  },
} as unknown as MlEngine;

function config(task: TrainConfig['task'], classNames: string[]): TrainConfig {
  return {
    task,
    inputSize: 32,
    channels: 1,
    classNames,
    multiLabel: false,
    epochs: 1,
    batchSize: 2,
    learningRate: 0.001,
    seed: 1,
    backend: 'cpu',
    earlyStoppingPatience: 0,
    augment: { flipHorizontal: false, flipVertical: false, rotateDegrees: 0, scale: 0, intensity: 0 },
    classWeights: null,
    normalization: { kind: 'unit' },
  };
}

test('COCO results scored in image pixels: crowd ignored, negative image counted, ids resolved through the instances file; and a detection run', async (t) => {
  const { core, dir, cleanup } = tempCore({ ml: perfectEngine });
  t.after(cleanup);
  const img = join(dir, 'img');
  mkdirSync(img);
  for (const [k, n] of ['a', 'b', 'c', 'd'].entries()) await grey(join(img, `${n}.png`), 40, 30, (i) => (i * 7 + k) % 256);
  const ds = core.datasets.create('Boxes', '');
  await core.importFiles({ datasetId: ds.id, paths: [img] });
  const gt = {
    images: ['a', 'b', 'c', 'd'].map((n, i) => ({ id: 11 + i, file_name: `${n}.png`, width: 40, height: 30 })),
    categories: [
      { id: 3, name: 'cat' },
      { id: 7, name: 'dog' },
    ],
    annotations: [
      { id: 1, image_id: 11, category_id: 3, bbox: [2, 2, 10, 10], iscrowd: 0 },
      { id: 2, image_id: 11, category_id: 3, bbox: [20, 5, 15, 20], iscrowd: 1 },
      { id: 3, image_id: 12, category_id: 7, bbox: [0, 0, 20, 10], iscrowd: 0 },
      { id: 4, image_id: 14, category_id: 7, bbox: [5, 5, 10, 10], iscrowd: 0 },
    ],
  };
  const gtPath = join(dir, 'instances.json');
  writeFileSync(gtPath, JSON.stringify(gt));
  await core.importLabels(ds.id, gtPath, 'coco', 'test');
  // Image c has no box: a person marked it done, so it is a negative image.
  core.db.prepare("UPDATE items SET status = 'done' WHERE dataset_id = ? AND source_name = 'c.png'").run(ds.id);

  // Detections (derivation):
  // a: the cat box exactly (0.9) -> TP at every threshold; a box inside the crowd region (0.8) -> ignored.
  // b: dog [4,0,20,10] vs [0,0,20,10]: intersection 160, union 240, IoU 2/3 -> TP at 0.50..0.65 (4 thresholds).
  // c: a dog (0.95) on the negative image -> FP.  d: no entry in the file: its dog is missed.
  // cat: TP, (ignored) -> AP 1.  dog (2 boxes): FP(0.95), TP(0.7) -> at t <= 2/3: recall [0, .5],
  // precision [0, .5] -> 0.5 on recall points 0..0.5 (51 of 101), 0 after: AP 51/202; at t > 2/3: 0.
  // dog AP50 = 51/202, AP = 4/10 x 51/202. mAP50 = (1 + 51/202) / 2, mAP = (1 + 0.4 x 51/202) / 2.
  const results = [
    { image_id: 11, category_id: 3, bbox: [2, 2, 10, 10], score: 0.9 },
    { image_id: 11, category_id: 3, bbox: [22, 8, 6, 6], score: 0.8 },
    { image_id: 12, category_id: 7, bbox: [4, 0, 20, 10], score: 0.7 },
    { image_id: 13, category_id: 7, bbox: [1, 1, 5, 5], score: 0.95 },
  ];
  const resPath = join(dir, 'results.json');
  writeFileSync(resPath, JSON.stringify(results));
  await assert.rejects(evaluatePredictions(core, ds.id, resPath), (e: Error) => /instances file/.test(e.message), 'numeric ids need the instances file');
  const r = await evaluatePredictions(core, ds.id, resPath, { cocoGroundTruth: gtPath });
  assert.equal(r.task, 'detection');
  if (r.task !== 'detection') return;
  const near = (a: number | undefined, b: number, what: string) => assert.ok(a !== undefined && Math.abs(a - b) < 1e-9, `${what}: ${String(a)} vs ${b}`);
  near(r.perClass['cat']?.ap, 1, 'cat AP');
  near(r.perClass['dog']?.ap50, 51 / 202, 'dog AP50');
  near(r.perClass['dog']?.ap, (0.4 * 51) / 202, 'dog AP');
  near(r.mAP50, (1 + 51 / 202) / 2, 'mAP50');
  near(r.mAP, (1 + (0.4 * 51) / 202) / 2, 'mAP');
  assert.equal(r.n, 4, 'a, b, d (no detection: its dog is a miss, as COCOeval) and the negative c');
  assert.equal(r.source.missingPredictions, 1);
  assert.match(r.source.warnings.join('\n'), /1 of 3 box-labelled image\(s\) have no detection/);
  assert.equal(r.perClass['cat']?.groundTruth, 1, 'the crowd region is not a box to find');
  const imA = r.images.find((i) => i.detections.some((d) => d.ignored));
  assert.ok(imA, 'the detection in the crowd region is ignored');
  // The same detections with file names and class names need no instances file.
  const named = results.map((x) => ({ file_name: `${'abcd'[x.image_id - 11]}.png`, category_name: x.category_id === 3 ? 'cat' : 'dog', bbox: x.bbox, score: x.score }));
  writeFileSync(resPath, JSON.stringify(named));
  const r2 = await evaluatePredictions(core, ds.id, resPath);
  assert.equal(r2.task === 'detection' && r2.mAP, r.mAP);

  // A detection run, evaluated through the batch provider with the perfect stand-in model.
  const cfg = config('detection', ['cat', 'dog']);
  const runId = core.runs.create(ds.id, cfg, {});
  mkdirSync(join(core.training.checkpointDir(runId), 'best'), { recursive: true });
  const run = await evaluateRun(core, runId, { split: 'all' });
  assert.equal(run.task, 'detection');
  if (run.task !== 'detection') return;
  near(run.mAP, 1, 'perfect detections: mAP 1');
  // Issue 20.7: the labelled-empty image c (marked done, no box) is scored as a negative too.
  assert.equal(run.n, 4, 'the images with boxes (a, b, d) and the labelled-empty c');
  assert.equal(run.source.labelledEmpty, 1);
  // Issue 20.2: boxes mapped back through the letterbox, scored in image pixels.
  assert.equal(run.source.coordinates, 'image');
  assert.deepEqual(Object.keys(run.perClass), ['cat', 'dog']);
});

test('PNG masks scored in image pixels with their own class map; and a segmentation run', async (t) => {
  const { core, dir, cleanup } = tempCore({ ml: perfectEngine });
  t.after(cleanup);
  const W = 8;
  const H = 6;
  const img = join(dir, 'img');
  const masks = join(dir, 'masks');
  const preds = join(dir, 'preds');
  for (const d of [img, masks, preds]) mkdirSync(d);
  // Truth: left half road (1), a 2x2 car (2) at columns 5-6, rows 1-2; the rest background.
  const truth = (i: number) => {
    const x = i % W;
    const y = Math.floor(i / W);
    if (x >= 5 && x <= 6 && y >= 1 && y <= 2) return 2;
    return x < 4 ? 1 : 0;
  };
  for (const [k, n] of ['p', 'q'].entries()) {
    await grey(join(img, `${n}.png`), W, H, (i) => (i * 5 + k) % 256);
    await grey(join(masks, `${n}_mask.png`), W, H, truth);
  }
  writeFileSync(join(masks, 'classes.json'), JSON.stringify({ 0: 'background', 1: 'road', 2: 'car' }));
  const ds = core.datasets.create('Streets', '');
  await core.importFiles({ datasetId: ds.id, paths: [img] });
  const rep = await core.importLabels(ds.id, masks, 'masks', 'test');
  assert.equal(rep.matchedImages, 2);

  // Predictions with another value order: 7 = road, 5 = car, 9 = a class the dataset lacks.
  // p: perfect. q: column 3 (6 road pixels) predicted background, one car pixel predicted 9.
  // road: tp 24 + 18, fn 6 -> Dice 84/90; car: tp 4 + 3, fn 1 -> Dice 14/15; background: tp 40, fp 6 -> Dice 80/86... over both.
  writeFileSync(join(preds, 'classes.json'), JSON.stringify({ 0: 'background', 7: 'road', 5: 'car', 9: 'tree' }));
  const remap = [0, 7, 5];
  await grey(join(preds, 'p.png'), W, H, (i) => remap[truth(i)] as number);
  await grey(join(preds, 'q.png'), W, H, (i) => (i % W === 3 ? 0 : i === 1 * W + 5 ? 9 : (remap[truth(i)] as number)));
  const r = await evaluatePredictions(core, ds.id, preds);
  assert.equal(r.task, 'segmentation');
  if (r.task !== 'segmentation') return;
  const near = (a: number | null | undefined, b: number, what: string) => assert.ok(a !== null && a !== undefined && Math.abs(a - b) < 1e-12, `${what}: ${String(a)} vs ${b}`);
  near(r.perClass['road']?.dice, 84 / 90, 'road');
  near(r.perClass['car']?.dice, 14 / 15, 'car');
  // Background: truth 2 x 20 pixels, all predicted right (tp 40); 6 road pixels predicted background (fp 6).
  near(r.perClass['background']?.dice, 80 / 86, 'background');
  near(r.dice, (84 / 90 + 14 / 15) / 2, 'mean over road and car');
  assert.equal(r.n, 2);
  near(r.images[0]?.dice, 1, 'image p');
  assert.match(r.source.warnings.join('\n'), /tree/);

  // A segmentation run with the perfect stand-in model: Dice 1 at the input resolution.
  const cfg = config('segmentation', ['background', 'road', 'car']);
  const runId = core.runs.create(ds.id, cfg, {});
  mkdirSync(join(core.training.checkpointDir(runId), 'best'), { recursive: true });
  const run = await evaluateRun(core, runId, { split: 'all' });
  assert.equal(run.task, 'segmentation');
  if (run.task !== 'segmentation') return;
  near(run.dice, 1, 'perfect masks');
  // Issue 20.2: scored at the image's own 8x6 pixels, so there is no letterbox padding to ignore.
  assert.equal(run.ignoredPixels, 0, 'no padding in image pixels');
  assert.equal(run.images.length, 2);
  assert.equal(run.source.coordinates, 'image');
  assert.equal(run.images.length, 2);
});

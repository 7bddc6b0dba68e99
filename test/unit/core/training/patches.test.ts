/**
 * Segmentation at native resolution: patches cut where documented (inside
 * the image, a foreground-centred share as asked, deterministic), and the
 * provider's patch batches on real DRIVE data: native pixels (a val patch
 * equals the crop of the decoded full-resolution image), the foreground
 * bias visible in the targets, a short real training run on patches, and
 * its evaluation at each test image's own size (sliding window), per image
 * and pooled, equal to a direct computation; proposals (predict) slide the
 * same way and store the full-size mask.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { join } from 'node:path';
import { evaluateRun } from '../../../../electron/core/evaluation/evaluate-run';
import { decodeRle } from '../../../../electron/core/labels/rle';
import { predictImages, runPredict } from '../../../../electron/core/predict/predict-service';
import { runReportModel } from '../../../../electron/core/report/report-export';
import { predictNativeSegmentation } from '../../../../electron/core/training/native-prediction';
import { choosePatchOrigin, patchTransform } from '../../../../electron/core/training/patches';
import { createLibraryBatchProvider } from '../../../../electron/core/training/library-batch-provider';
import { decodeImage, decodeSample } from '../../../../electron/core/training/sample-loader';
import { diceScores } from '../../../../electron/core/training/sliding-window';
import { IGNORE_INDEX, rasterizeSegmentation } from '../../../../electron/core/training/training-samples';
import { collectSamples, maskReader } from '../../../../electron/core/training/training-samples';
import { createRandom } from '../../../../electron/core/samples/seeded-random';
import { buildLearningLibrary, DRIVE } from '../../../helpers/learning';

test('patch origins: inside the image, foreground-centred as often as asked, deterministic per stream', () => {
  const W = 300;
  const H = 200;
  const P = 64;
  const map = new Uint8Array(W * H);
  // One small foreground blob: 10x10 px = 0.17% of the image.
  for (let y = 150; y < 160; y++) for (let x = 20; x < 30; x++) map[y * W + x] = 1;
  const hits = (fg: number): number => {
    let n = 0;
    for (let i = 0; i < 400; i++) {
      const o = choosePatchOrigin(map, W, H, P, fg, createRandom(5).fork(`p/${i}`));
      assert.ok(o.x0 >= 0 && o.y0 >= 0 && o.x0 + P <= W && o.y0 + P <= H, JSON.stringify(o));
      let has = false;
      for (let y = o.y0; y < o.y0 + P && !has; y++) for (let x = o.x0; x < o.x0 + P; x++) if (map[y * W + x]) has = true;
      if (has) n++;
    }
    return n / 400;
  };
  assert.equal(hits(1), 1, 'every foreground-centred patch holds foreground');
  const uniform = hits(0);
  assert.ok(uniform < 0.15, `uniform patches rarely meet a small blob (${uniform})`);
  const third = hits(1 / 3);
  assert.ok(third > 0.28 && third < 0.5, `a third forced, plus chance (${third})`);
  const a = choosePatchOrigin(map, W, H, P, 0.5, createRandom(9).fork('x'));
  const b = choosePatchOrigin(map, W, H, P, 0.5, createRandom(9).fork('x'));
  assert.deepEqual(a, b);
  // Smaller than the patch: centred (padded).
  const small = choosePatchOrigin(null, 40, 30, P, 0, createRandom(1));
  assert.deepEqual([small.x0, small.y0], [-12, -17]);
  // No augmentation: a pure shift at scale 1.
  assert.deepEqual(patchTransform({ x0: 10, y0: 20, foreground: false }, P, null).forward, [1, 0, -10, 0, 1, -20]);
});

test('DRIVE patch batches: native pixels, foreground bias in the targets, and a short real training run', async (t) => {
  const lib = await buildLearningLibrary('drive');
  t.after(() => lib.cleanup());
  const { core, datasetId } = lib;
  const { config: planned } = await core.training.plan(datasetId, 'segmentation');
  assert.ok(planned.patch, 'DRIVE is planned with patches');
  const P = 64;
  const config = { ...planned, inputSize: P, batchSize: 8, patch: { foregroundProbability: 1 / 3, patchesPerImage: 4 } };
  const collected = collectSamples(core.db, datasetId, 'segmentation');
  const provider = createLibraryBatchProvider({ blobs: core.blobs, db: core.db }, { samples: collected.samples, splits: core.splits.splitMap(datasetId), config });
  t.after(() => provider.dispose());
  assert.equal(provider.sampleCounts.train, 12 * 4);
  assert.equal(provider.sampleCounts.val, 3 * 4);
  assert.equal(provider.sampleCounts.test, 5, 'the test split stays whole images');
  // Val patches are cut without augmentation: each equals a crop of the full-resolution image.
  const val = await provider.batch('val', 1, 0);
  assert.equal(val.x.length, val.n * P * P * 3);
  const first = collected.samples.find((s) => s.itemId === val.itemIds[0]);
  assert.ok(first);
  const full = await decodeSample(core.blobs, first, { normalization: config.normalization, channels: 3, readMask: maskReader(core.db) });
  assert.equal(full.reduction, 1);
  const o = choosePatchOrigin(full.classMap, full.sourceWidth, full.sourceHeight, P, 1 / 3, createRandom(config.seed).fork(`patch/0/${first.itemId}/${first.frameIndex}/0`));
  let maxDiff = 0;
  for (let v = 0; v < P; v++) {
    for (let u = 0; u < P; u++) {
      for (let c = 0; c < 3; c++) {
        const want = full.image.data[((o.y0 + v) * full.sourceWidth + o.x0 + u) * 3 + c] as number;
        maxDiff = Math.max(maxDiff, Math.abs((val.x[(v * P + u) * 3 + c] as number) - want));
      }
    }
  }
  assert.ok(maxDiff < 1e-6, `a val patch is the native crop (max difference ${maxDiff})`);
  // Train patches: a third are centred on vessels, so vessel pixels are over-represented vs uniform crops (~9%).
  let vessel = 0;
  let labelled = 0;
  for (let i = 0; i < provider.batchesPerEpoch('train'); i++) {
    const b = await provider.batch('train', 1, i);
    assert.equal(b.targets.task, 'segmentation');
    if (b.targets.task !== 'segmentation') continue;
    for (const k of b.targets.masks) {
      if (k === 255) continue;
      labelled++;
      if (k === 1) vessel++;
    }
  }
  assert.ok(labelled > 0 && vessel / labelled > 0.09, `vessel share ${vessel / labelled}`);

  // A short real training run on patches through the training service, with the plan stored.
  const { runId, outcome } = await core.training.train(datasetId, 'segmentation', { recipe: 'planned', backend: 'wasm', epochs: 1, inputSize: P, batchSize: 8 });
  assert.equal(outcome.status, 'done', JSON.stringify(outcome.error));
  const stored = core.runs.get(runId).config;
  assert.equal(stored.plan?.format, 'fovea-recipe-plan');
  assert.ok(stored.patch && stored.patch.patchesPerImage >= 10);
  assert.equal(stored.inputSize, P);
  const dice = outcome.bestValMetrics?.['dice'];
  assert.ok(dice !== undefined && dice >= 0 && dice <= 1, JSON.stringify(outcome.bestValMetrics));

  // Evaluation slides the patch model over each full-resolution test image.
  const ev = await evaluateRun(core, runId);
  assert.ok('perSeries' in ev && 'images' in ev);
  const images = ev.images as { itemId?: number; dice: number | null }[];
  assert.equal(images.length, 5);
  const firstTest = collected.samples.find((s) => s.itemId === images[0]?.itemId);
  assert.ok(firstTest);
  const image = await decodeImage(core.blobs, firstTest, stored.normalization, stored.channels);
  assert.deepEqual([image.width, image.height], [565, 584]);
  const predicted = await predictNativeSegmentation(core.ml, join(core.training.checkpointDir(runId), 'best'), stored, image);
  assert.equal(predicted.length, 565 * 584, 'a class for every pixel of the image');
  if (firstTest.target.task !== 'segmentation') throw new Error('a segmentation sample');
  const truth = rasterizeSegmentation(firstTest.target.shapes, 584, 565, maskReader(core.db), 0).classMap;
  const direct = diceScores(predicted, truth.map((k) => (k === IGNORE_INDEX ? 255 : k)), 2)[0] ?? NaN;
  const reported = images[0]?.dice ?? NaN;
  // Proposals slide too: the stored vessel proposal of that image is the same full-size class map.
  const proposals = [];
  for await (const batch of predictImages(core, { config: stored, checkpoint: join(core.training.checkpointDir(runId), 'best') }, [firstTest])) proposals.push(...batch);
  assert.equal(proposals.length, 1);
  const shape = proposals[0]?.shapes.find((s) => s.kind === 'mask');
  assert.ok(shape && shape.kind === 'mask', 'a vessel mask proposal');
  assert.deepEqual(shape.rle.size, [584, 565]);
  assert.deepEqual(decodeRle(shape.rle), predicted.map((k) => (k === 1 ? 1 : 0)));
  // The report states the plan's decisions, read from the run (the stored evaluation above, not a new one).
  const { model, evaluatedNow } = await runReportModel(core, runId, 'test');
  assert.equal(evaluatedNow, false);
  const sampling = model.facts.find(([k]) => k === 'Plan: sampling');
  assert.match(sampling?.[1] ?? '', /native resolution/);
  // And through predict's service, into another dataset holding one unlabelled DRIVE image.
  const other = core.datasets.create('drive one', '');
  const imported = await core.importFiles({ datasetId: other.id, paths: [join(DRIVE, 'images', '21_training.tif')] });
  assert.equal(imported.counts.imported, 1);
  const report = await runPredict(core, runId, { datasetId: other.id });
  assert.equal(report.images, 1);
  assert.equal(report.failures.length, 0);
  assert.ok(report.proposed >= 1, JSON.stringify(report));
  assert.ok(Math.abs(direct - reported) < 1e-6 || (Number.isNaN(direct) && Number.isNaN(reported)), `evaluation ${reported} vs direct ${direct}`);
});

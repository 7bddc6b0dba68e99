/**
 * The recipe planner on real data (shared/testdata): DRIVE's thin vessels
 * force native-resolution patches with a foreground bias, CamVid's poles do
 * too, Penn-Fudan's boxes keep a useful size at the detector's input, and a
 * real CT series is windowed at the percentiles of its foreground HU
 * (checked against pydicom + numpy) and left 2D for its thick slices.
 * Every plan is deterministic: planned twice, the same JSON.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { encodeMask } from '../../../../electron/core/labels/rle';
import { maskAreaPerimeter } from '../../../../electron/core/training/recipe-facts';
import { applyPlan, planRecipe } from '../../../../electron/core/training/recipe-plan';
import { defaultTrainConfig } from '../../../../native-models/models/defaults';
import { buildLearningLibrary } from '../../../helpers/learning';
import { SHARED_TESTDATA } from '../../../helpers/paths';
import { PYTHON, requireTool } from '../../../helpers/reference-tools';
import { tempCore } from '../../../helpers/temp-library';

test('thickness of a mask: 2 * area / perimeter gives the width of a line', () => {
  const W = 40;
  const H = 10;
  const m = new Uint8Array(W * H);
  for (let x = 5; x < 35; x++) for (let y = 4; y < 7; y++) m[y * W + x] = 1; // 30 x 3 bar
  const { area, perimeter } = maskAreaPerimeter(m, H, W);
  assert.equal(area, 90);
  assert.equal(perimeter, 2 * 30 + 2 * 3);
  assert.ok(Math.abs((2 * area) / perimeter - 3) < 0.3);
});

test('DRIVE: thin vessels -> native-resolution patches, foreground-biased, vessel weighted up, photos per channel', async (t) => {
  const lib = await buildLearningLibrary('drive');
  t.after(() => lib.cleanup());
  const { plan, config } = await lib.core.training.plan(lib.datasetId, 'segmentation');
  const vessel = plan.data.objectSizes.find((o) => o.className === 'vessel');
  assert.ok(vessel && vessel.objects === 20 && vessel.median > 1 && vessel.median < 5, JSON.stringify(vessel));
  assert.deepEqual(plan.data.medianSize, [565, 584]);
  assert.equal(plan.data.modality, 'photo');
  assert.deepEqual(plan.normalization.value, { kind: 'unit' });
  assert.equal(plan.resolution.value, 1);
  assert.equal(plan.sampling.value.mode, 'patches');
  assert.ok(plan.sampling.value.inputSize % 16 === 0 && plan.sampling.value.inputSize >= 64 && plan.sampling.value.inputSize <= 128);
  assert.ok(plan.sampling.value.foregroundProbability > 0.3);
  assert.ok(plan.sampling.value.patchesPerImage >= 10, 'about one cover of a 565x584 image per epoch');
  // DRIVE's vessels are about 9% of the pixels (12% inside the field of view).
  assert.ok((plan.data.classFractions[1] as number) > 0.05 && (plan.data.classFractions[1] as number) < 0.15, String(plan.data.classFractions));
  const w = plan.classWeights.value as number[];
  assert.ok((w[1] as number) > 5 * (w[0] as number));
  assert.equal(plan.slices.value.applied, 'not-a-series');
  assert.equal(config.inputSize, plan.sampling.value.inputSize);
  assert.deepEqual(config.patch, { foregroundProbability: plan.sampling.value.foregroundProbability, patchesPerImage: plan.sampling.value.patchesPerImage });
  assert.equal(config.plan, plan);
  const again = await lib.core.training.plan(lib.datasetId, 'segmentation');
  assert.equal(JSON.stringify(again.plan), JSON.stringify(plan), 'deterministic');
  // Overrides win over the plan.
  assert.equal((await lib.core.training.plan(lib.datasetId, 'segmentation', { batchSize: 3 })).config.batchSize, 3);
  // Colour photographs: the U-Net on the frozen ImageNet encoder, at a multiple of 32; the user may say no.
  assert.equal(plan.encoder?.value, 'imagenet-mobilenetv2');
  assert.equal(config.encoder, 'imagenet-mobilenetv2');
  assert.equal(config.inputSize % 32, 0);
  const scratch = await lib.core.training.plan(lib.datasetId, 'segmentation', { encoder: null });
  assert.equal(scratch.config.encoder, null);
  assert.match(scratch.plan.encoder?.reason ?? '', /from scratch, as set/);
});

test('a patch rounded down to a multiple of 32 for the encoder keeps about one cover of an image per epoch', () => {
  // 600 x 112 photographs with a thin class: patches at native resolution, 112 px (the shorter side) before the encoder's rounding.
  const plan = planRecipe(
    {
      task: 'segmentation',
      classNames: ['background', 'line'],
      channels: 3,
      images: Array.from({ length: 10 }, () => ({ width: 600, height: 112 })),
      modality: 'photo',
      objectSizes: [{ className: 'line', objects: 10, median: 1.5, p10: 1 }],
      classFractions: [0.95, 0.05],
      foregroundHu: null,
      slices: null,
    },
    { defaults: defaultTrainConfig('segmentation', ['background', 'line'], 3), timeBudgetSeconds: 900 },
  );
  assert.equal(plan.encoder?.value, 'imagenet-mobilenetv2');
  assert.equal(plan.sampling.value.mode, 'patches');
  assert.equal(plan.sampling.value.inputSize, 96);
  assert.equal(plan.sampling.value.patchesPerImage, Math.round((600 * 112) / (96 * 96)), '7 patches of 96 px, not the 5 of 112 px');
  assert.match(plan.sampling.reason, /96 px rather than 112 \(7 patches per image\): the pretrained encoder needs a multiple of 32/);
});

test('CamVid: poles a couple of pixels thick -> patches; rare classes raise the foreground bias', async (t) => {
  const lib = await buildLearningLibrary('camvid');
  t.after(() => lib.cleanup());
  const { plan } = await lib.core.training.plan(lib.datasetId, 'segmentation', { unlabeledPixels: 'ignore' });
  const thinnest = plan.data.objectSizes.reduce((a, b) => (b.median < a.median ? b : a));
  assert.equal(thinnest.className, 'Pole');
  const road = plan.data.objectSizes.find((o) => o.className === 'Road');
  assert.ok(road && road.median > 10 * thinnest.median);
  assert.equal(plan.sampling.value.mode, 'patches');
  assert.equal(plan.sampling.value.foregroundProbability, 0.5, 'Pole covers under 1% of the pixels');
  assert.equal(plan.data.classFractions[0], 0, 'void pixels are ignored, not background');
  const again = await lib.core.training.plan(lib.datasetId, 'segmentation', { unlabeledPixels: 'ignore' });
  assert.equal(JSON.stringify(again.plan), JSON.stringify(plan));
});

test('Penn-Fudan: whole images at a size that keeps the small pedestrians 16+ px, no class weights', async (t) => {
  const lib = await buildLearningLibrary('pennfudan');
  t.after(() => lib.cleanup());
  const { plan, config } = await lib.core.training.plan(lib.datasetId, 'detection');
  assert.equal(plan.sampling.value.mode, 'whole-image');
  const side = plan.sampling.value.inputSize;
  assert.ok(side % 32 === 0 && side >= 256, String(side));
  const p10 = Math.min(...plan.data.objectSizes.map((o) => o.p10));
  assert.ok(p10 > 30 && p10 < 80, String(p10));
  assert.ok(p10 * (side / Math.max(...plan.data.medianSize)) >= 16);
  assert.equal(plan.classWeights.value, null);
  assert.equal(config.patch, null);
  assert.equal(config.encoder, 'imagenet-mobilenetv2', 'photographs: the detector on the ImageNet encoder');
  assert.equal(side % 32, 0);
  const again = await lib.core.training.plan(lib.datasetId, 'detection');
  assert.equal(JSON.stringify(again.plan), JSON.stringify(plan));
  // The epochs reason names the patience the run will use: the task's, or the user's (0: none).
  assert.match(plan.epochs.reason, new RegExp(`early stopping after ${config.earlyStoppingPatience} epochs`));
  const noStop = await lib.core.training.plan(lib.datasetId, 'detection', { earlyStoppingPatience: 0 });
  assert.equal(noStop.config.earlyStoppingPatience, 0);
  assert.match(noStop.plan.epochs.reason, /without early stopping \(patience 0\)/);
});

test('a CT series: window at the 0.5/99.5 percentiles of foreground HU (as numpy over pydicom), thick slices stay 2D', async (t) => {
  requireTool('pydicom', 'numpy');
  const dir = join(SHARED_TESTDATA, 'dicom', 'pydicom', 'dicomdirtests', '98892001', 'CT5N');
  const files = readdirSync(dir).map((f) => join(dir, f));
  const { core, cleanup } = tempCore();
  t.after(cleanup);
  const ds = core.datasets.create('ct', '');
  const imp = await core.importFiles({ datasetId: ds.id, paths: files });
  assert.equal(imp.counts.imported, files.length);
  const organ = core.annotations.ensureClass(ds.id, 'organ');
  const ids = core.db.prepare('SELECT id FROM items WHERE dataset_id = ? ORDER BY id').pluck().all(ds.id) as number[];
  const m = new Uint8Array(16 * 16);
  for (let y = 4; y < 12; y++) for (let x = 3; x < 13; x++) m[y * 16 + x] = 1;
  for (const itemId of ids) core.annotations.create({ datasetId: ds.id, itemId, classId: organ, kind: 'mask', geometry: { rle: encodeMask(m, 16, 16) }, source: 'human', author: 'test' });
  const { plan } = await core.training.plan(ds.id, 'segmentation');
  const script = `
import json, sys
import numpy as np, pydicom
vals = []
for f in sys.argv[1:]:
    d = pydicom.dcmread(f)
    hu = d.pixel_array.astype(np.float64) * float(d.RescaleSlope) + float(d.RescaleIntercept)
    vals.append(hu[4:12, 3:13].ravel())
v = np.concatenate(vals)
print(json.dumps([float(np.percentile(v, 0.5)), float(np.percentile(v, 99.5)), int(v.size)]))
`;
  const r = spawnSync(PYTHON, ['-c', script, ...files], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const [lo, hi, n] = JSON.parse(r.stdout) as [number, number, number];
  assert.equal(plan.data.modality, 'CT');
  assert.ok(plan.data.foregroundHu);
  assert.equal(plan.data.foregroundHu.samples, n);
  assert.ok(Math.abs(plan.data.foregroundHu.p005 - lo) < 0.01 && Math.abs(plan.data.foregroundHu.p995 - hi) < 0.01, `${JSON.stringify(plan.data.foregroundHu)} vs numpy ${lo} ${hi}`);
  assert.deepEqual(plan.normalization.value, { kind: 'window', center: Math.round((lo + hi) / 2), width: Math.round(hi - lo) });
  // 5 slices 2.5 mm apart, 0.49 mm pixels: ratio 5 > 3.
  assert.deepEqual(plan.slices.value, { recommended: '2d', applied: '2d' });
  assert.match(plan.slices.reason, /2\.5 mm apart/);
  const config = applyPlan(core.ml.defaultConfig('segmentation', ['background', 'organ'], 1), plan);
  assert.equal(config.normalization.kind, 'window');
  // Greyscale DICOM trains from scratch: the pretrained encoder learned from colour photographs.
  assert.equal(plan.encoder?.value, null);
  assert.match(plan.encoder?.reason ?? '', /from scratch.*CT images/);
  assert.equal(config.encoder, undefined);
});

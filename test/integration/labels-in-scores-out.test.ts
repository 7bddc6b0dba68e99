/**
 * Issue 20 on real data (../shared/testdata/train, read in place), through the CLI commands'
 * own functions and the real core:
 * - DRIVE: 0/255 vessel masks need a value=name class map (a plain list is an error that says
 *   why); the field-of-view mask imported as a "DontCare" region (0=DontCare) is left out of
 *   training targets (the batch provider accepts it) and of the score, which equals a direct
 *   numpy computation inside the field of view at the image's own size.
 * - CamVid: class 11 (Unlabelled) is kept as a region to ignore; predictions scored at the image
 *   size ignore exactly its pixels, whatever is predicted there.
 * - Penn-Fudan: the two label strings merged at import (--map; --classes is refused for VOC), the
 *   same merge in the core (classes.merge), PedMasks as instances (--instances).
 * - Detection in image pixels: a model's proposals exported (--labels proposals, COCO with scores)
 *   and scored by `evaluate --predictions`; the 12 COCO numbers and VOC AP equal the reference
 *   ports (test/reference/coco_eval.py) on the exported files, labelled-empty images included as
 *   negatives; a run at a 32 px input is scored against every ground-truth box in image pixels.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import sharp from 'sharp';
import type { CliContext } from '../../electron/cli/cli-context';
import { runEvaluate } from '../../electron/cli/commands/evaluate';
import { runExport } from '../../electron/cli/commands/export';
import { runImportLabels } from '../../electron/cli/commands/import-labels';
import type { Batch, MlEngine, Prediction, TrainConfig } from '../../electron/contract/ml';
import { FoveaException } from '../../electron/contract/result';
import type { Core } from '../../electron/core/composition-root';
import { evaluatePredictions } from '../../electron/core/evaluation/evaluate-predictions';
import { evaluateRun } from '../../electron/core/evaluation/evaluate-run';
import { createLibraryBatchProvider } from '../../electron/core/training/library-batch-provider';
import { collectSamples, IGNORE_INDEX, maskReader, rasterizeSegmentation } from '../../electron/core/training/training-samples';
import { createRandom } from '../../electron/core/samples/seeded-random';
import { REPO_ROOT, SHARED_TESTDATA } from '../helpers/paths';
import { PYTHON, requireTool } from '../helpers/reference-tools';
import { tempCore } from '../helpers/temp-library';

const DRIVE = join(SHARED_TESTDATA, 'train/drive_retina/training');
const CAMVID = join(SHARED_TESTDATA, 'train/camvid');
const PED = join(SHARED_TESTDATA, 'train/pennfudan_ped');
const CAMVID_CLASSES = ['Sky', 'Building', 'Pole', 'Road', 'Pavement', 'Tree', 'SignSymbol', 'Fence', 'Car', 'Pedestrian', 'Bicyclist', 'Unlabelled'];

function cli(core: Core): { ctx: CliContext; out: string[] } {
  const out: string[] = [];
  const ctx: CliContext = { json: true, libraryDir: '', core: () => core, out: (t) => out.push(t), jsonLine: (v) => out.push(JSON.stringify(v)), err: () => undefined, isTty: false, close: () => undefined };
  return { ctx, out };
}

function lastJson<T>(out: string[]): T {
  return JSON.parse(out[out.length - 1] as string) as T;
}

function segConfig(classNames: string[], inputSize = 64): TrainConfig {
  return {
    task: 'segmentation',
    inputSize,
    channels: 3,
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

/** Pixel values of a GIF/PNG straight from sharp (first channel), independent of Fovea's mask reader. */
async function pixels(path: string): Promise<{ data: Uint8Array; width: number; height: number }> {
  const { data, info } = await sharp(path).raw().toBuffer({ resolveWithObject: true });
  const out = new Uint8Array(info.width * info.height);
  for (let i = 0; i < out.length; i++) out[i] = data[i * info.channels] as number;
  return { data: out, width: info.width, height: info.height };
}

test('DRIVE: 0/255 masks need a value=name map; the field of view as a DontCare region trains and scores nowhere outside it', { timeout: 180_000 }, async (t) => {
  const { core, dir, cleanup } = tempCore();
  t.after(cleanup);
  const ds = core.datasets.create('drive', '');
  const imp = await core.importFiles({ datasetId: ds.id, paths: [join(DRIVE, 'images')] });
  assert.equal(imp.counts.imported, 20);
  const { ctx, out } = cli(core);

  // A plain list names values 0 and 1: the 255s are "not labelled" and nothing would be imported.
  await assert.rejects(
    runImportLabels(ctx, [join(DRIVE, '1st_manual')], { format: 'masks', dataset: 'drive', classes: 'background,vessel' }),
    (e: unknown) => e instanceof FoveaException && e.code === 'BAD_INPUT' && /value 255/.test(e.message) && /--classes "0=background,255=vessel"/.test(e.message),
  );
  assert.equal(core.annotations.listClasses(ds.id).length, 0, 'the refused import wrote nothing');
  assert.equal(await runImportLabels(ctx, [join(DRIVE, '1st_manual')], { format: 'masks', dataset: 'drive', classes: '0=background,255=vessel' }), 0);
  const vessels = lastJson<{ annotationsCreated: number; classesCreated: string[] }>(out);
  assert.equal(vessels.annotationsCreated, 20);
  assert.deepEqual(vessels.classesCreated, ['vessel']);
  // The field-of-view mask: 0 outside = a region to ignore, 255 inside = background (not stored).
  assert.equal(await runImportLabels(ctx, [join(DRIVE, 'mask')], { format: 'masks', dataset: 'drive', classes: '0=DontCare,255=background' }), 0);
  assert.equal(lastJson<{ annotationsCreated: number }>(out).annotationsCreated, 20);

  // Training: DontCare is not a class; its pixels are 255 in the targets and the provider accepts them.
  const collected = collectSamples(core.db, ds.id, 'segmentation');
  assert.deepEqual(collected.classNames, ['background', 'vessel']);
  assert.equal(collected.samples.length, 20);
  const items = core.db.prepare('SELECT id, source_name FROM items WHERE dataset_id = ? ORDER BY id').all(ds.id) as { id: number; source_name: string }[];
  const nameOf = new Map(items.map((i) => [i.id, i.source_name]));
  const provider = createLibraryBatchProvider({ blobs: core.blobs, db: core.db }, { samples: collected.samples, splits: new Map(items.map((i) => [i.id, 'train' as const])), config: segConfig(collected.classNames) });
  provider.dispose();
  const first = collected.samples[0];
  assert.ok(first && first.target.task === 'segmentation');
  const map = rasterizeSegmentation(first.target.shapes, first.height, first.width, maskReader(core.db)).classMap;
  const fov = await pixels(join(DRIVE, 'mask', (nameOf.get(first.itemId) as string).replace('.tif', '_mask.gif')));
  let outside = 0;
  for (let i = 0; i < map.length; i++) {
    assert.equal(map[i] === IGNORE_INDEX, fov.data[i] === 0, `pixel ${i}: 255 exactly outside the field of view`);
    if (fov.data[i] === 0) outside++;
  }
  assert.ok(outside > 50_000);

  // Evaluation: "vessel everywhere" predictions at the image size; only field-of-view pixels count.
  const preds = join(dir, 'preds');
  mkdirSync(preds);
  writeFileSync(join(preds, 'classes.json'), JSON.stringify({ 0: 'background', 1: 'vessel' }));
  for (const n of items.map((i) => i.source_name)) {
    await sharp(Buffer.alloc(565 * 584, 1), { raw: { width: 565, height: 584, channels: 1 } }).png().toFile(join(preds, n.replace('.tif', '.png')));
  }
  assert.equal(await runEvaluate(ctx, [], { dataset: 'drive', predictions: preds }), 0);
  const r = lastJson<{ n: number; perClass: Record<string, { dice: number; iou: number }>; ignoredPixels: number }>(out);
  assert.equal(r.n, 20);
  requireTool('numpy', 'pil');
  const numpy = spawnSync(
    PYTHON,
    [
      '-c',
      `import numpy as np, sys, json
from PIL import Image
d = sys.argv[1]
tp = fp = fn = ign = 0
for k in range(21, 41):
    v = np.array(Image.open(f"{d}/1st_manual/{k}_manual1.gif").convert("L")) > 0
    f = np.array(Image.open(f"{d}/mask/{k}_training_mask.gif").convert("L")) > 0
    p = np.ones_like(v)
    tp += int(np.sum(p & v & f)); fp += int(np.sum(p & ~v & f)); fn += int(np.sum(~p & v & f)); ign += int(np.sum(~f))
print(json.dumps({"dice": 2*tp/(2*tp+fp+fn), "iou": tp/(tp+fp+fn), "ignored": ign}))`,
      DRIVE,
    ],
    { encoding: 'utf8' },
  );
  assert.equal(numpy.status, 0, `numpy/PIL reference failed (apt-get install python3-numpy python3-pil): ${numpy.stderr}`);
  const ref = JSON.parse(numpy.stdout) as { dice: number; iou: number; ignored: number };
  assert.ok(Math.abs((r.perClass['vessel']?.dice ?? NaN) - ref.dice) < 1e-12, `vessel Dice ${r.perClass['vessel']?.dice} vs numpy ${ref.dice}`);
  assert.ok(Math.abs((r.perClass['vessel']?.iou ?? NaN) - ref.iou) < 1e-12);
  assert.equal(r.ignoredPixels, ref.ignored, 'exactly the pixels outside the field of view are left out');
});

test('CamVid: class 11 is a region to ignore: kept at import, never scored, whatever is predicted there', { timeout: 120_000 }, async (t) => {
  const { core, dir, cleanup } = tempCore();
  t.after(cleanup);
  const ds = core.datasets.create('camvid', '');
  await core.importFiles({ datasetId: ds.id, paths: [join(CAMVID, 'val')] });
  const { ctx, out } = cli(core);
  assert.equal(await runImportLabels(ctx, [join(CAMVID, 'valannot')], { format: 'masks', dataset: 'camvid', classes: CAMVID_CLASSES.join(',') }), 0);
  assert.ok(lastJson<{ classesCreated: string[] }>(out).classesCreated.includes('Unlabelled'), 'the void class is kept as a region');
  const collected = collectSamples(core.db, ds.id, 'segmentation');
  assert.equal(collected.classNames.includes('Unlabelled'), false, 'but it is not a class to learn');
  // Predictions: the truth itself, except that every void pixel is predicted "Road".
  const preds = join(dir, 'preds');
  mkdirSync(preds);
  writeFileSync(join(preds, 'classes.json'), JSON.stringify(Object.fromEntries(CAMVID_CLASSES.slice(0, 11).map((n, k) => [k, n]))));
  let voidPixels = 0;
  for (const f of readdirSync(join(CAMVID, 'valannot'))) {
    const m = await pixels(join(CAMVID, 'valannot', f));
    for (let i = 0; i < m.data.length; i++) {
      if (m.data[i] === 11) {
        voidPixels++;
        m.data[i] = 3;
      }
    }
    await sharp(Buffer.from(m.data), { raw: { width: m.width, height: m.height, channels: 1 } }).png().toFile(join(preds, f));
  }
  assert.ok(voidPixels > 10_000);
  const r = await evaluatePredictions(core, ds.id, preds);
  assert.equal(r.task, 'segmentation');
  if (r.task !== 'segmentation') return;
  assert.equal(r.n, 26);
  assert.equal(r.ignoredPixels, voidPixels, 'every void pixel, and only those, is left out');
  for (const [name, m] of Object.entries(r.perClass)) if (m.dice !== null) assert.equal(m.dice, 1, `${name}: "Road" on void pixels costs nothing`);
});

test('Penn-Fudan: label strings merged at import (--map) or in the core (classes.merge); PedMasks as instances', { timeout: 120_000 }, async (t) => {
  const { core, dir, cleanup } = tempCore();
  t.after(cleanup);
  const subset = join(dir, 'fudan');
  mkdirSync(subset);
  const fudan = readdirSync(join(PED, 'PNGImages')).filter((n) => n.startsWith('Fudan'));
  for (const f of fudan) symlinkSync(join(PED, 'PNGImages', f), join(subset, f));
  const boxes = fudan.reduce((n, f) => n + (readFileSync(join(PED, 'Annotation', f.replace('.png', '.txt')), 'utf8').match(/^Bounding box for object/gmu) ?? []).length, 0);
  const { ctx, out } = cli(core);
  for (const name of ['merged', 'two', 'instances']) {
    const ds = core.datasets.create(name, '');
    await core.importFiles({ datasetId: ds.id, paths: [subset] });
  }
  await assert.rejects(runImportLabels(ctx, [join(PED, 'Annotation')], { format: 'voc', dataset: 'merged', classes: 'pedestrian' }), /--classes names classes by index.*--map/);
  // Penn* files name images that are not in this dataset: exit 1, as before.
  assert.equal(await runImportLabels(ctx, [join(PED, 'Annotation')], { format: 'voc', dataset: 'merged', map: 'PASpersonWalking=pedestrian,PASpersonStanding=pedestrian' }), 1);
  const merged = lastJson<{ annotationsCreated: number; classesCreated: string[] }>(out);
  assert.deepEqual(merged.classesCreated, ['pedestrian']);
  assert.equal(merged.annotationsCreated, boxes);

  // The same merge after the fact, in the core.
  await runImportLabels(ctx, [join(PED, 'Annotation')], { format: 'voc', dataset: 'two' });
  const two = core.datasets.findByName('two');
  assert.ok(two);
  const cls = core.annotations.listClasses(two.id);
  assert.deepEqual(cls.map((c) => c.name).sort(), ['PASpersonStanding', 'PASpersonWalking']);
  const walking = cls.find((c) => c.name === 'PASpersonWalking') as { id: number };
  const standing = cls.find((c) => c.name === 'PASpersonStanding') as { id: number };
  core.labeling.updateClass({ id: walking.id, name: 'pedestrian' });
  const res = await core.dispatch('classes.merge', { from: [standing.id], into: walking.id });
  assert.ok(res.ok, JSON.stringify(res));
  assert.deepEqual(core.annotations.listClasses(two.id).map((c) => c.name), ['pedestrian']);
  assert.equal((core.db.prepare("SELECT count(*) AS n FROM annotations WHERE dataset_id = ? AND status = 'active'").get(two.id) as { n: number }).n, boxes);
  assert.equal((core.db.prepare("SELECT count(*) AS n FROM audit_log WHERE action = 'class.merge'").get() as { n: number }).n, 1);

  // Instance masks: value k = pedestrian k, one mask annotation per instance.
  await assert.rejects(runImportLabels(ctx, [join(PED, 'PedMasks')], { format: 'voc', dataset: 'instances', instances: 'pedestrian' }), /--instances applies to --format masks/);
  assert.equal(await runImportLabels(ctx, [join(PED, 'PedMasks')], { format: 'masks', dataset: 'instances', instances: 'pedestrian' }), 1);
  const inst = lastJson<{ annotationsCreated: number; classesCreated: string[]; matchedImages: number }>(out);
  assert.equal(inst.matchedImages, fudan.length);
  assert.deepEqual(inst.classesCreated, ['pedestrian']);
  assert.equal(inst.annotationsCreated, boxes, 'one mask per annotated pedestrian');
});

/** Predicts the batch's own targets: a perfect model at its input size. */
const targetEngine = {
  predict: (_checkpoint: string, config: TrainConfig, batch: Batch): Promise<Prediction[]> => {
    const t = batch.targets;
    return Promise.resolve(
      Array.from({ length: batch.n }, (_, i): Prediction => {
        if (t.task !== 'detection') throw new Error('detection only');
        return { task: 'detection', boxes: (t.boxes[i] ?? []).map((b) => ({ x: b[0] as number, y: b[1] as number, width: b[2] as number, height: b[3] as number, classIndex: b[4] as number, score: 0.9 })) };
      }),
    );
  },
} as unknown as MlEngine;

test('detection in image pixels: exported proposals scored as pycocotools and the VOC devkit score them, labelled-empty images as negatives; a 32 px run keeps every box', { timeout: 180_000 }, async (t) => {
  const { core, dir, cleanup } = tempCore({ ml: targetEngine });
  t.after(cleanup);
  const subset = join(dir, 'fudan');
  mkdirSync(subset);
  const fudan = readdirSync(join(PED, 'PNGImages')).filter((n) => n.startsWith('Fudan')).slice(0, 24);
  for (const f of fudan) symlinkSync(join(PED, 'PNGImages', f), join(subset, f));
  // Two street scenes without pedestrians, marked labelled by a person: negatives.
  for (const f of readdirSync(join(CAMVID, 'val')).slice(0, 2)) symlinkSync(join(CAMVID, 'val', f), join(subset, f));
  const ds = core.datasets.create('ped', '');
  await core.importFiles({ datasetId: ds.id, paths: [subset] });
  const { ctx, out } = cli(core);
  await runImportLabels(ctx, [join(PED, 'Annotation')], { format: 'voc', dataset: 'ped', map: 'PASpersonWalking=pedestrian,PASpersonStanding=pedestrian' });
  const empty = core.db.prepare("SELECT id FROM items WHERE dataset_id = ? AND source_name NOT LIKE 'Fudan%'").all(ds.id) as { id: number }[];
  assert.equal(empty.length, 2);
  for (const e of empty) core.annotations.setStatus({ itemId: e.id }, 'done', 'tester', null);

  // A "detector": every box found with some error, some missed, duplicates, and false positives of
  // every size (some on the empty scenes), stored as a model's proposals.
  const r = createRandom('proposals');
  const classId = core.annotations.listClasses(ds.id)[0]?.id as number;
  const gts = core.db.prepare("SELECT a.item_id AS itemId, a.geometry, i.columns AS w, i.rows AS h FROM annotations a JOIN items i ON i.id = a.item_id WHERE a.dataset_id = ? AND a.status = 'active'").all(ds.id) as { itemId: number; geometry: string; w: number; h: number }[];
  const runId = core.runs.create(ds.id, { ...segConfig(['pedestrian'], 32), task: 'detection' }, {});
  const propose = (itemId: number, b: { x: number; y: number; width: number; height: number }) =>
    core.annotations.create({ datasetId: ds.id, itemId, classId, kind: 'box', geometry: b, score: Math.round(r.next() * 40) / 40, source: 'model', status: 'proposed', author: `model:run-${runId}`, runId });
  for (const g of gts) {
    const b = JSON.parse(g.geometry) as { x: number; y: number; width: number; height: number };
    for (let k = 0; k < (r.next() < 0.15 ? 2 : 1); k++) {
      if (r.next() < 0.1) continue;
      propose(g.itemId, { x: Math.max(0, b.x + (r.next() - 0.5) * 0.3 * b.width), y: Math.max(0, b.y + (r.next() - 0.5) * 0.3 * b.height), width: b.width * (0.85 + 0.3 * r.next()), height: b.height * (0.85 + 0.3 * r.next()) });
    }
  }
  const items = core.db.prepare('SELECT id, columns AS w, rows AS h FROM items WHERE dataset_id = ?').all(ds.id) as { id: number; w: number; h: number }[];
  for (let k = 0; k < 40; k++) {
    const it = items[Math.floor(r.next() * items.length)] as { id: number; w: number; h: number };
    const s = [12, 50, 150][k % 3] as number;
    propose(it.id, { x: r.next() * (it.w - s), y: r.next() * (it.h - s), width: s, height: s * (0.5 + r.next()) });
  }

  // Out of the library: the labels and the proposals (with their scores) as COCO.
  assert.equal(await runExport(ctx, [], { dataset: 'ped', format: 'coco', out: join(dir, 'gt'), overwrite: false }), 0);
  assert.equal(await runExport(ctx, [], { dataset: 'ped', format: 'coco', out: join(dir, 'pred'), labels: 'proposals', overwrite: false }), 0);
  assert.equal(await runExport(ctx, [], { dataset: 'ped', format: 'yolo', out: join(dir, 'yolo'), labels: 'proposals', overwrite: false }), 0);
  type Coco = { images: { id: number; file_name: string }[]; annotations: { image_id: number; category_id: number; bbox: number[]; score?: number; source?: string; proposed?: boolean; run_id?: number }[]; categories: unknown[] };
  const gt = JSON.parse(readFileSync(join(dir, 'gt', 'annotations.json'), 'utf8')) as Coco;
  const pred = JSON.parse(readFileSync(join(dir, 'pred', 'annotations.json'), 'utf8')) as Coco;
  assert.deepEqual(pred.images, gt.images, 'the same image ids in both files');
  assert.equal(gt.annotations.length, gts.length);
  assert.ok(gt.annotations.every((a) => a.score === undefined && a.source === undefined), 'human labels: no score, no source');
  assert.ok(pred.annotations.length > gts.length);
  assert.ok(pred.annotations.every((a) => typeof a.score === 'number' && a.source === 'model' && a.proposed === true && a.run_id === runId));
  assert.equal(await runExport(ctx, [], { dataset: 'ped', format: 'coco', out: join(dir, 'all'), labels: 'all', overwrite: false }), 0);
  const all = JSON.parse(readFileSync(join(dir, 'all', 'annotations.json'), 'utf8')) as Coco;
  assert.equal(all.annotations.length, gt.annotations.length + pred.annotations.length);
  assert.equal(all.annotations.filter((a) => a.source === 'imported' && a.proposed === false && a.score === undefined).length, gts.length, 'the labels, marked as such');
  const yoloLine = readFileSync(join(dir, 'yolo', 'labels', `${fudan[0]?.replace('.png', '')}.txt`), 'utf8').trim().split('\n')[0] as string;
  assert.equal(yoloLine.split(' ').length, 6, `YOLO keeps the score at the line end: "${yoloLine}"`);

  // Fovea's scores of the exported proposals against the library.
  assert.equal(await runEvaluate(ctx, [], { dataset: 'ped', predictions: join(dir, 'pred', 'annotations.json') }), 0);
  const ours = lastJson<{ n: number; cocoSummary: Record<string, number>; vocAP50: number; source: { labelledEmpty: number; imageRule: string } }>(out);
  assert.equal(ours.n, 26, '24 images with pedestrians and the 2 labelled-empty scenes');
  assert.equal(ours.source.labelledEmpty, 2);
  assert.match(ours.source.imageRule, /labelled/);
  // The reference ports on the exported files (the 2 empty scenes are images without annotations there).
  requireTool('numpy');
  const ref = spawnSync(PYTHON, [join(REPO_ROOT, 'test', 'reference', 'coco_eval.py')], {
    input: JSON.stringify({ gt, dt: pred.annotations.map((a) => ({ image_id: a.image_id, category_id: a.category_id, bbox: a.bbox, score: a.score })) }),
    encoding: 'utf8',
  });
  assert.equal(ref.status, 0, `reference failed (apt-get install python3-numpy): ${ref.stderr}`);
  const want = JSON.parse(ref.stdout) as { stats: number[]; vocMean: number };
  const keys = ['AP', 'AP50', 'AP75', 'APsmall', 'APmedium', 'APlarge', 'AR1', 'AR10', 'AR100', 'ARsmall', 'ARmedium', 'ARlarge'];
  keys.forEach((k, i) => assert.ok(Math.abs((ours.cocoSummary[k] as number) - (want.stats[i] as number)) < 1e-12, `${k}: Fovea ${ours.cocoSummary[k]}, pycocotools port ${want.stats[i]}`));
  assert.ok(Math.abs(ours.vocAP50 - want.vocMean) < 1e-12, `VOC AP: Fovea ${ours.vocAP50}, devkit port ${want.vocMean}`);
  process.stdout.write(`# Penn-Fudan proposals: ${keys.map((k, i) => `${k} ${(want.stats[i] as number).toFixed(3)}`).join(', ')}; VOC AP ${want.vocMean.toFixed(3)} (Fovea equal to 1e-12)\n`);

  // A run whose model sees 32 px: every ground-truth box is scored in image pixels (none dropped).
  mkdirSync(join(core.training.checkpointDir(runId), 'best'), { recursive: true });
  const run = await evaluateRun(core, runId, { split: 'all' });
  assert.equal(run.task, 'detection');
  if (run.task !== 'detection') return;
  assert.equal(run.source.coordinates, 'image');
  assert.equal(run.perClass['pedestrian']?.groundTruth, gts.length, 'every box, whatever its size at 32 px');
  assert.equal(run.n, 26);
  assert.ok(run.mAP50 > 0.5, `the batch targets mapped back still find most people at IoU 0.5 (${run.mAP50})`);
});

test('Cityscapes instanceIds from the CLI: --instances coded with the class list gives one mask per instance id', { timeout: 60_000 }, async (t) => {
  const { core, cleanup } = tempCore();
  t.after(cleanup);
  const CITY = join(SHARED_TESTDATA, 'road/cityscapes');
  const NAMES = [
    'unlabeled', 'ego vehicle', 'rectification border', 'out of roi', 'static', 'dynamic', 'ground', 'road', 'sidewalk', 'parking',
    'rail track', 'building', 'wall', 'fence', 'guard rail', 'bridge', 'tunnel', 'pole', 'polegroup', 'traffic light',
    'traffic sign', 'vegetation', 'terrain', 'sky', 'person', 'rider', 'car', 'truck', 'bus', 'caravan',
    'trailer', 'train', 'motorcycle', 'bicycle',
  ];
  const ds = core.datasets.create('city', '');
  await core.importFiles({ datasetId: ds.id, paths: [join(CITY, 'leftImg8bit')] });
  const { ctx, out } = cli(core);
  await assert.rejects(runImportLabels(ctx, [join(CITY, 'gtFine')], { format: 'masks', dataset: 'city', instances: 'coded' }), /--instances coded needs --classes/);
  const file = join(CITY, 'gtFine/val/frankfurt/frankfurt_000000_000294_gtFine_instanceIds.png');
  assert.equal(await runImportLabels(ctx, [file], { format: 'masks', dataset: 'city', instances: 'coded', classes: NAMES.join(',') }), 0);
  const r = lastJson<{ matchedImages: number; annotationsCreated: number }>(out);
  assert.equal(r.matchedImages, 1);
  const ids = new Set<number>();
  const { data, info } = await sharp(file).toColourspace('grey16').raw({ depth: 'ushort' }).toBuffer({ resolveWithObject: true });
  const vals = new Uint16Array(data.buffer, data.byteOffset, data.length / 2);
  for (let i = 0; i < vals.length; i += info.channels) if ((vals[i] as number) > 0) ids.add(vals[i] as number);
  assert.equal(r.annotationsCreated, ids.size, 'one mask per distinct value: an instance id, or a region of a class without ids');
  const people = core.db.prepare("SELECT count(*) AS n FROM annotations a JOIN label_classes c ON c.id = a.class_id WHERE a.dataset_id = ? AND c.name = 'person' AND a.geometry NOT LIKE '%crowd%'").get(ds.id) as { n: number };
  assert.equal(people.n, [...ids].filter((v) => Math.floor(v / 1000) === 24).length, 'each person instance is its own mask');
});

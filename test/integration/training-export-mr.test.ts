/**
 * MR through the PyTorch training export (issue 18, with issue 13's planned recipes): z-score per
 * image and 2.5-D input (neighbour slices as channels) leave Fovea and come back.
 *
 * - A real MR series (pydicom's 98892003/MR700: 7 slices of 16x16 px whose Instance Numbers are out
 *   of position order; two slices are about half exactly 0, so nnU-Net's nonzero rule applies to
 *   them) copied for three patients, its Pixel Spacing widened to 0.6 mm so the planner's slice
 *   rule (slice gap at most 3 pixels) picks 2.5-D; 5 of 7 slices labelled per series. A short
 *   planned Fovea run (z-score, 2.5-D) gives the settings and split (`--split-from-run`); the export
 *   writes each image's modality values with the PNG value of 0, each sample's neighbours (the
 *   unlabelled ones too, de-identified first) in Fovea's order, and plan.json's slices and card words. train.py's
 *   z-score and neighbour stacking equal Fovea's decodeImage on every sample (largest difference
 *   printed); train.py trains one epoch on one process; its ONNX imports as a 2.5-D z-score model;
 *   Fovea's evaluation on the test split (which feeds the neighbours) equals what train.py printed.
 * - The z-score export of single real files against Fovea's pipeline: MR (integer values, a = 1),
 *   a MONOCHROME1 CR (a < 0: Fovea's negated z-scores) and MR2_UNCR, both with non-integer modality
 *   values (16-bit steps of their range).
 * - A 2.5-D z-score export without a run (the plan's settings with z-score and 2.5-D), de-identified:
 *   a labelled slice whose unlabelled neighbour says Burned In Annotation YES is held back with it;
 *   a plain image beside the series is its own neighbour and needs no de-identification.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import sharp from 'sharp';
import { importModel } from '../../electron/core/assist/model-import';
import { evaluateWithModel, predictWithModel } from '../../electron/core/assist/model-predict';
import type { Core } from '../../electron/core/composition-root';
import { cardPreprocessing } from '../../electron/core/export/model-export';
import { exportTraining } from '../../electron/core/export/training-export';
import { dicomPng } from '../../electron/core/export/training-pixels';
import { encodeMask } from '../../electron/core/labels/rle';
import { decodeImage } from '../../electron/core/training/sample-loader';
import { withNeighbours } from '../../electron/core/training/slice-neighbours';
import { collectSamples, type SampleSource } from '../../electron/core/training/training-samples';
import { createAssistEngine } from '../../native-models/assist/assist-engine';
import { ctSeriesForThreePatients } from '../helpers/ct-series-patients';
import { REPO_ROOT, SHARED_TESTDATA } from '../helpers/paths';
import { PYTHON, requireTool } from '../helpers/reference-tools';
import { tempCore, tempDir } from '../helpers/temp-library';
import { train } from '../helpers/train-py';

const MR700 = join(SHARED_TESTDATA, 'dicom', 'pydicom', 'dicomdirtests', '98892003', 'MR700');
const engine = createAssistEngine();
let core: Core;
let cleanup: () => void;
const work = tempDir('fovea-cluster-mr-');

before(() => {
  requireTool('torch', 'pydicom');
  const t = tempCore({ assist: engine, modelPacksDir: null });
  core = t.core;
  cleanup = t.cleanup;
});

after(async () => {
  cleanup();
  await engine.dispose();
  work.cleanup();
});

interface Ref {
  image: string;
  item: number;
  frame: number;
  values: string;
  zero?: number | null;
  affine?: [number, number];
}
interface Exported extends Ref {
  split: string;
  width: number;
  height: number;
  mask?: string;
  neighbours?: [Ref, Ref];
}

/** train.py's own code on exported images: float32 [H, W, C] per request, concatenated. */
function trainPyImages(dir: string, requests: { sample: Ref; channels: 1 | 3; stack: boolean }[]): Float32Array {
  const script = [
    'import json, sys',
    'import numpy as np',
    'sys.dont_write_bytecode = True',
    'sys.path.insert(0, sys.argv[1])',
    'import train',
    'plan = json.load(open(sys.argv[1] + "/plan.json"))',
    'def image_of(ref):',
    '    values, maxv = train.read_png(sys.argv[1] + "/" + ref["image"])',
    '    return train.normalise(values, maxv, ref, plan["normalization"])',
    'for r in json.load(sys.stdin):',
    '    img = train.stack_slices(image_of, r["sample"], r["channels"]) if r["stack"] else train.convert_channels(image_of(r["sample"]), r["channels"])',
    '    sys.stdout.buffer.write(img.astype("<f4").tobytes())',
  ].join('\n');
  const r = spawnSync(PYTHON, ['-B', '-c', script, dir], { input: JSON.stringify(requests), maxBuffer: 64 * 2 ** 20 });
  assert.equal(r.status, 0, r.stderr.toString());
  const bytes = Uint8Array.from(r.stdout);
  return new Float32Array(bytes.buffer, 0, bytes.length / 4);
}

function maxDiff(a: Float32Array, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs((a[i] as number) - (b[i] as number)));
  return m;
}

/**
 * MR700 for three patients (Pixel Spacing 0.6 mm) as a dataset: per series the slices by position,
 * the lowest and the middle one unlabelled (context only), the others labelled with their
 * brighter-than-average pixels; series 1, 2, 3 in train, val, test. `edit` changes the copies first.
 */
async function mrSeries(name: string, edit?: (dir: string) => void) {
  const dir = ctSeriesForThreePatients(MR700, 0.6);
  const datasetId = core.datasets.create(name, '').id;
  try {
    edit?.(dir);
    const imp = await core.importFiles({ datasetId, paths: [dir] });
    assert.equal(imp.counts.imported, 21);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const rows = core.db
    .prepare('SELECT id, blob_sha256 AS sha, instance_number AS instance, slice_position AS position, series_id AS series FROM items WHERE dataset_id = ? ORDER BY id')
    .all(datasetId) as { id: number; sha: string; instance: number; position: number; series: number }[];
  const seriesIds = [...new Set(rows.map((r) => r.series))].sort((a, b) => a - b);
  assert.equal(seriesIds.length, 3);
  const tissue = core.annotations.ensureClass(datasetId, 'tissue');
  const unlabelled = new Set<number>();
  for (const sid of seriesIds) {
    const ordered = rows.filter((r) => r.series === sid).sort((a, b) => a.position - b.position || a.id - b.id);
    for (const [k, r] of ordered.entries()) {
      if (k === 0 || k === 3) {
        unlabelled.add(r.id);
        continue;
      }
      // The brighter-than-average pixels of the slice: something the input shows.
      const z = await decodeImage(core.blobs, { itemId: r.id, frameIndex: 0, kind: 'dicom', blobSha256: r.sha, width: 16, height: 16, colour: false, patientKey: null }, { kind: 'zscore' }, 1);
      const m = Uint8Array.from(z.data, (v) => (v > 0 ? 1 : 0));
      core.annotations.create({ datasetId, itemId: r.id, classId: tissue, kind: 'mask', geometry: { rle: encodeMask(m, 16, 16) }, source: 'human', author: 'test' });
    }
    core.splits.setSplit(datasetId, ordered.map((r) => r.id), (['train', 'val', 'test'] as const)[seriesIds.indexOf(sid)] as 'train' | 'val' | 'test');
  }
  return { datasetId, rows, seriesIds, unlabelled };
}

test('MR z-score 2.5-D segmentation: planned run, exported, train.py z-scores and stacks as Fovea, trains, imports back, Fovea evaluates as train.py printed', { timeout: 300_000 }, async () => {
  const started = performance.now();
  const { datasetId, rows, unlabelled } = await mrSeries('mr700 series');
  const { runId, outcome } = await core.training.train(datasetId, 'segmentation', { recipe: 'planned', backend: 'wasm', epochs: 1, batchSize: 4, inputSize: 16 });
  assert.equal(outcome.status, 'done', JSON.stringify(outcome.error));
  const config = core.runs.get(runId).config;
  assert.equal(config.normalization.kind, 'zscore', 'the planner z-scores MR');
  assert.equal(config.slices, '2.5d', 'the planner applies 2.5-D to this series');
  const fovea = performance.now();

  const out = join(work.dir, 'mr-export');
  const report = await exportTraining(core.trainingExportDeps(), { datasetId, task: 'segmentation', target: 'pytorch', outDir: out, splitFromRun: runId, deidentify: true });
  assert.deepEqual(report.heldBack, [], 'every slice, neighbours too, went through the de-identification profile');
  assert.deepEqual(report.images, { train: 5, val: 5, test: 5 });
  assert.deepEqual(report.warnings, ['6 image(s) have no usable segmentation label and are left out.'], 'the unlabelled slices are no samples (they leave as neighbours)');
  const dataset = JSON.parse(readFileSync(join(out, 'dataset.json'), 'utf8')) as { samples: Exported[] };
  const plan = JSON.parse(readFileSync(join(out, 'plan.json'), 'utf8')) as { slices: string; channels: number; normalization: { kind: string }; card: { input: Record<string, unknown>; preprocessing: Record<string, unknown> } };
  assert.equal(plan.slices, '2.5d');
  assert.equal(plan.channels, 3);
  assert.equal(plan.normalization.kind, 'zscore');
  const words = cardPreprocessing(config);
  assert.deepEqual(plan.card.preprocessing['slices'], words.slices);
  assert.deepEqual(plan.card.preprocessing['normalization'], words.normalization);
  assert.deepEqual(plan.card.input, { channels: 3, channelOrder: 'slices', valueRange: null });
  const manifest = JSON.parse(readFileSync(report.manifest, 'utf8')) as { files: { path: string }[]; whatLeft: { images: number; neighbourSlices?: string } };
  assert.equal(manifest.whatLeft.images, 21, 'every slice left: 15 labelled and 6 unlabelled neighbours');
  assert.match(manifest.whatLeft.neighbourSlices ?? '', /^6 unlabelled/);
  for (const u of unlabelled) assert.ok(manifest.files.some((f) => f.path === `images/item-${u}-f0.png`), `unlabelled neighbour item ${u} exported`);

  // Each sample: modality values exactly (MR700's are integers), raw 0 identifiable, neighbours in Fovea's order (by position, not instance).
  const library = new Map(collectSamples(core.db, datasetId, 'segmentation').samples.map((s) => [s.itemId, s]));
  const withN = new Map(withNeighbours(core.db, [...library.values()]).map((s) => [s.itemId, s]));
  let outOfInstanceOrder = 0;
  for (const s of dataset.samples) {
    assert.equal(s.values, 'modality');
    assert.equal(s.affine?.[0], 1, `item ${s.item}: MR700's values are integers: written exactly (png = x - min)`);
    const n = withN.get(s.item)?.neighbours;
    assert.deepEqual(s.neighbours?.map((x) => x.item), [n?.below.itemId, n?.above.itemId], `item ${s.item}: Fovea's neighbours`);
    const self = rows.find((r) => r.id === s.item);
    const [below, above] = (s.neighbours ?? []).map((x) => rows.find((r) => r.id === x.item));
    assert.ok(below && above && self);
    assert.ok(below.position <= self.position && self.position <= above.position, `item ${s.item}: below / slice / above by position`);
    if (below.instance > self.instance || above.instance < self.instance) outOfInstanceOrder++;
  }
  assert.ok(outOfInstanceOrder > 0, 'some neighbours differ from instance order');
  // Slices with pixels of value 0 say which PNG value that is (min 0: PNG 0); the others say none.
  for (const s of dataset.samples) assert.equal(s.zero, s.affine?.[1] === 0 ? 0 : null, `item ${s.item}: zero ${String(s.zero)}, affine ${String(s.affine)}`);
  assert.ok(dataset.samples.some((s) => s.zero === 0), 'some slices have pixels exactly 0');

  // train.py's z-score and stacking against Fovea's decodeImage, sample by sample (real MR slices).
  const trainPy = trainPyImages(out, dataset.samples.map((s) => ({ sample: s, channels: 3, stack: true })));
  let worst = 0;
  let masked = 0;
  for (const [i, s] of dataset.samples.entries()) {
    const source = withN.get(s.item) as SampleSource;
    const foveaImage = await decodeImage(core.blobs, source, config.normalization, 3);
    const mine = trainPy.subarray(i * 16 * 16 * 3, (i + 1) * 16 * 16 * 3);
    worst = Math.max(worst, maxDiff(mine, foveaImage.data));
    const centreZeros = Array.from({ length: 256 }, (_, p) => foveaImage.data[p * 3 + 1]).filter((v) => v === 0).length;
    if (centreZeros >= 64) masked++;
  }
  assert.ok(worst < 1e-5, `train.py's 2.5-D z-score stacks equal Fovea's (largest difference ${worst})`);
  assert.ok(masked > 0, "some slices are at least a quarter 0: nnU-Net's nonzero rule applied");

  const trained = train(out, 1, ['--epochs', '1', '--input-size', '32', '--batch-size', '4']);
  const pack = join(out, 'output', 'model');
  const card = JSON.parse(readFileSync(join(pack, 'model-card.json'), 'utf8')) as { input: { channelOrder: string; valueRange: unknown; channels: number }; preprocessing: { slices: unknown; normalization: unknown } };
  assert.deepEqual(card.preprocessing.slices, words.slices, "train.py's card says 2.5-D in Fovea's words");
  assert.deepEqual(card.preprocessing.normalization, words.normalization);
  assert.equal(card.input.channelOrder, 'slices');
  assert.equal(card.input.valueRange, null);
  const imported = await importModel(core.modelImportDeps(), { path: join(pack, 'model.onnx'), name: 'mr700-zscore-25d' });
  assert.equal(imported.layoutFrom, 'model-card');
  const registered = JSON.parse(readFileSync(join(imported.model.folder, 'fovea-model.json'), 'utf8')) as { preprocessing: { resize: string; normalization: { kind: string }; slices?: string } };
  assert.deepEqual(registered.preprocessing, { resize: 'fovea', normalization: { kind: 'zscore' }, slices: '2.5d' });

  const evaluated = await evaluateWithModel(core.modelPredictDeps(), 'mr700-zscore-25d', { datasetId, split: 'test' });
  assert.equal(evaluated.task, 'segmentation');
  const printed = trained.metrics as { n: number; dice: number | null; iou: number | null; perClass: Record<string, { dice: number | null; iou: number | null }> };
  const f = evaluated as unknown as typeof printed;
  assert.equal(f.n, printed.n);
  let largest = 0;
  for (const c of ['background', 'tissue']) {
    for (const k of ['dice', 'iou'] as const) {
      const a = f.perClass[c]?.[k] ?? null;
      const b = printed.perClass[c]?.[k] ?? null;
      if (a === null || b === null) assert.equal(a, b, `${c} ${k}`);
      else {
        largest = Math.max(largest, Math.abs(a - b));
        // The README's documented difference for segmentation (nearly tied pixels; here the inputs are exact).
        assert.ok(Math.abs(a - b) <= 0.01, `${c} ${k}: Fovea ${a} vs train.py ${b}`);
      }
    }
  }
  // Prediction with the imported 2.5-D model runs over the whole series (neighbours from the library).
  const predicted = await predictWithModel(core.modelPredictDeps(), 'mr700-zscore-25d', { datasetId });
  assert.equal(predicted.failures.length, 0);
  assert.equal(predicted.images, 21);
  process.stdout.write(
    `# MR700 z-score 2.5-D: planned Fovea run ${((fovea - started) / 1000).toFixed(1)} s; train.py vs Fovea input, 15 samples x 3 slices: largest difference ${worst.toExponential(2)} (${masked} slice(s) z-scored over nonzero pixels); ` +
      `train.py 1 epoch ${trained.seconds.toFixed(1)} s; test Dice ${String(printed.dice)} (Fovea ${String(f.dice)}), IoU ${String(printed.iou)} (Fovea ${String(f.iou)}), largest per-class difference ${largest}\n`,
  );
});

test('z-score export of single real files: modality values as train.py reads them give Fovea z-scores (MR, MONOCHROME1 CR with non-integer values, MR with non-integer values)', async () => {
  const dir = join(work.dir, 'single');
  mkdirSync(dir, { recursive: true });
  const files = [
    ['MR700 slice, 52% zeros', join(MR700, '4648')],
    ['MR_small', join(SHARED_TESTDATA, 'dicom', 'pydicom', 'MR_small.dcm')],
    // Rescale Slope 0.684: modality values between integers, written in 16-bit steps, negated.
    ['CR MONOCHROME1', join(SHARED_TESTDATA, 'dicom', 'pydicom', 'dicomdirtests', '77654033', 'CR1', '6154')],
    // Rescale Slope 3.774114, 1024x1024.
    ['MR2_UNCR', join(SHARED_TESTDATA, 'dicom', 'pydicom-data', 'MR2_UNCR.dcm')],
  ] as const;
  const requests: { sample: Ref; channels: 1 | 3; stack: boolean }[] = [];
  const expected: Float32Array[] = [];
  const notes: string[] = [];
  writeFileSync(join(dir, 'plan.json'), JSON.stringify({ normalization: { kind: 'zscore' } }));
  for (const [i, [label, file]] of files.entries()) {
    const bytes = new Uint8Array(readFileSync(file));
    const ref = { itemId: i + 1, frameIndex: 0, blobSha256: `f${i}` };
    const px = await dicomPng(bytes, ref, { kind: 'zscore' }, 1);
    assert.equal(px.values, 'modality', label);
    mkdirSync(join(dir, 'images'), { recursive: true });
    writeFileSync(join(dir, 'images', `${i}.png`), px.png);
    requests.push({ sample: { image: `images/${i}.png`, item: i + 1, frame: 0, values: px.values, zero: px.zero ?? null, ...(px.affine ? { affine: px.affine } : {}) }, channels: 1, stack: false });
    const fov = await decodeImage({ read: () => bytes }, { ...ref, kind: 'dicom', width: px.width, height: px.height, colour: false, patientKey: null }, { kind: 'zscore' }, 1);
    expected.push(fov.data);
    notes.push(`${label}: affine [${(px.affine ?? []).map((v) => Number(v.toPrecision(6))).join(', ')}]${px.lossy ? ' (16-bit steps)' : ''}`);
  }
  // train.py is copied beside the images, as the export does.
  writeFileSync(join(dir, 'train.py'), readFileSync(join(REPO_ROOT, 'resources', 'export-templates', 'pytorch', 'train.py')));
  const got = trainPyImages(dir, requests);
  let offset = 0;
  const diffs: string[] = [];
  for (const [i, e] of expected.entries()) {
    const d = maxDiff(got.subarray(offset, offset + e.length), e);
    offset += e.length;
    // Exact values: float32 rounding only; 16-bit steps of the range: half a step over the std.
    assert.ok(d < (notes[i]?.includes('16-bit') ? 1e-3 : 1e-5), `${files[i]?.[0]}: largest difference ${d}`);
    diffs.push(`${files[i]?.[0]} ${d.toExponential(2)}`);
  }
  assert.ok(notes.some((n) => n.startsWith('CR MONOCHROME1: affine [-')), 'MONOCHROME1 is written negated');
  process.stdout.write(`# z-score export vs Fovea, largest difference: ${diffs.join('; ')}\n# ${notes.join('; ')}\n`);
});

test("2.5-D export without a run, de-identified: a slice whose neighbour may carry burned-in text is held back with it", async () => {
  // The test patient's lowest slice (instance 1, file 4558) says Burned In Annotation YES: it is unlabelled, a neighbour only.
  const { datasetId, rows, seriesIds } = await mrSeries('mr700 burned-in neighbour', (dir) => {
    const r = spawnSync(PYTHON, ['-c', 'import sys, pydicom\nd = pydicom.dcmread(sys.argv[1])\nd.BurnedInAnnotation = "YES"\nd.save_as(sys.argv[1])', join(dir, 'p2', '4558.dcm')], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
  });
  const test3 = rows.filter((r) => r.series === seriesIds[2]).sort((a, b) => a.position - b.position);
  const [lowest, second] = test3 as [(typeof rows)[number], (typeof rows)[number]];
  assert.equal(lowest.instance, 1);
  // A plain image (no series: its own neighbour both ways) in the training split: no DICOM, nothing to de-identify.
  const png = join(work.dir, 'plain-slice.png');
  await sharp(Buffer.from(Array.from({ length: 256 }, (_, p) => (p % 16) * 16)), { raw: { width: 16, height: 16, channels: 1 } }).png().toFile(png);
  await core.importFiles({ datasetId, paths: [png] });
  const plain = (core.db.prepare("SELECT id FROM items WHERE dataset_id = ? AND source_name LIKE '%plain-slice.png'").get(datasetId) as { id: number }).id;
  const half = Uint8Array.from({ length: 256 }, (_, p) => (p % 16 >= 8 ? 1 : 0));
  core.annotations.create({ datasetId, itemId: plain, classId: core.annotations.ensureClass(datasetId, 'tissue'), kind: 'mask', geometry: { rle: encodeMask(half, 16, 16) }, source: 'human', author: 'test' });
  core.splits.setSplit(datasetId, [plain], 'train');
  // The plan's settings with z-score and 2.5-D (what a planned MR run stores), through the export's own dependency.
  const deps = core.trainingExportDeps();
  const planned: typeof deps = {
    ...deps,
    trainingPlan: (id, task) => {
      const p = deps.trainingPlan(id, task);
      return { ...p, defaults: { ...p.defaults, channels: 3, slices: '2.5d', normalization: { kind: 'zscore' } } };
    },
  };
  const out = join(work.dir, 'mr-burned-in');
  const report = await exportTraining(planned, { datasetId, task: 'segmentation', target: 'pytorch', outDir: out, deidentify: true });
  assert.equal(report.heldBack.length, 1);
  assert.equal(report.heldBack[0]?.itemId, second.id);
  assert.match(report.heldBack[0]?.reason ?? '', new RegExp(`neighbour slice \\(item ${lowest.id}\\) was held back: Possible burned-in text: Burned In Annotation \\(0028,0301\\) is YES`));
  assert.deepEqual(report.images, { train: 6, val: 5, test: 4 });
  const manifest = JSON.parse(readFileSync(report.manifest, 'utf8')) as { files: { path: string }[]; whatLeft: { heldBack: number } };
  assert.equal(manifest.whatLeft.heldBack, 1);
  assert.ok(!manifest.files.some((f) => f.path === `images/item-${lowest.id}-f0.png`), 'the suspect slice did not leave');
  // The held-back slice is no sample (its input would need the suspect slice); its own pixels may still leave as the next slice's neighbour.
  const dataset = JSON.parse(readFileSync(join(out, 'dataset.json'), 'utf8')) as { samples: Exported[] };
  assert.ok(!dataset.samples.some((x) => x.item === second.id), 'the slice it neighbours is no sample');
  const third = dataset.samples.find((x) => x.item === test3[2]?.id);
  assert.equal(third?.neighbours?.[0]?.item, second.id);
  assert.ok(dataset.samples.every((x) => x.item !== lowest.id && !x.neighbours?.some((n) => n.item === lowest.id)), 'nothing refers to the suspect slice');
  const plainSample = dataset.samples.find((x) => x.item === plain);
  assert.equal(plainSample?.values, 'stored');
  assert.deepEqual(plainSample?.neighbours?.map((n) => n.item), [plain, plain], 'a plain image is its own neighbour both ways');
  const plan = JSON.parse(readFileSync(join(out, 'plan.json'), 'utf8')) as { slices: string; normalization: { kind: string } };
  assert.deepEqual([plan.slices, plan.normalization.kind], ['2.5d', 'zscore']);
});

/**
 * Multi-label classification through the PyTorch training export (issue 18): a dataset whose images
 * carry several classes (PneumoniaMNIST's normal / pneumonia, plus "bright" on the brighter half)
 * is exported with its multi-hot labels (dataset.json and labels.csv), the exported train.py trains
 * it under `torchrun --nnodes 1 --nproc_per_node 2` (test/helpers/train-py.ts) with gloo (binary cross-entropy on sigmoid
 * outputs), and the model it writes comes back through import-model as a multi-label model: Fovea's
 * evaluation of it on the test split equals the multi-label metrics train.py printed to 1e-6
 * (subset accuracy, per-class and macro precision / recall / F1, per-class confusion, ROC AUC and
 * average precision). A second test checks train.py's metric code against Fovea's on crafted
 * scores (ties, exactly 0.5, classes never or always present) to 1e-12.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import sharp from 'sharp';
import { importModel } from '../../electron/core/assist/model-import';
import { evaluateWithModel, predictWithModel } from '../../electron/core/assist/model-predict';
import type { Core } from '../../electron/core/composition-root';
import { exportTraining } from '../../electron/core/export/training-export';
import { multiLabelClassificationMetrics } from '../../electron/core/evaluation/classification-metrics';
import { createRandom } from '../../electron/core/samples/seeded-random';
import { collectSamples } from '../../electron/core/training/training-samples';
import { createAssistEngine } from '../../native-models/assist/assist-engine';
import { writePneumoniaSubset } from '../helpers/pneumonia-subset';
import { REPO_ROOT } from '../helpers/paths';
import { PYTHON, requireTool } from '../helpers/reference-tools';
import { tempCore, tempDir } from '../helpers/temp-library';
import { assertDistributed, close, train } from '../helpers/train-py';

const engine = createAssistEngine();
let core: Core;
let cleanup: () => void;
const work = tempDir('fovea-cluster-multi-');

before(() => {
  requireTool('torch');
  const t = tempCore({ assist: engine, modelPacksDir: null });
  core = t.core;
  cleanup = t.cleanup;
});

after(async () => {
  cleanup();
  await engine.dispose();
  work.cleanup();
});

test('multi-label classification: exported multi-hot, trained with BCE under torchrun, imported back, evaluated as train.py printed', { timeout: 300_000 }, async () => {
  const data = await writePneumoniaSubset(join(work.dir, 'pneumonia'), { train: 8, val: 2, test: 6 });
  const ds = core.datasets.create('Pneumonia multi-label', '');
  core.labeling.setMultiLabel(ds.id, true);
  await core.importFiles({ datasetId: ds.id, paths: [data.imagesDir] });
  await core.importLabels(ds.id, data.labelsCsv, 'csv', 'test');
  const rows = core.db.prepare('SELECT id, source_name FROM items WHERE dataset_id = ? ORDER BY id').all(ds.id) as { id: number; source_name: string }[];
  // A second, independent class on the brighter half of the images: rows with one class and with two.
  const brightness = new Map<number, number>();
  for (const r of rows) brightness.set(r.id, (await sharp(join(data.imagesDir, r.source_name)).stats()).channels[0]?.mean ?? 0);
  const median = [...brightness.values()].sort((a, b) => a - b)[rows.length >> 1] as number;
  const bright = core.annotations.ensureClass(ds.id, 'bright');
  for (const r of rows) if ((brightness.get(r.id) as number) >= median) core.annotations.create({ datasetId: ds.id, itemId: r.id, classId: bright, kind: 'class', geometry: null, source: 'human', author: 'test' });
  for (const s of ['train', 'val', 'test'] as const) core.splits.setSplit(ds.id, rows.filter((r) => data.split.get(r.source_name) === s).map((r) => r.id), s);

  const out = join(work.dir, 'multi-export');
  const report = await exportTraining(core.trainingExportDeps(), { datasetId: ds.id, task: 'classification', target: 'pytorch', outDir: out });
  assert.deepEqual([...report.classes].sort(), ['bright', 'normal', 'pneumonia']);
  assert.deepEqual(report.images, { train: 16, val: 4, test: 12 });

  // The labels on disk are the library's, several per image: dataset.json's indices and labels.csv's 0/1 columns.
  const dataset = JSON.parse(readFileSync(join(out, 'dataset.json'), 'utf8')) as { multiLabel: boolean; classes: string[]; samples: { image: string; item: number; split: string; labels: number[] }[] };
  assert.equal(dataset.multiLabel, true);
  const library = collectSamples(core.db, ds.id, 'classification');
  const truth = new Map(library.samples.map((s) => [s.itemId, s.target.task === 'classification' ? s.target.classIndices.map((k) => library.classNames[k]) : []]));
  for (const s of dataset.samples) assert.deepEqual(s.labels.map((k) => dataset.classes[k]).sort(), [...(truth.get(s.item) ?? [])].sort(), `item ${s.item}`);
  const twoClasses = dataset.samples.filter((s) => s.labels.length === 2);
  assert.ok(twoClasses.length > 0 && twoClasses.length < dataset.samples.length, `${twoClasses.length} of ${dataset.samples.length} images carry two classes`);
  const csv = readFileSync(join(out, 'labels.csv'), 'utf8').trimEnd().split('\r\n').map((l) => l.split(','));
  assert.deepEqual(csv[0], ['image', 'split', ...dataset.classes]);
  assert.equal(csv.length, dataset.samples.length + 1);
  for (const [i, s] of dataset.samples.entries()) assert.deepEqual(csv[i + 1], [s.image, s.split, ...dataset.classes.map((_, k) => (s.labels.includes(k) ? '1' : '0'))], s.image);
  const manifest = JSON.parse(readFileSync(report.manifest, 'utf8')) as { files: { path: string; sha256: string }[]; whatLeft: { labels: string } };
  const csvEntry = manifest.files.find((f) => f.path === 'labels.csv');
  assert.equal(csvEntry?.sha256, createHash('sha256').update(readFileSync(join(out, 'labels.csv'))).digest('hex'), 'labels.csv hashed in the manifest');
  assert.match(manifest.whatLeft.labels, /multi-label/);
  const plan = JSON.parse(readFileSync(join(out, 'plan.json'), 'utf8')) as { multiLabel: boolean; model: { family: string } };
  assert.equal(plan.multiLabel, true);
  assert.match(plan.model.family, /sigmoid/);

  const ddp = train(out, 2, ['--epochs', '2', '--input-size', '32', '--batch-size', '8']);
  assertDistributed(ddp, 2, report.images.train);

  // The pack says multi-label, the graph ends in a sigmoid, and Fovea's registry keeps it so.
  const pack = join(out, 'output', 'model');
  const card = JSON.parse(readFileSync(join(pack, 'model-card.json'), 'utf8')) as { multiLabel: boolean; decoding: string };
  assert.equal(card.multiLabel, true);
  assert.match(card.decoding, /independently/);
  const imported = await importModel(core.modelImportDeps(), { path: join(pack, 'model.onnx'), name: 'pneumonia-multi-pytorch' });
  assert.equal(imported.layoutFrom, 'model-card');
  assert.equal(imported.model.decoder, 'fovea');
  assert.equal(imported.graph.outputProducers['probabilities'], 'Sigmoid');
  const registered = JSON.parse(readFileSync(join(imported.model.folder, 'fovea-model.json'), 'utf8')) as { output: { multiLabel?: boolean } };
  assert.equal(registered.output.multiLabel, true);

  const evaluated = await evaluateWithModel(core.modelPredictDeps(), 'pneumonia-multi-pytorch', { datasetId: ds.id, split: 'test' });
  assert.equal(evaluated.task, 'classification');
  const printed = ddp.metrics;
  assert.equal(printed['multiLabel'], true);
  const keys = ['multiLabel', 'n', 'accuracy', 'macro', 'perClass', 'confusionMatrix', 'multilabelConfusion', 'auc', 'averagePrecision'];
  for (const k of keys) assert.ok(k in printed, `train.py printed ${k}`);
  for (const k of keys) close((evaluated as unknown as Record<string, unknown>)[k], printed[k], 1e-6, k);

  // `fovea predict` with the imported multi-label model: one proposal per class whose own sigmoid
  // probability is >= 0.5 (several per image, scores not summing to 1 as a softmax's would), and on
  // the test split the same yes/no decisions as the evaluation's per-class confusion matrices.
  const predicted = await predictWithModel(core.modelPredictDeps(), 'pneumonia-multi-pytorch', { datasetId: ds.id });
  assert.equal(predicted.failures.length, 0);
  assert.equal(predicted.images, rows.length);
  const proposals = core.db
    .prepare("SELECT a.item_id AS item, c.name AS class, a.score AS score FROM annotations a JOIN label_classes c ON c.id = a.class_id WHERE a.dataset_id = ? AND a.source = 'model' AND a.author = 'model:pneumonia-multi-pytorch'")
    .all(ds.id) as { item: number; class: string; score: number }[];
  assert.equal(proposals.length, predicted.proposed);
  for (const p of proposals) assert.ok(p.score >= 0.5 && p.score <= 1, `item ${p.item} ${p.class}: score ${p.score} is a probability >= 0.5`);
  const perItem = new Map<number, { class: string; score: number }[]>();
  for (const p of proposals) perItem.set(p.item, [...(perItem.get(p.item) ?? []), p]);
  const testItems = rows.filter((r) => data.split.get(r.source_name) === 'test').map((r) => r.id);
  const confusion = evaluated.multilabelConfusion as Record<string, [[number, number], [number, number]]>;
  let subsetRight = 0;
  for (const item of testItems) {
    const said = new Set((perItem.get(item) ?? []).map((p) => p.class));
    if ([...said].sort().join() === [...(truth.get(item) ?? [])].sort().join()) subsetRight++;
  }
  for (const name of dataset.classes) {
    const [[tn, fp], [fn, tp]] = confusion[name] as [[number, number], [number, number]];
    const yes = testItems.filter((item) => (perItem.get(item) ?? []).some((p) => p.class === name));
    const right = yes.filter((item) => (truth.get(item) ?? []).includes(name)).length;
    assert.deepEqual([yes.length - right, right], [fp, tp], `${name}: predict's proposals on the test split are the evaluation's fp and tp`);
    assert.equal(tn + fp + fn + tp, testItems.length);
  }
  assert.equal(subsetRight / testItems.length, evaluated.accuracy, "predict's proposals give the evaluation's subset accuracy");
  const several = [...perItem.values()].filter((ps) => ps.length > 1);
  if (several.length > 0) assert.ok(several.some((ps) => ps.reduce((a, p) => a + p.score, 0) > 1), 'several classes on one image with independent probabilities (summing over 1)');
  const auc = printed['auc'] as { macro: number | null };
  process.stdout.write(`# predict with the imported multi-label model: ${proposals.length} class proposals on ${rows.length} images (${several.length} with several classes), on the test split the evaluation's per-class tp/fp\n`);
  process.stdout.write(`# multi-label (torchrun 2 x gloo, ${ddp.seconds.toFixed(1)} s): test subset accuracy ${String(printed['accuracy'])}, macro F1 ${String((printed['macro'] as { f1: number }).f1)}, macro AUC ${String(auc.macro)}; Fovea's evaluation equal to 1e-6\n`);
});

test("train.py's multi-label metrics are Fovea's: ties, probabilities at exactly 0.5, a class never present, a class always present", () => {
  const rnd = createRandom(11);
  const classes = ['a', 'b', 'never', 'always'];
  const truth: number[][] = [];
  const probs: number[][] = [];
  for (let i = 0; i < 40; i++) {
    const a = rnd.next() < 0.4 ? 1 : 0;
    const b = rnd.next() < 0.6 ? 1 : 0;
    truth.push([a, b, 0, 1]);
    // Scores on a coarse grid (ties, and 0.5 itself: predicted, as Fovea's >= 0.5), leaning to the truth.
    const score = (t: number): number => Math.min(1, Math.max(0, Math.round((rnd.next() * 0.8 + t * 0.2) * 10) / 10));
    probs.push([score(a), score(b), score(0), score(1)]);
  }
  const fovea = multiLabelClassificationMetrics(truth, probs, classes);
  const script = ['import json, sys', 'import numpy as np', `sys.path.insert(0, ${JSON.stringify(join(REPO_ROOT, 'resources', 'export-templates', 'pytorch'))})`, 'sys.dont_write_bytecode = True', 'import train', 'classes, truth, probs = json.load(sys.stdin)', 'print(json.dumps(train.multi_label_metrics(classes, np.array(truth) >= 0.5, np.array(probs, dtype=np.float32))))'].join('\n');
  const r = spawnSync(PYTHON, ['-B', '-c', script], { input: JSON.stringify([classes, truth, probs]), encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const printed = JSON.parse(r.stdout) as Record<string, unknown>;
  assert.ok(probs.some((row) => row.includes(0.5)), 'some probabilities are exactly 0.5');
  assert.equal(fovea.auc.perClass['never'], null);
  assert.equal(fovea.averagePrecision.perClass['never'], null);
  assert.equal(fovea.auc.perClass['always'], null);
  assert.ok((fovea.averagePrecision.perClass['always'] ?? 0) > 0);
  for (const k of ['multiLabel', 'n', 'accuracy', 'macro', 'perClass', 'confusionMatrix', 'multilabelConfusion', 'auc', 'averagePrecision']) close((fovea as unknown as Record<string, unknown>)[k], printed[k], 1e-12, k);
  process.stdout.write(`# multi-label metrics of 40 images x 4 classes (ties, 0.5, a class never and one always present): subset accuracy ${fovea.accuracy}, macro F1 ${fovea.macro.f1.toFixed(4)}, macro AUC ${String(fovea.auc.macro)}, macro AP ${String(fovea.averagePrecision.macro)}; equal to 1e-12 in train.py\n`);
});

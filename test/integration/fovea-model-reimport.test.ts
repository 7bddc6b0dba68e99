/**
 * A Fovea run exported to ONNX (`fovea export-model --format onnx`) and imported again as a model
 * (`fovea import-model`, which reads the model card beside the file) is the same model:
 * - classification (real DICOM, pydicom's CT and MR files): its evaluation equals the run's own
 *   (evaluateRun) number for number: accuracy, per-class precision/recall/F1, confusion matrix,
 *   AUC and average precision;
 * - detection (synthetic road scenes) and segmentation (synthetic CT lesions): its proposals on
 *   every image equal the run's own proposals (`fovea predict --run`), box for box within 1e-3
 *   pixels and mask for mask, in image pixels; and where the run's evaluation scores in image
 *   pixels too, the two evaluations are equal.
 * The runs are tiny (1-2 epochs at 16-64 px): the point is the identity, not the quality.
 */
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { Core } from '../../electron/core/composition-root';
import { importModel } from '../../electron/core/assist/model-import';
import { evaluateWithModel, predictWithModel } from '../../electron/core/assist/model-predict';
import { evaluateRun } from '../../electron/core/evaluation/evaluate-run';
import { exportModel } from '../../electron/core/export/model-export';
import { runPredict } from '../../electron/core/predict/predict-service';
import { writeSyntheticCtStudies } from '../../electron/core/samples/synthetic-ct';
import { writeSyntheticRoadScenes } from '../../electron/core/samples/synthetic-road';
import type { AnnotationRow } from '../../electron/core/store/annotation-store';
import { createAssistEngine } from '../../native-models/assist/assist-engine';
import { SHARED_TESTDATA } from '../helpers/paths';
import { tempCore, tempDir } from '../helpers/temp-library';

const engine = createAssistEngine();
let core: Core;
let cleanup: () => void;
const work = tempDir('fovea-reimport-');

before(() => {
  const t = tempCore({ assist: engine, modelPacksDir: null });
  core = t.core;
  cleanup = t.cleanup;
});

after(async () => {
  cleanup();
  await engine.dispose();
  work.cleanup();
});

async function exportAndImport(runId: number, name: string): Promise<void> {
  const out = join(work.dir, `export-${name}`);
  await exportModel(core, { runId, format: 'onnx', outDir: out });
  const imported = await importModel(core.modelImportDeps(), { path: join(out, 'model.onnx'), name });
  assert.equal(imported.layoutFrom, 'model-card');
  assert.equal(imported.model.decoder, 'fovea');
  assert.deepEqual(imported.model.classes, core.runs.get(runId).config.classNames);
}

function close(a: unknown, b: unknown, path = ''): void {
  if (typeof a === 'number' && typeof b === 'number') {
    assert.ok(Math.abs(a - b) <= 1e-6 || (Number.isNaN(a) && Number.isNaN(b)), `${path}: ${a} vs ${b}`);
  } else if (Array.isArray(a) && Array.isArray(b)) {
    assert.equal(a.length, b.length, `${path}: length`);
    a.forEach((x, i) => close(x, b[i], `${path}[${i}]`));
  } else if (a && b && typeof a === 'object' && typeof b === 'object') {
    assert.deepEqual(Object.keys(a).sort(), Object.keys(b).sort(), `${path}: keys`);
    for (const k of Object.keys(a)) close((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k], `${path}.${k}`);
  } else assert.deepEqual(a, b, path);
}

/** Proposals by (item, frame) as comparable shapes. */
function proposals(datasetId: number, author: string): Map<string, { classId: number; kind: string; geometry: unknown }[]> {
  const out = new Map<string, { classId: number; kind: string; geometry: unknown }[]>();
  for (const a of core.annotations.listForDataset(datasetId).filter((r: AnnotationRow) => r.author === author && r.status === 'proposed')) {
    const k = `${a.itemId}:${a.frameIndex ?? 0}`;
    const list = out.get(k) ?? [];
    list.push({ classId: a.classId, kind: a.kind, geometry: a.geometry });
    out.set(k, list);
  }
  return out;
}

function sameProposals(run: ReturnType<typeof proposals>, model: ReturnType<typeof proposals>): number {
  assert.deepEqual([...model.keys()].sort(), [...run.keys()].sort(), 'the same images got proposals');
  let n = 0;
  for (const [k, a] of run) {
    const b = model.get(k) ?? [];
    assert.equal(b.length, a.length, `${k}: proposals`);
    const key = (s: { classId: number; geometry: unknown }) => `${s.classId}:${JSON.stringify(s.geometry).slice(0, 40)}`;
    const sa = [...a].sort((x, y) => key(x).localeCompare(key(y)));
    const sb = [...b].sort((x, y) => key(x).localeCompare(key(y)));
    sa.forEach((s, i) => {
      const t = sb[i]!;
      assert.deepEqual([t.classId, t.kind], [s.classId, s.kind], k);
      if (s.kind === 'box') close(t.geometry, s.geometry, `${k} box`);
      else assert.deepEqual(t.geometry, s.geometry, `${k} ${s.kind}`);
      n++;
    });
  }
  return n;
}

test('classification: the re-imported export evaluates exactly as the run', async () => {
  const root = join(SHARED_TESTDATA, 'dicom', 'pydicom');
  const files: { path: string; label: string }[] = [{ path: join(root, 'CT_small.dcm'), label: 'ct' }, { path: join(root, 'MR_small.dcm'), label: 'mr' }];
  for (const [sub, label] of [['dicomdirtests/98892001/CT2N', 'ct'], ['dicomdirtests/98892001/CT5N', 'ct'], ['dicomdirtests/98892003/MR1', 'mr'], ['dicomdirtests/98892003/MR2', 'mr']] as const) {
    for (const f of readdirSync(join(root, sub)).sort()) files.push({ path: join(root, sub, f), label });
  }
  const ds = core.datasets.create('CT or MR', '');
  // Each modality imported on its own: the items it adds get its class.
  for (const label of ['ct', 'mr'] as const) {
    const before = core.db.prepare('SELECT coalesce(max(id), 0) FROM items').pluck().get() as number;
    await core.importFiles({ datasetId: ds.id, paths: files.filter((f) => f.label === label).map((f) => f.path) });
    const classId = core.annotations.ensureClass(ds.id, label);
    for (const itemId of core.db.prepare('SELECT id FROM items WHERE dataset_id = ? AND id > ?').pluck().all(ds.id, before) as number[]) {
      core.annotations.create({ datasetId: ds.id, itemId, classId, kind: 'class', geometry: null, source: 'human', author: 'test' });
    }
  }
  const trained = await core.training.train(ds.id, 'classification', { epochs: 2, batchSize: 8, inputSize: 16, backend: 'wasm' });
  assert.equal(trained.outcome.status, 'done', JSON.stringify(trained.outcome));
  await exportAndImport(trained.runId, 'ct-or-mr');
  for (const split of ['val', 'all'] as const) {
    const run = await evaluateRun(core, trained.runId, { split, store: false });
    const model = await evaluateWithModel(core.modelPredictDeps(), 'ct-or-mr', { datasetId: ds.id, ...(split === 'all' ? {} : { split }) });
    assert.equal(model.task, 'classification');
    assert.ok(run.task === 'classification' && model.task === 'classification');
    assert.ok(run.n > 0);
    const { source: _a, images: _i, ...r } = run;
    const { source: _b, ...m } = model as typeof model & { images?: unknown };
    delete (m as { images?: unknown }).images;
    close(m, r, split);
  }
});

test('detection and segmentation: the re-imported export proposes exactly what the run proposes', async () => {
  // Detection: synthetic road scenes with boxes.
  const roadDir = join(work.dir, 'road');
  const road = await writeSyntheticRoadScenes(roadDir, { count: 10, width: 160, height: 120, seed: 11 });
  const rds = core.datasets.create('Road', '');
  await core.importFiles({ datasetId: rds.id, paths: [join(roadDir, 'images')] });
  await core.importLabels(rds.id, join(roadDir, road.annotationsFile), 'coco', 'test', { cocoGeometry: 'box' });
  const det = await core.training.train(rds.id, 'detection', { epochs: 1, batchSize: 4, inputSize: 64, backend: 'wasm' });
  assert.equal(det.outcome.status, 'done', JSON.stringify(det.outcome));
  await exportAndImport(det.runId, 'road-boxes');
  await runPredict(core, det.runId, { datasetId: rds.id, minScore: 0.05 });
  await predictWithModel(core.modelPredictDeps(), 'road-boxes', { datasetId: rds.id, minScore: 0.05 });
  const boxes = sameProposals(proposals(rds.id, `model:run-${det.runId}`), proposals(rds.id, 'model:road-boxes'));

  // Segmentation: synthetic CT lesions.
  const ctDir = join(work.dir, 'ct');
  const m = await writeSyntheticCtStudies(ctDir, { patients: 5, slicesPerSeries: 8, size: 64, seed: 5 });
  const cds = core.datasets.create('CT lesions', '');
  await core.importFiles({ datasetId: cds.id, paths: [ctDir] });
  await core.importLabels(cds.id, ctDir, 'masks', 'test', { classes: ['background', 'lesion'] });
  const seg = await core.training.train(cds.id, 'segmentation', { epochs: 1, batchSize: 4, inputSize: 32, backend: 'wasm' });
  assert.equal(seg.outcome.status, 'done', JSON.stringify(seg.outcome));
  await exportAndImport(seg.runId, 'ct-lesions');
  await runPredict(core, seg.runId, { datasetId: cds.id });
  await predictWithModel(core.modelPredictDeps(), 'ct-lesions', { datasetId: cds.id });
  const masks = sameProposals(proposals(cds.id, `model:run-${seg.runId}`), proposals(cds.id, 'model:ct-lesions'));
  process.stdout.write(`# identical proposals: ${boxes} boxes on ${road.images.length} road scenes, ${masks} masks on ${m.patients.length * 8} CT slices\n`);

  // Where the run's own evaluation scores in image pixels, the two evaluations agree.
  for (const [runId, name, datasetId] of [[det.runId, 'road-boxes', rds.id], [seg.runId, 'ct-lesions', cds.id]] as const) {
    const run = await evaluateRun(core, runId, { split: 'all', datasetId, store: false });
    if (run.source.coordinates !== 'image') continue;
    const model = await evaluateWithModel(core.modelPredictDeps(), name, { datasetId });
    const { source: _a, ...r } = run;
    const { source: _b, ...mm } = model;
    close(mm, r, name);
  }
});

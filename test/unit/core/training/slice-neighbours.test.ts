/**
 * 2.5-D (TrainConfig.slices '2.5d'): neighbour slices as channels.
 * - Order on real series: pydicom's CT5N numbers its slices 6..10 while
 *   their positions along the normal DEcrease (instance order is the reverse
 *   of position order), and MR700 numbers them out of order (instance 7 lies
 *   between 4 and 5): neighbours follow the position, the ends repeat the
 *   edge slice, and the 3 channels are [below, slice, above] as decoded alone.
 * - A short real planned training on a small CT series (77654033/CT2, 4
 *   slices, median 1.25 mm apart for 0.49 mm pixels, copied for three
 *   patients so the splits can differ): the plan applies 2.5-D, the
 *   run stores it with 3 input channels, patches carry the same 3 channels,
 *   evaluation and prediction feed the
 *   neighbours, and the exported model card says 2.5-D with its order.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import type { Batch, TaskKind } from '../../../../electron/contract/ml';
import { evaluateRun } from '../../../../electron/core/evaluation/evaluate-run';
import { exportModel, MODEL_CARD_NAME, type ModelCard } from '../../../../electron/core/export/model-export';
import { exportTraining } from '../../../../electron/core/export/training-export';
import { predictImages, runPredict } from '../../../../electron/core/predict/predict-service';
import { applyPlan, planRecipe, type DatasetFacts } from '../../../../electron/core/training/recipe-plan';
import { createLibraryBatchProvider } from '../../../../electron/core/training/library-batch-provider';
import { decodeImage, loadSample } from '../../../../electron/core/training/sample-loader';
import { neighbourIndices, withNeighbours } from '../../../../electron/core/training/slice-neighbours';
import { collectSamples, type SampleSource } from '../../../../electron/core/training/training-samples';
import { defaultTrainConfig } from '../../../../native-models/models/defaults';
import { SHARED_TESTDATA } from '../../../helpers/paths';
import { ctSeriesForThreePatients, importThreePatientSeries } from '../../../helpers/ct-series-patients';
import { requireTool } from '../../../helpers/reference-tools';
import { tempCore } from '../../../helpers/temp-library';

const DIRS = join(SHARED_TESTDATA, 'dicom', 'pydicom', 'dicomdirtests');

interface Row {
  id: number;
  sha: string;
  rows: number;
  columns: number;
  instance: number;
  position: number;
}

async function importSeries(dir: string, name: string) {
  const { core, cleanup } = tempCore();
  const ds = core.datasets.create(name, '');
  // Import in reverse file order: nothing may depend on the order files arrive in.
  const files = readdirSync(dir).sort().reverse().map((f) => join(dir, f));
  const imp = await core.importFiles({ datasetId: ds.id, paths: files });
  assert.equal(imp.counts.imported, files.length);
  const rows = core.db
    .prepare('SELECT id, blob_sha256 AS sha, rows, columns, instance_number AS instance, slice_position AS position FROM items WHERE dataset_id = ? ORDER BY id')
    .all(ds.id) as Row[];
  const sources: SampleSource[] = rows.map((r) => ({ itemId: r.id, frameIndex: 0, kind: 'dicom', blobSha256: r.sha, width: r.columns, height: r.rows, colour: false, patientKey: null }));
  return { core, cleanup, datasetId: ds.id, rows, sources };
}

test('neighbour order follows the position along the normal, not the instance number; the ends repeat the edge slice', async (t) => {
  assert.deepEqual(neighbourIndices(5, 0), [0, 1]);
  assert.deepEqual(neighbourIndices(5, 4), [3, 4]);
  assert.deepEqual(neighbourIndices(1, 0), [0, 0]);
  for (const [dir, expectInstances] of [
    // Positions 8.76, 6.26, 3.76, 1.26, -1.24 mm for instances 6..10.
    [join(DIRS, '98892001', 'CT5N'), [10, 9, 8, 7, 6]],
    // Positions 3.36, 6.99, 10.05, 12.30, 13.55, 13.70, 12.75 mm for instances 1..7.
    [join(DIRS, '98892003', 'MR700'), [1, 2, 3, 4, 7, 5, 6]],
  ] as const) {
    const { core, cleanup, rows, sources } = await importSeries(dir, 'series');
    t.after(cleanup);
    const byPosition = [...rows].sort((a, b) => a.position - b.position);
    assert.deepEqual(byPosition.map((r) => r.instance), expectInstances, `${dir}: the instances in position order`);
    const byInstance = [...rows].sort((a, b) => a.instance - b.instance);
    assert.notDeepEqual(byPosition.map((r) => r.id), byInstance.map((r) => r.id), 'a case where the two orders differ');
    const withN = withNeighbours(core.db, sources);
    const instanceOf = new Map(rows.map((r) => [r.id, r.instance]));
    for (const s of withN) {
      const i = byPosition.findIndex((r) => r.id === s.itemId);
      const below = byPosition[Math.max(0, i - 1)] as Row;
      const above = byPosition[Math.min(byPosition.length - 1, i + 1)] as Row;
      assert.equal(s.neighbours?.below.itemId, below.id, `below instance ${instanceOf.get(s.itemId)}`);
      assert.equal(s.neighbours?.above.itemId, above.id, `above instance ${instanceOf.get(s.itemId)}`);
    }
    // The 3 channels: [below, slice, above], each decoded and normalised alone; at the lowest slice, below is itself.
    const grey = new Map<number, Float32Array>();
    for (const s of sources) grey.set(s.itemId, (await decodeImage(core.blobs, s, { kind: 'per-image' }, 1)).data);
    for (const s of withN) {
      const img = await decodeImage(core.blobs, s, { kind: 'per-image' }, 3);
      assert.equal(img.channels, 3);
      const want = [s.neighbours?.below.itemId, s.itemId, s.neighbours?.above.itemId].map((id) => grey.get(id as number) as Float32Array);
      for (let p = 0; p < img.width * img.height; p++) {
        for (let c = 0; c < 3; c++) assert.equal(img.data[p * 3 + c], (want[c] as Float32Array)[p]);
      }
    }
    const lowest = withN.find((s) => s.itemId === (byPosition[0] as Row).id);
    assert.equal(lowest?.neighbours?.below.itemId, lowest?.itemId, 'the lowest slice repeats itself below');
    const highest = withN.find((s) => s.itemId === (byPosition.at(-1) as Row).id);
    assert.equal(highest?.neighbours?.above.itemId, highest?.itemId, 'the highest slice repeats itself above');
    // A plain image (no series) is its own neighbour both ways.
    const [plain] = withNeighbours(core.db, [{ ...(sources[0] as SampleSource), itemId: 999_999, kind: 'image' }]);
    assert.equal(plain?.neighbours?.below.itemId, 999_999);
  }
});

test('the planner applies 2.5-D to segmentation only, and says so; applyPlan gives 3 channels', () => {
  const facts = (task: TaskKind): DatasetFacts => ({
    task,
    classNames: task === 'segmentation' ? ['background', 'organ'] : ['a', 'b'],
    channels: 1,
    images: Array.from({ length: 12 }, () => ({ width: 64, height: 64 })),
    modality: 'CT',
    objectSizes: [],
    classFractions: [0.5, 0.5],
    foregroundHu: null,
    slices: { series: 3, medianSlices: 4, sliceSpacing: 1.25, pixelSpacing: 0.49 },
  });
  const seg = planRecipe(facts('segmentation'), { defaults: defaultTrainConfig('segmentation', ['background', 'organ'], 1) });
  assert.deepEqual(seg.slices.value, { recommended: '2.5d', applied: '2.5d' });
  const config = applyPlan(defaultTrainConfig('segmentation', ['background', 'organ'], 1), seg);
  assert.equal(config.channels, 3);
  assert.equal(config.slices, '2.5d');
  for (const task of ['classification', 'detection'] as const) {
    const plan = planRecipe(facts(task), { defaults: defaultTrainConfig(task, ['a', 'b'], 1) });
    assert.deepEqual(plan.slices.value, { recommended: '2.5d', applied: '2d' });
    assert.match(plan.slices.reason, /applied to segmentation only/);
    const c = applyPlan(defaultTrainConfig(task, ['a', 'b'], 1), plan);
    assert.equal(c.channels, 1);
    assert.equal(c.slices, undefined);
  }
});

test('a planned run on a small CT series applies 2.5-D: stored, trained with 3 channels, evaluated, predicted and exported with it', async (t) => {
  requireTool('pydicom');
  const dir = ctSeriesForThreePatients();
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const { core, cleanup } = tempCore();
  t.after(cleanup);
  const { datasetId, rows, seriesIds } = await importThreePatientSeries(core, dir);
  const sources: SampleSource[] = rows.map((r) => ({ itemId: r.id, frameIndex: 0, kind: 'dicom', blobSha256: r.sha, width: r.columns, height: r.rows, colour: false, patientKey: null }));
  const byPosition = rows.filter((r) => r.series === seriesIds[2]).sort((a, b) => a.position - b.position);

  const { plan } = await core.training.plan(datasetId, 'segmentation');
  assert.deepEqual(plan.slices.value, { recommended: '2.5d', applied: '2.5d' });
  assert.match(plan.slices.reason, /slice below, the slice and the slice above/);
  const { runId, outcome } = await core.training.train(datasetId, 'segmentation', { recipe: 'planned', backend: 'wasm', epochs: 2, batchSize: 2 });
  assert.equal(outcome.status, 'done', JSON.stringify(outcome.error));
  const config = core.runs.get(runId).config;
  assert.equal(config.slices, '2.5d');
  assert.equal(config.channels, 3);
  assert.equal(config.plan?.slices.value.applied, '2.5d');

  // Patch training cuts the same 3 channels: a 16 px val patch of a 16 px slice is [below, slice, above] as decoded alone.
  const provider = createLibraryBatchProvider(
    { blobs: core.blobs, db: core.db },
    { samples: withNeighbours(core.db, collectSamples(core.db, datasetId, 'segmentation').samples), splits: core.splits.splitMap(datasetId), config: { ...config, inputSize: 16, batchSize: 4, patch: { foregroundProbability: 0, patchesPerImage: 1 } } },
  );
  t.after(() => provider.dispose());
  const val = await provider.batch('val', 1, 0);
  const first = sources.find((s) => s.itemId === val.itemIds[0]) as SampleSource;
  const [firstN] = withNeighbours(core.db, [first]);
  const stacked = await decodeImage(core.blobs, firstN as SampleSource, config.normalization, 3);
  assert.deepEqual(val.x.subarray(0, 16 * 16 * 3), stacked.data);
  const below = await decodeImage(core.blobs, { ...first, itemId: firstN?.neighbours?.below.itemId as number, blobSha256: firstN?.neighbours?.below.blobSha256 as string }, config.normalization, 1);
  assert.deepEqual(Float32Array.from({ length: 256 }, (_, p) => stacked.data[p * 3] as number), below.data);

  const ev = await evaluateRun(core, runId);
  assert.ok('images' in ev);
  assert.equal((ev.images as unknown[]).length, 4, 'the test series');

  // Prediction feeds the neighbours: the same as the model on [below, slice, above] built by hand.
  const checkpoint = join(core.training.checkpointDir(runId), 'best');
  const target = sources.find((s) => s.itemId === (byPosition[2] as Row).id) as SampleSource;
  const got = [];
  for await (const batch of predictImages(core, { config, checkpoint }, [target])) got.push(...batch);
  const [withN] = withNeighbours(core.db, [target]);
  assert.equal(withN?.neighbours?.below.itemId, (byPosition[1] as Row).id);
  assert.equal(withN?.neighbours?.above.itemId, (byPosition[3] as Row).id);
  const loaded = await loadSample(core.blobs, { ...(withN as SampleSource), target: { task: 'segmentation', shapes: [] }, annotations: [] }, { task: 'segmentation', inputSize: config.inputSize, normalization: config.normalization, channels: 3 });
  const batch: Batch = { x: loaded.x, n: 1, targets: { task: 'segmentation', masks: new Uint8Array(config.inputSize ** 2) }, itemIds: [target.itemId] };
  const [direct] = await core.ml.predict(checkpoint, config, batch);
  assert.ok(direct?.task === 'segmentation' && got[0]?.prediction.task === 'segmentation');
  assert.deepEqual(got[0].prediction.classes, direct.classes);
  assert.deepEqual(got[0].prediction.confidence, direct.confidence);
  // ... and not the same as one slice repeated in 3 channels (what a 2D input would be).
  const flat = await loadSample(core.blobs, { ...target, target: { task: 'segmentation', shapes: [] }, annotations: [] }, { task: 'segmentation', inputSize: config.inputSize, normalization: config.normalization, channels: 3 });
  assert.notDeepEqual(flat.x, loaded.x);
  const [repeated] = await core.ml.predict(checkpoint, config, { ...batch, x: flat.x });
  assert.ok(repeated?.task === 'segmentation');
  assert.notDeepEqual(repeated.confidence, direct.confidence, 'the neighbours change the prediction');
  const report = await runPredict(core, runId, { datasetId });
  assert.equal(report.images, 12);
  assert.equal(report.failures.length, 0);

  const out = mkdtempSync(join(tmpdir(), 'fovea-25d-export-'));
  t.after(() => rmSync(out, { recursive: true, force: true }));
  await exportModel(core, { runId, format: 'tfjs', outDir: out });
  const card = JSON.parse(readFileSync(join(out, MODEL_CARD_NAME), 'utf8')) as ModelCard;
  assert.equal(card.input.channels, 3);
  assert.equal(card.input.channelOrder, 'slices');
  assert.equal(card.preprocessing.slices.mode, '2.5d');
  assert.deepEqual(card.preprocessing.slices.channels, ['slice below', 'slice', 'slice above']);
  assert.match(card.preprocessing.slices.description, /Image Position \(Patient\) projected on the slice normal/);
  // The PyTorch training export carries a 2.5-D run: each sample lists its neighbours, in the order above, and the plan says 2.5-D.
  const torch = await exportTraining(core.trainingExportDeps(), { datasetId, task: 'segmentation', target: 'pytorch', outDir: join(out, 'pytorch'), splitFromRun: runId });
  const exported = JSON.parse(readFileSync(join(torch.root, 'dataset.json'), 'utf8')) as { samples: { item: number; neighbours?: { item: number }[] }[] };
  const second = exported.samples.find((x) => x.item === (byPosition[2] as Row).id);
  assert.deepEqual(second?.neighbours?.map((n) => n.item), [(byPosition[1] as Row).id, (byPosition[3] as Row).id]);
  assert.equal((JSON.parse(readFileSync(join(torch.root, 'plan.json'), 'utf8')) as { slices: string }).slices, '2.5d');
});

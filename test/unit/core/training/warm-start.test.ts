/**
 * Warm starts end to end through the core (real training on the wasm backend, 12x12 grey PNGs at
 * 16 px): a run started from a trained run on the same data begins with a lower first-epoch
 * validation loss than a run from scratch with the same seed; the run records what was loaded
 * (config.warmStart, the audit's train.start, the report's facts); other class names load all but the head; weights
 * that do not fit are refused as the request's VALIDATION error naming the layer, before any run
 * exists; a TF.js layers model folder (a Fovea TF.js export) warm-starts the same way (classes
 * and input size from its model card; no path in the audit; ONNX sources: onnx-warm-start.test.ts); `fovea train --from-run` and
 * `--from-model` are parsed into the same request fields.
 */
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import sharp from 'sharp';
import { UsageError } from '../../../../electron/cli/cli-context';
import { parseRunStartOptions } from '../../../../electron/cli/commands/runs';
import { parseFromModel } from '../../../../electron/cli/commands/train';
import { describeWarmStart } from '../../../../electron/contract/runs';
import { runReportModel } from '../../../../electron/core/report/report-export';
import { createRandom } from '../../../../electron/core/samples/seeded-random';
import { tempCore } from '../../../helpers/temp-library';

/** n grey images, bright or dark, labelled with `names` [dark, bright]; returns the labels CSV. */
async function writeImages(dir: string, n: number, names: [string, string]): Promise<string> {
  mkdirSync(dir, { recursive: true });
  const r = createRandom('warm');
  const rows = ['filename,label'];
  for (let i = 0; i < n; i++) {
    const k = i % 2;
    const px = Buffer.from(Array.from({ length: 144 }, () => Math.max(0, Math.min(255, Math.round((k ? 150 : 105) + r.normal(0, 40))))));
    const name = `img_${String(i).padStart(3, '0')}.png`;
    writeFileSync(join(dir, name), await sharp(px, { raw: { width: 12, height: 12, channels: 1 } }).png().toBuffer());
    rows.push(`${name},${names[k]}`);
  }
  const csv = join(dir, '..', `${names.join('-')}.csv`);
  writeFileSync(csv, `${rows.join('\n')}\n`);
  return csv;
}

const base = { batchSize: 8, backend: 'wasm' as const, augment: { flipHorizontal: false, rotateDegrees: 0, scale: 0, intensity: 0 } };
let lib: ReturnType<typeof tempCore>;
let shades = 0;
let tones = 0;
/** The earlier run every test starts from: 4 epochs on Shades at 16 px. */
let source: { runId: number };
/** What a warm start from it loads with the same classes. */
let layersLoaded = 0;

before(async () => {
  lib = tempCore();
  const { core, dir } = lib;
  const datasets: number[] = [];
  for (const [dsName, names] of [['Shades', ['dark', 'bright']], ['Tones', ['shadow', 'light']]] as const) {
    const imgDir = join(dir, dsName);
    const csv = await writeImages(imgDir, 40, [names[0], names[1]]);
    const ds = core.datasets.create(dsName, '');
    await core.importFiles({ datasetId: ds.id, paths: [imgDir] });
    await core.importLabels(ds.id, csv, 'csv', 'test');
    const items = (core.db.prepare('SELECT id FROM items WHERE dataset_id = ? ORDER BY id').all(ds.id) as { id: number }[]).map((i) => i.id);
    core.splits.setSplit(ds.id, items.filter((_, i) => i % 4 === 0), 'val');
    core.splits.setSplit(ds.id, items.filter((_, i) => i % 4 !== 0), 'train');
    datasets.push(ds.id);
  }
  [shades, tones] = datasets as [number, number];
  const trained = await core.training.train(shades, 'classification', { ...base, inputSize: 16, epochs: 4, seed: 1, learningRate: 0.01, earlyStoppingPatience: 0 });
  assert.equal(trained.outcome.status, 'done', JSON.stringify(trained.outcome));
  source = trained;
});
after(() => lib?.cleanup());

test('warm start: lower first-epoch validation loss than from scratch with the same seed, recorded and audited; new classes get a new head', { timeout: 120_000 }, async (t) => {
  const { core } = lib;
  // The same seed, one epoch each: from run `source` (its input size by default) and from scratch.
  const warm = await core.training.train(shades, 'classification', { ...base, epochs: 1, seed: 7, warmStartRunId: source.runId });
  const scratch = await core.training.train(shades, 'classification', { ...base, inputSize: 16, epochs: 1, seed: 7 });
  assert.equal(warm.outcome.status, 'done', JSON.stringify(warm.outcome));
  const warmRun = core.runDetail(warm.runId);
  const scratchRun = core.runDetail(scratch.runId);
  assert.equal(warmRun.config.inputSize, 16, 'the source run\'s input size');
  const [w1, s1] = [warmRun.epochCurve[0]?.valLoss ?? NaN, scratchRun.epochCurve[0]?.valLoss ?? NaN];
  t.diagnostic(`first-epoch validation loss: warm start ${w1.toFixed(4)}, from scratch ${s1.toFixed(4)}`);
  assert.ok(w1 < s1, `first-epoch validation loss: warm ${w1} vs scratch ${s1}`);
  const ws = warmRun.config.warmStart;
  assert.ok(ws);
  assert.equal(ws.runId, source.runId);
  assert.equal(ws.layersNew, 0);
  assert.ok(ws.layersLoaded >= 6, JSON.stringify(ws));
  assert.equal(scratchRun.config.warmStart ?? null, null);
  assert.equal(describeWarmStart(ws), `started from run ${source.runId} (all ${ws.layersLoaded} layers loaded)`);
  layersLoaded = ws.layersLoaded;
  const audit = core.db.prepare("SELECT details FROM audit_log WHERE action = 'train.start' AND object_id = ?").get(String(warm.runId)) as { details: string };
  assert.deepEqual(JSON.parse(audit.details).warmStart, { runId: source.runId, layersLoaded: ws.layersLoaded, layersNew: 0 });

  // Other classes (another dataset): everything but the head.
  const transfer = await core.training.train(tones, 'classification', { ...base, epochs: 1, seed: 7, warmStartRunId: source.runId });
  assert.equal(transfer.outcome.status, 'done', JSON.stringify(transfer.outcome));
  const tw = core.runs.get(transfer.runId).config.warmStart;
  assert.deepEqual(tw && { layersLoaded: tw.layersLoaded, layersNew: tw.layersNew, newLayers: tw.newLayers }, { layersLoaded: ws.layersLoaded - 1, layersNew: 1, newLayers: ['probabilities'] });
  assert.ok(tw);
  assert.match(describeWarmStart(tw), /head new/);

  // The report says where the run began.
  const report = await runReportModel(core, transfer.runId, 'val');
  assert.deepEqual(report.model.facts.find(([k]) => k === 'Weights'), ['Weights', `started from run ${source.runId} (${tw.layersLoaded} layers loaded, head new)`]);

});

test('warm start from a TF.js layers model folder (a Fovea export): classes and input size from its card, no path in the audit; a missing ONNX file and relative paths refused', { timeout: 120_000 }, async () => {
  const { core, dir } = lib;
  assert.ok(layersLoaded > 0, 'the first test ran');
  const ws = { layersLoaded };
  // From a TF.js layers model folder (a Fovea TF.js export of the source run, classes from its model card).
  const outDir = join(dir, 'exported', 'shades-tfjs');
  const exported = await core.dispatch('models.export', { runId: source.runId, format: 'tfjs', outDir });
  assert.ok(exported.ok, JSON.stringify(exported));
  const fromModel = await core.training.train(shades, 'classification', { ...base, epochs: 1, seed: 7, warmStartModelPath: join(outDir, 'model.json') });
  assert.equal(fromModel.outcome.status, 'done', JSON.stringify(fromModel.outcome));
  const mw = core.runs.get(fromModel.runId).config.warmStart;
  assert.ok(mw);
  assert.deepEqual([mw.runId, mw.model, mw.layersLoaded, mw.layersNew, core.runs.get(fromModel.runId).config.inputSize], [null, 'shades-tfjs', ws.layersLoaded, 0, 16]);
  assert.equal(describeWarmStart(mw), `started from model shades-tfjs (all ${ws.layersLoaded} layers loaded)`);
  const modelAudit = core.db.prepare("SELECT details FROM audit_log WHERE action = 'train.start' AND object_id = ?").get(String(fromModel.runId)) as { details: string };
  assert.equal(JSON.parse(modelAudit.details).warmStart.model, 'shades-tfjs');
  assert.ok(!modelAudit.details.includes(outDir), 'no path in the audit log');
  const otherClasses = await core.training.checkWarmStartRequest(tones, 'classification', { warmStartModelPath: outDir });
  assert.deepEqual(otherClasses?.newLayers, ['probabilities']);
  await assert.rejects(core.training.checkWarmStartRequest(shades, 'classification', { warmStartModelPath: join(dir, 'nothing', 'model.onnx') }), /There is no ONNX model at .*model\.onnx\./);
  await assert.rejects(core.training.checkWarmStartRequest(shades, 'classification', { warmStartModelPath: join(dir, 'nothing') }), /no model\.json\)\. An ONNX model is given by its \.onnx file, or imported and chosen by name\./);
  await assert.rejects(core.training.checkWarmStartRequest(shades, 'classification', { warmStartModelPath: 'relative/dir' }), /not an absolute path/);
  await assert.rejects(core.training.checkWarmStartRequest(shades, 'segmentation', { warmStartModelPath: outDir }), /is a classification model/);

});

test('warm start misfits are the request\'s VALIDATION error naming the layer, before any run exists; the CLI flags', { timeout: 60_000 }, async () => {
  const { core } = lib;
  // Misfits: the request's answer, and no run is created.
  const runsBefore = core.runs.list().length;
  const bigger = await core.dispatch('training.start', { datasetId: shades, task: 'classification', inputSize: 64, epochs: 1, backend: 'wasm', warmStartRunId: source.runId });
  assert.ok(!bigger.ok);
  assert.equal(bigger.error.code, 'VALIDATION');
  assert.match(bigger.error.message, /^Cannot start from run \d+: layer "block2_conv" of the new model has no weights in run \d+ .* Run \d+ was trained at 16 px: leave the input size empty to use it\.$/);
  const detect = await core.dispatch('training.start', { datasetId: shades, task: 'segmentation', epochs: 1, warmStartRunId: source.runId });
  assert.ok(!detect.ok);
  assert.match(detect.error.message, /is a classification run/);
  const missing = await core.dispatch('training.start', { datasetId: shades, task: 'classification', epochs: 1, warmStartRunId: 999 });
  assert.ok(!missing.ok);
  assert.equal(missing.error.code, 'NOT_FOUND');
  await assert.rejects(core.training.train(shades, 'classification', { ...base, inputSize: 64, epochs: 1, warmStartRunId: source.runId }), /layer "block2_conv"/);
  assert.equal(core.runs.list().length, runsBefore, 'no run was created');

  // The CLI flag is the same request field.
  assert.deepEqual(parseRunStartOptions({ 'from-run': '3' }), { warmStartRunId: 3 });
  assert.throws(() => parseRunStartOptions({ 'from-run': 'best' }), UsageError);
  assert.throws(() => parseRunStartOptions({ 'from-run': '0' }), /--from-run takes the id of a finished run/);
  assert.deepEqual(parseFromModel('/models/chest'), { warmStartModelPath: '/models/chest' });
  assert.deepEqual(parseFromModel(undefined), {});
  assert.throws(() => parseFromModel(' '), UsageError);
});

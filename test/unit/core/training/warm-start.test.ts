/**
 * Warm starts end to end through the core (real training on the wasm backend, 12x12 grey PNGs at
 * 16 px): a run started from a trained run on the same data begins with a lower first-epoch
 * validation loss than a run from scratch with the same seed; the run records what was loaded
 * (config.warmStart, the audit's train.start, the report's facts); other class names load all but the head; weights
 * that do not fit are refused as the request's VALIDATION error naming the layer, before any run
 * exists; `fovea train --from-run` is parsed into the same request field.
 */
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import sharp from 'sharp';
import { UsageError } from '../../../../electron/cli/cli-context';
import { parseRunStartOptions } from '../../../../electron/cli/commands/runs';
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

test('warm start: lower first-epoch validation loss than from scratch, recorded and audited; new classes get a new head; misfits refused before a run exists', { timeout: 240_000 }, async (t) => {
  const { core, dir, cleanup } = tempCore();
  t.after(cleanup);
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
  const [shades, tones] = datasets as [number, number];
  const base = { batchSize: 8, backend: 'wasm' as const, augment: { flipHorizontal: false, rotateDegrees: 0, scale: 0, intensity: 0 } };

  const source = await core.training.train(shades, 'classification', { ...base, inputSize: 16, epochs: 4, seed: 1, learningRate: 0.01, earlyStoppingPatience: 0 });
  assert.equal(source.outcome.status, 'done', JSON.stringify(source.outcome));

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
});

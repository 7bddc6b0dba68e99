/**
 * End to end: a tiny classifier (synthetic 12x12 grey PNGs, "dark" vs
 * "bright", one epoch on the wasm backend) trained through the core's
 * training service, then
 * - evaluateRun on its test split: the documented JSON, stored with the run,
 *   and equal to scikit-learn on the run's own predictions (to 1e-6);
 * - evaluateRun on the val split and on another dataset with the same
 *   classes (and refused on a dataset with another class);
 * - evaluatePredictions with a CSV (probability columns, and a `label`
 *   column), scored against the library's labels;
 * - the CLI command's --json output and table.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import sharp from 'sharp';
import { evaluateOptions, runEvaluate } from '../../../../electron/cli/commands/evaluate';
import type { CliContext } from '../../../../electron/cli/cli-context';
import type { ClassificationMetrics } from '../../../../electron/core/evaluation/classification-metrics';
import { evaluatePredictions } from '../../../../electron/core/evaluation/evaluate-predictions';
import { evaluateRun, readStoredEvaluation, type ClassificationImageResult } from '../../../../electron/core/evaluation/evaluate-run';
import { createRandom } from '../../../../electron/core/samples/seeded-random';
import { REPO_ROOT } from '../../../helpers/paths';
import { PYTHON, requireTool } from '../../../helpers/reference-tools';
import { tempCore } from '../../../helpers/temp-library';


async function writeImages(dir: string, n: number, seed: string, classes = ['dark', 'bright']): Promise<string> {
  mkdirSync(dir, { recursive: true });
  const r = createRandom(seed);
  const rows = ['filename,label'];
  for (let i = 0; i < n; i++) {
    const k = i % classes.length;
    const base = k === 0 ? 60 : 190;
    const px = Buffer.from(Array.from({ length: 144 }, () => Math.max(0, Math.min(255, Math.round(base + r.normal(0, 40))))));
    const name = `img_${String(i).padStart(3, '0')}.png`;
    writeFileSync(join(dir, name), await sharp(px, { raw: { width: 12, height: 12, channels: 1 } }).png().toBuffer());
    rows.push(`${name},${classes[k]}`);
  }
  const csv = join(dir, '..', `${seed}-labels.csv`);
  writeFileSync(csv, `${rows.join('\n')}\n`);
  return csv;
}

function cliContext(core: CliContext['core'] extends () => infer C ? C : never, json: boolean): { ctx: CliContext; out: string[] } {
  const out: string[] = [];
  const ctx: CliContext = {
    json,
    libraryDir: '',
    core: () => core,
    out: (t) => out.push(t),
    jsonLine: (v) => out.push(JSON.stringify(v)),
    err: () => undefined,
    isTty: false,
    close: () => undefined,
  };
  return { ctx, out };
}

test('evaluate a tiny trained classifier: stored JSON, sklearn parity, other splits and datasets, CSV predictions, CLI', { timeout: 120_000 }, async (t) => {
  const { core, dir, cleanup } = tempCore();
  t.after(cleanup);
  const csv = await writeImages(join(dir, 'a'), 40, 'a');
  const ds = core.datasets.create('Shades', '');
  const imp = await core.importFiles({ datasetId: ds.id, paths: [join(dir, 'a')] });
  assert.equal(imp.counts.failed, 0);
  await core.importLabels(ds.id, csv, 'csv', 'test');
  const items = core.db.prepare('SELECT id, source_name FROM items WHERE dataset_id = ? ORDER BY source_name').all(ds.id) as { id: number; source_name: string }[];
  const by = (m: number) => items.filter((_, i) => i % 4 === m).map((i) => i.id);
  core.splits.setSplit(ds.id, by(0), 'test');
  core.splits.setSplit(ds.id, by(1), 'val');
  core.splits.setSplit(ds.id, [...by(2), ...by(3)], 'train');

  const { runId, outcome } = await core.training.train(ds.id, 'classification', { epochs: 1, inputSize: 16, batchSize: 8, backend: 'wasm', seed: 3 });
  assert.ok(outcome.status === 'done' || outcome.status === 'stopped-early', JSON.stringify(outcome));

  // --- Test split: the documented shape, stored with the run.
  const report = await evaluateRun(core, runId);
  assert.equal(report.task, 'classification');
  if (report.task !== 'classification') return;
  const classes = core.runs.get(runId).config.classNames;
  assert.deepEqual(classes, ['dark', 'bright']);
  assert.equal(report.n, 10);
  assert.equal(typeof report.accuracy, 'number');
  assert.deepEqual(Object.keys(report.macro).sort(), ['f1', 'precision', 'recall']);
  assert.deepEqual(Object.keys(report.perClass), classes);
  for (const m of Object.values(report.perClass)) assert.deepEqual(Object.keys(m).sort(), ['f1', 'precision', 'recall', 'support']);
  assert.equal(Object.values(report.perClass).reduce((a, m) => a + m.support, 0), 10);
  assert.deepEqual(report.confusionMatrix?.labels, classes);
  assert.deepEqual(report.confusionMatrix?.matrix.map((row) => row.reduce((a, b) => a + b, 0)), classes.map((c) => report.perClass[c]?.support));
  assert.deepEqual(Object.keys(report.auc.perClass), classes);
  assert.ok(report.auc.macro === null || (report.auc.macro >= 0 && report.auc.macro <= 1));
  assert.equal(report.source.split, 'test');
  assert.equal(report.source.coordinates, 'input');
  assert.equal(report.images.length, 10);
  const stored = join(core.training.checkpointDir(runId), 'evaluation-test.json');
  assert.equal(report.source.storedAt, stored);
  assert.ok(existsSync(stored));
  assert.deepEqual(JSON.parse(readFileSync(stored, 'utf8')), JSON.parse(JSON.stringify(report)));
  assert.deepEqual(readStoredEvaluation(core, runId, 'test'), JSON.parse(JSON.stringify(report)));
  // Every test item once, in item order.
  const testIds = new Set(by(0));
  assert.deepEqual(report.images.map((i) => i.itemId), [...testIds].sort((a, b) => a - b));

  // --- The same numbers as scikit-learn on these predictions.
  const imgs: ClassificationImageResult[] = report.images;
  requireTool('sklearn');
  const cases = [{ name: 'run', multiLabel: false, numClasses: 2, yTrue: imgs.map((i) => i.truth[0]), probabilities: imgs.map((i) => i.probabilities) }];
  const run = spawnSync(PYTHON, [join(REPO_ROOT, 'test', 'reference', 'sklearn_metrics.py')], { input: JSON.stringify({ cases }), encoding: 'utf8' });
  assert.equal(run.status, 0, run.stderr);
  const ref = (JSON.parse(run.stdout) as { cases: { accuracy: number; macro: Record<string, number>; auc: (number | null)[]; aucMacro: number | null; confusion: number[][] }[] }).cases[0];
  assert.ok(ref);
  assert.ok(Math.abs(report.accuracy - ref.accuracy) < 1e-6);
  for (const k of ['precision', 'recall', 'f1'] as const) assert.ok(Math.abs(report.macro[k] - (ref.macro[k] as number)) < 1e-6, k);
  assert.deepEqual(report.confusionMatrix?.matrix, ref.confusion);
  if (ref.aucMacro === null) assert.equal(report.auc.macro, null);
  else assert.ok(Math.abs((report.auc.macro as number) - ref.aucMacro) < 1e-6);

  // --- The val split, stored under its own name.
  const val = await evaluateRun(core, runId, { split: 'val' });
  assert.equal(val.n, 10);
  assert.ok(existsSync(join(core.training.checkpointDir(runId), 'evaluation-val.json')));

  // --- Another dataset with the same classes: every labelled image by default.
  const csvB = await writeImages(join(dir, 'b'), 8, 'b');
  const dsB = core.datasets.create('Shades B', '');
  await core.importFiles({ datasetId: dsB.id, paths: [join(dir, 'b')] });
  await core.importLabels(dsB.id, csvB, 'csv', 'test');
  const other = await evaluateRun(core, runId, { datasetId: dsB.id });
  assert.equal(other.n, 8);
  assert.equal(other.source.split, 'all');
  assert.equal(other.source.ownDataset, false);
  assert.ok(existsSync(join(core.training.checkpointDir(runId), `evaluation-all-dataset${dsB.id}.json`)));
  // ... and refused when that dataset has a class the run does not know.
  const csvC = await writeImages(join(dir, 'c'), 6, 'c', ['dark', 'bright', 'grey']);
  const dsC = core.datasets.create('Shades C', '');
  await core.importFiles({ datasetId: dsC.id, paths: [join(dir, 'c')] });
  await core.importLabels(dsC.id, csvC, 'csv', 'test');
  await assert.rejects(evaluateRun(core, runId, { datasetId: dsC.id }), (e: Error & { code?: string }) => e.code === 'VALIDATION' && /grey/.test(e.message));

  // --- Another tool's predictions as CSV: the run's own probabilities give the run's numbers.
  const nameOf = new Map(items.map((i) => [i.id, i.source_name]));
  const probCsv = join(dir, 'preds.csv');
  writeFileSync(probCsv, `filename,${classes.join(',')},notes\n${imgs.map((i) => `${nameOf.get(i.itemId)},${i.probabilities.join(',')},x`).join('\n')}\nnot_in_library.png,0.5,0.5,x\n`);
  const fromCsv = await evaluatePredictions(core, ds.id, probCsv);
  assert.equal(fromCsv.task, 'classification');
  const c = fromCsv as ClassificationMetrics & { source: { matched: number; unmatched: string[]; missingPredictions: number; coordinates: string } };
  assert.equal(c.n, 10);
  assert.equal(c.accuracy, report.accuracy);
  assert.deepEqual(c.confusionMatrix, report.confusionMatrix);
  assert.deepEqual(c.auc, report.auc);
  assert.equal(c.source.matched, 10);
  assert.deepEqual(c.source.unmatched, ['not_in_library.png']);
  assert.equal(c.source.missingPredictions, 30, 'the 30 labelled images without a row are reported, not scored');
  assert.equal(c.source.coordinates, 'image');
  // Restricted to the test split: nothing missing.
  const fromCsvTest = await evaluatePredictions(core, ds.id, probCsv, { split: 'test' });
  assert.equal(fromCsvTest.source.missingPredictions, 0);
  // A label column: one-hot probabilities; a wrong guess for one image.
  const labelCsv = join(dir, 'labels-pred.csv');
  const truthName = (i: ClassificationImageResult) => classes[i.truth[0] as number] as string;
  writeFileSync(labelCsv, `image,label\n${imgs.map((i, j) => `${nameOf.get(i.itemId)},${j === 0 ? (truthName(i) === 'dark' ? 'bright' : 'dark') : truthName(i)}`).join('\n')}\n`);
  const fromLabels = await evaluatePredictions(core, ds.id, labelCsv);
  assert.equal(fromLabels.task === 'classification' && fromLabels.accuracy, 0.9);

  // --- The CLI: --json prints the documented keys; the table names the classes.
  const json = cliContext(core, true);
  assert.deepEqual(Object.keys(evaluateOptions).sort(), ['coco-gt', 'dataset', 'format', 'map', 'model', 'predictions', 'run', 'split', 'tta']);
  assert.equal(await runEvaluate(json.ctx, [], { run: String(runId), json: true }), 0);
  const printed = JSON.parse(json.out.join('\n')) as Record<string, unknown>;
  for (const k of ['task', 'accuracy', 'macro', 'perClass', 'confusionMatrix', 'auc']) assert.ok(k in printed, k);
  assert.equal(printed['task'], 'classification');
  assert.equal('images' in printed, false, 'per-image results stay in the stored file');
  const human = cliContext(core, false);
  assert.equal(await runEvaluate(human.ctx, [], { dataset: 'Shades', predictions: probCsv, split: 'test' }), 0);
  assert.match(human.out.join('\n'), /accuracy .*\n.*class\s+precision\s+recall\s+F1\s+support\s+AUC/);
  assert.match(human.out.join('\n'), /dark/);
});

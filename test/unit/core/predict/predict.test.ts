/**
 * Model-assisted labeling end to end on a tiny classifier (12x12 grey PNGs,
 * "dark" vs "bright", one epoch at 16 px on the wasm backend):
 * - predict stores one proposed, model-sourced class annotation per image
 *   with the run id and the model's probability (equal to what evaluation
 *   computes for the same images), and an uncertainty score per item;
 * - human and imported labels are never touched; a re-run replaces the
 *   run's proposals, keeps accepted ones; --only-unlabeled predicts only
 *   images without a label;
 * - items.list sorts by uncertainty, most uncertain first;
 * - the contract's jobs (predict.start, evaluation.run) report through events,
 *   evaluations are stored in the library (evaluation.get / list), the
 *   gallery returns truth and prediction;
 * - `fovea predict --json` (in-process and as a real process).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import sharp from 'sharp';
import type { CliContext } from '../../../../electron/cli/cli-context';
import { runPredictCommand } from '../../../../electron/cli/commands/predict';
import type { EvaluationEvents } from '../../../../electron/contract/evaluation';
import { evaluateRun } from '../../../../electron/core/evaluation/evaluate-run';
import { runPredict } from '../../../../electron/core/predict/predict-service';
import { marginUncertainty, normalisedEntropy } from '../../../../electron/core/predict/uncertainty';
import { createRandom } from '../../../../electron/core/samples/seeded-random';
import { REPO_ROOT } from '../../../helpers/paths';
import { tempCore } from '../../../helpers/temp-library';

async function writeImages(dir: string, n: number, labelled: number): Promise<string> {
  mkdirSync(dir, { recursive: true });
  const r = createRandom('predict');
  const rows = ['filename,label'];
  for (let i = 0; i < n; i++) {
    const k = i % 2;
    // Some images are mid-grey: the model should be unsure about those.
    const base = i >= labelled && i % 3 === 0 ? 125 : k === 0 ? 60 : 190;
    const px = Buffer.from(Array.from({ length: 144 }, () => Math.max(0, Math.min(255, Math.round(base + r.normal(0, 30))))));
    const name = `img_${String(i).padStart(3, '0')}.png`;
    writeFileSync(join(dir, name), await sharp(px, { raw: { width: 12, height: 12, channels: 1 } }).png().toBuffer());
    if (i < labelled) rows.push(`${name},${k === 0 ? 'dark' : 'bright'}`);
  }
  const csv = join(dir, '..', 'labels.csv');
  writeFileSync(csv, `${rows.join('\n')}\n`);
  return csv;
}

function waitFor<E extends keyof EvaluationEvents>(core: ReturnType<typeof tempCore>['core'], name: E, jobId: () => string | null): Promise<EvaluationEvents[E]> {
  return new Promise((resolve) => {
    const off = core.on(name, (e) => {
      if ((e as { jobId: string }).jobId !== jobId()) return;
      off();
      resolve(e);
    });
  });
}

interface AnnRow {
  id: number;
  item_id: number;
  class_id: number;
  kind: string;
  source: string;
  status: string;
  score: number | null;
  run_id: number | null;
  author: string;
  frame_index: number | null;
}

test('predict: proposals with scores, replace on re-run, only-unlabeled, uncertainty queue, jobs, stored evaluations, CLI', { timeout: 240_000 }, async (t) => {
  const { core, dir, cleanup } = tempCore();
  t.after(cleanup);
  const csv = await writeImages(join(dir, 'imgs'), 24, 16);
  const ds = core.datasets.create('Shades', '');
  await core.importFiles({ datasetId: ds.id, paths: [join(dir, 'imgs')] });
  await core.importLabels(ds.id, csv, 'csv', 'test');
  const items = core.db.prepare('SELECT id, source_name FROM items WHERE dataset_id = ? ORDER BY source_name').all(ds.id) as { id: number; source_name: string }[];
  assert.equal(items.length, 24);
  const labelledIds = items.slice(0, 16).map((i) => i.id);
  const unlabelledIds = items.slice(16).map((i) => i.id);
  core.splits.setSplit(ds.id, labelledIds.filter((_, i) => i % 4 === 0), 'test');
  core.splits.setSplit(ds.id, labelledIds.filter((_, i) => i % 4 === 1), 'val');
  core.splits.setSplit(ds.id, labelledIds.filter((_, i) => i % 4 >= 2), 'train');
  // A person's label, which predict must never touch.
  const dark = core.annotations.ensureClass(ds.id, 'dark');
  const humanId = core.annotations.create({ datasetId: ds.id, itemId: labelledIds[0] as number, classId: dark, kind: 'box', geometry: { x: 1, y: 1, width: 3, height: 3 }, source: 'human', author: 'dr who' });
  const others = () => core.db.prepare("SELECT * FROM annotations WHERE source <> 'model' ORDER BY id").all();
  const othersBefore = JSON.stringify(others());

  const { runId, outcome } = await core.training.train(ds.id, 'classification', { epochs: 1, inputSize: 16, batchSize: 8, backend: 'wasm', seed: 5 });
  assert.ok(outcome.status === 'done' || outcome.status === 'stopped-early', JSON.stringify(outcome));
  const classes = core.runs.get(runId).config.classNames;
  assert.deepEqual(classes, ['dark', 'bright']);

  // --- First pass: every image.
  const progress: number[] = [];
  const first = await runPredict(core, runId, { onProgress: (d) => progress.push(d) });
  assert.equal(first.images, 24);
  assert.equal(first.items, 24);
  assert.equal(first.proposed, 24);
  assert.equal(first.replaced, 0);
  assert.equal(first.uncertaintyMethod, 'entropy');
  assert.deepEqual(first.failures, []);
  assert.equal(progress.at(-1), 24);
  const model = () => core.db.prepare("SELECT * FROM annotations WHERE source = 'model' ORDER BY item_id").all() as AnnRow[];
  const proposals = model();
  assert.equal(proposals.length, 24);
  const classId = new Map(core.annotations.listClasses(ds.id).map((c) => [c.id, c.name]));
  for (const a of proposals) {
    assert.equal(a.status, 'proposed');
    assert.equal(a.kind, 'class');
    assert.equal(a.run_id, runId);
    assert.equal(a.author, `model:run-${runId}`);
    assert.equal(a.frame_index, null);
    assert.ok(a.score !== null && a.score >= 0.5 && a.score <= 1);
  }
  assert.equal(JSON.stringify(others()), othersBefore, 'human and imported labels untouched');

  // The same probabilities as evaluation computes for the test images (same model, same pipeline).
  const evaluation = await evaluateRun(core, runId);
  assert.equal(evaluation.task, 'classification');
  if (evaluation.task !== 'classification') return;
  const unc = new Map((core.db.prepare('SELECT item_id, score, method FROM item_uncertainty WHERE run_id = ?').all(runId) as { item_id: number; score: number; method: string }[]).map((r) => [r.item_id, r]));
  assert.equal(unc.size, 24);
  for (const img of evaluation.images) {
    const a = proposals.find((p) => p.item_id === img.itemId);
    assert.ok(a);
    const best = img.probabilities[0]! >= img.probabilities[1]! ? 0 : 1;
    assert.equal(classId.get(a.class_id), classes[best]);
    assert.ok(Math.abs((a.score as number) - (img.probabilities[best] as number)) < 1e-5, `${a.score} vs ${img.probabilities[best]}`);
    assert.ok(Math.abs((unc.get(img.itemId)?.score as number) - normalisedEntropy(img.probabilities)) < 1e-5);
    assert.equal(unc.get(img.itemId)?.method, 'entropy');
  }

  // --- The browser's uncertainty sort: most uncertain first.
  const listed = core.items.list({ datasetId: ds.id }, { sort: 'uncertainty', limit: 100 }).rows.map((r) => r.id);
  const expected = [...unc.values()].sort((a, b) => b.score - a.score || a.item_id - b.item_id).map((r) => r.item_id);
  assert.deepEqual(listed, expected);
  const viaContract = await core.dispatch('items.list', { datasetId: ds.id, sort: 'uncertainty', uncertaintyRunId: runId, limit: 5, status: ['unlabeled'] });
  assert.ok(viaContract.ok);
  const unlabelledQueue = (viaContract.value as { rows: { id: number }[] }).rows.map((r) => r.id);
  assert.deepEqual(unlabelledQueue, expected.filter((id) => unlabelledIds.includes(id)).slice(0, 5));

  // --- Re-run: the run's proposals are replaced, an accepted one is kept.
  const accepted = proposals[3] as AnnRow;
  core.db.prepare("UPDATE annotations SET status = 'active', source = 'human' WHERE id = ?").run(accepted.id);
  const second = await runPredict(core, runId, { uncertainty: 'margin' });
  assert.equal(second.replaced, 23);
  assert.equal(second.proposed, 24);
  assert.equal(second.uncertaintyMethod, 'margin');
  const afterSecond = model().filter((a) => a.status === 'proposed');
  assert.equal(afterSecond.length, 24);
  assert.ok(afterSecond.every((a) => a.id > Math.max(...proposals.map((p) => p.id))), 'all new rows');
  assert.equal((core.annotations.get(accepted.id) as { status: string }).status, 'active');
  assert.ok(core.annotations.get(humanId));
  const margins = core.db.prepare('SELECT item_id, score, method FROM item_uncertainty WHERE run_id = ?').all(runId) as { item_id: number; score: number; method: string }[];
  assert.ok(margins.every((m) => m.method === 'margin'));
  const img0 = evaluation.images[0];
  assert.ok(img0);
  assert.ok(Math.abs((margins.find((m) => m.item_id === img0.itemId)?.score as number) - marginUncertainty(img0.probabilities)) < 1e-5);

  // --- Only unlabelled images: 8 predicted; the run's other proposals and scores go.
  const only = await runPredict(core, runId, { onlyUnlabeled: true });
  assert.equal(only.images, 8);
  assert.equal(only.onlyUnlabeled, true);
  const proposedNow = model().filter((a) => a.status === 'proposed');
  assert.deepEqual([...new Set(proposedNow.map((a) => a.item_id))].sort((a, b) => a - b), [...unlabelledIds].sort((a, b) => a - b));
  assert.equal(only.replaced, 24);
  const scored = core.db.prepare('SELECT item_id FROM item_uncertainty WHERE run_id = ? ORDER BY item_id').pluck().all(runId);
  assert.deepEqual(scored, [...unlabelledIds].sort((a, b) => a - b));
  assert.equal(JSON.stringify(others().filter((a) => (a as { id: number }).id !== accepted.id)), othersBefore);

  // --- The contract: predict.start as a job with progress and a report.
  let jobId: string | null = null;
  const finished = waitFor(core, 'predict.finished', () => jobId);
  const progressEvents: number[] = [];
  const offProgress = core.on('predict.progress', (e) => progressEvents.push(e.done));
  const started = await core.dispatch('predict.start', { runId, onlyUnlabeled: true });
  assert.ok(started.ok, JSON.stringify(started));
  jobId = (started.value as { jobId: string }).jobId;
  const done = await finished;
  offProgress();
  assert.equal(done.error, null);
  assert.equal(done.report?.images, 8);
  assert.ok(progressEvents.length >= 1);
  const missing = await core.dispatch('predict.start', { runId: 999 });
  assert.ok(!missing.ok && missing.error.code === 'NOT_FOUND');

  // --- Evaluations are stored in the library, listed, and run as jobs.
  const stored = await core.dispatch('evaluation.get', { runId, split: 'test' });
  assert.ok(stored.ok);
  const report = stored.value as { task: string; n: number; images: unknown[]; accuracy: number };
  assert.equal(report.task, 'classification');
  assert.equal(report.n, evaluation.n);
  assert.equal(report.accuracy, evaluation.accuracy);
  assert.equal(report.images.length, evaluation.images.length);
  const row = core.db.prepare('SELECT run_id, dataset_id, split, task FROM evaluations').get();
  assert.deepEqual(row, { run_id: runId, dataset_id: ds.id, split: 'test', task: 'classification' });
  let evalJob: string | null = null;
  const evalDone = waitFor(core, 'evaluation.finished', () => evalJob);
  const evalStart = await core.dispatch('evaluation.run', { runId, split: 'val' });
  assert.ok(evalStart.ok);
  evalJob = (evalStart.value as { jobId: string }).jobId;
  const ev = await evalDone;
  assert.equal(ev.error, null);
  assert.equal(ev.summary?.split, 'val');
  assert.equal(ev.summary?.headline.name, 'accuracy');
  const list = await core.dispatch('evaluation.list', { runId });
  assert.ok(list.ok);
  assert.deepEqual((list.value as { split: string }[]).map((s) => s.split).sort(), ['test', 'val']);
  const none = await core.dispatch('evaluation.get', { runId, split: 'train' });
  assert.ok(none.ok && none.value === null);

  // --- The error gallery: truth (the imported class) and the prediction of two test images.
  const galleryIds = evaluation.images.slice(0, 2).map((i) => ({ itemId: i.itemId, frameIndex: i.frameIndex }));
  const gallery = await core.dispatch('evaluation.gallery', { runId, images: galleryIds });
  assert.ok(gallery.ok, JSON.stringify(gallery));
  const g = gallery.value as { itemId: number; width: number; truth: { kind: string; className: string }[]; prediction: { kind: string; className: string }[] }[];
  assert.deepEqual(g.map((x) => x.itemId), galleryIds.map((x) => x.itemId));
  for (const x of g) {
    assert.equal(x.width, 12);
    assert.equal(x.truth.length, 1);
    assert.equal(x.prediction.length, 1);
    assert.equal(x.prediction[0]?.kind, 'class');
  }

  // --- The CLI command in-process (JSON lines) ...
  const out: string[] = [];
  const ctx: CliContext = { json: true, libraryDir: '', core: () => core, out: (s) => out.push(s), jsonLine: (v) => out.push(JSON.stringify(v)), err: () => undefined, isTty: false, close: () => undefined };
  assert.equal(await runPredictCommand(ctx, [], { run: String(runId), 'only-unlabeled': true }), 0);
  const last = JSON.parse(out.at(-1) as string) as { type: string; images: number; proposed: number; runId: number };
  assert.equal(last.type, 'done');
  assert.equal(last.runId, runId);
  assert.equal(last.images, 8);
  await assert.rejects(runPredictCommand(ctx, [], { run: 'x' }), /--run ID is required/);

  // ... and as a real process on the same library (WAL: both open at once).
  const cli = spawnSync(process.execPath, ['--import', 'tsx', join(REPO_ROOT, 'electron', 'cli', 'main.ts'), 'predict', '--run', String(runId), '--dataset', 'Shades', '--json', '--library', join(dir, 'library')], {
    cwd: REPO_ROOT,
    encoding: 'utf8',
    timeout: 120_000,
  });
  assert.equal(cli.status, 0, cli.stderr);
  const lines = cli.stdout.trim().split('\n').map((l) => JSON.parse(l) as { type: string; images?: number; replaced?: number });
  assert.equal(lines.at(-1)?.type, 'done');
  assert.equal(lines.at(-1)?.images, 24);
  assert.equal(lines.at(-1)?.replaced, 8);
  assert.equal(model().filter((a) => a.status === 'proposed').length, 24);
});

/**
 * The classification recipe through the core (issue 13 item 5), on a tiny classifier trained for
 * real (12x12 grey PNGs, "dark" vs "bright", one epoch at 16 px, wasm):
 * - 'training.start' with label smoothing, mixup and CutMix trains and stores them in the run's
 *   config (and the audit); out-of-range values and non-classification runs are VALIDATION errors
 *   with the contract's message; `fovea train --label-smoothing/--mixup/--cutmix` parse with the same rules;
 * - the plan already picks a classifier's input size from the images' sizes (left as it is); under a
 *   time budget of 3 minutes or more it adds mixup 0.2 and a patience of 15, unless the user set them;
 * - test-time augmentation: flips are flips, the TTA prediction of an image equals the mean of the
 *   model's predictions of it and of its left-right flip (and up-down where the run trained with
 *   vertical flips); 'evaluation.run' with tta records it in the stored evaluation and the report
 *   says it; `fovea evaluate --tta` and `fovea predict --tta` do the same; TTA on a detection run is
 *   VALIDATION.
 */
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import sharp from 'sharp';
import type { CliContext } from '../../../../electron/cli/cli-context';
import { UsageError } from '../../../../electron/cli/cli-context';
import { runEvaluate } from '../../../../electron/cli/commands/evaluate';
import { runPredictCommand } from '../../../../electron/cli/commands/predict';
import { parseRunStartOptions } from '../../../../electron/cli/commands/runs';
import type { Events } from '../../../../electron/contract/api';
import type { ClassificationReport, EvaluationEvents } from '../../../../electron/contract/evaluation';
import type { Batch, Prediction } from '../../../../electron/contract/ml';
import { flipImages, predictWithTta, ttaViews } from '../../../../electron/core/predict/tta';
import { buildReportModel } from '../../../../electron/core/report/report-model';
import { createRandom } from '../../../../electron/core/samples/seeded-random';
import { loadSample } from '../../../../electron/core/training/sample-loader';
import { collectSamples } from '../../../../electron/core/training/training-samples';
import { applyPlan, BUDGET_MIXUP, planRecipe, SHORT_BUDGET_SECONDS } from '../../../../electron/core/training/recipe-plan';
import { planDecisions } from '../../../../electron/contract/recipe';
import { tempCore } from '../../../helpers/temp-library';

async function writeImages(dir: string, n: number): Promise<string> {
  mkdirSync(dir, { recursive: true });
  const r = createRandom('clsrecipe');
  const rows = ['filename,label'];
  for (let i = 0; i < n; i++) {
    const k = i % 2;
    // A gradient left to right, so that a left-right flip changes the image (and its prediction).
    const px = Buffer.from(Array.from({ length: 144 }, (_, p) => Math.max(0, Math.min(255, Math.round((k ? 170 : 70) + (p % 12) * 4 + r.normal(0, 25))))));
    const name = `img_${String(i).padStart(3, '0')}.png`;
    writeFileSync(join(dir, name), await sharp(px, { raw: { width: 12, height: 12, channels: 1 } }).png().toBuffer());
    rows.push(`${name},${k ? 'bright' : 'dark'}`);
  }
  const csv = join(dir, '..', 'labels.csv');
  writeFileSync(csv, `${rows.join('\n')}\n`);
  return csv;
}

function cli(core: ReturnType<typeof tempCore>['core'], json = false): { ctx: CliContext; out: string[] } {
  const out: string[] = [];
  return { out, ctx: { json, libraryDir: '', core: () => core, out: (t) => out.push(t), jsonLine: (v) => out.push(JSON.stringify(v)), err: () => undefined, isTty: false, close: () => undefined } };
}

function waitFor<E extends keyof (EvaluationEvents & Events)>(core: ReturnType<typeof tempCore>['core'], name: E, jobId: () => string | null): Promise<(EvaluationEvents & Events)[E]> {
  return new Promise((resolve) => {
    const off = core.on(name, (e) => {
      if ((e as { jobId: string }).jobId !== jobId()) return;
      off();
      resolve(e as (EvaluationEvents & Events)[E]);
    });
  });
}

test('flipImages: left-right and up-down flips of NHWC images, twice is the identity', () => {
  // Two 2x3? No: square inputs. Two 3x3 images with 2 channels, values encode (image, y, x, c).
  const S = 3;
  const C = 2;
  const x = new Float32Array(2 * S * S * C).map((_, i) => i);
  const at = (a: Float32Array, n: number, y: number, xx: number, c: number): number => a[((n * S + y) * S + xx) * C + c] as number;
  const h = flipImages(x, 2, S, C, 'flip-horizontal');
  const v = flipImages(x, 2, S, C, 'flip-vertical');
  for (let n = 0; n < 2; n++) {
    for (let y = 0; y < S; y++) {
      for (let xx = 0; xx < S; xx++) {
        for (let c = 0; c < C; c++) {
          assert.equal(at(h, n, y, xx, c), at(x, n, y, S - 1 - xx, c));
          assert.equal(at(v, n, y, xx, c), at(x, n, S - 1 - y, xx, c));
        }
      }
    }
  }
  assert.deepEqual(Array.from(flipImages(h, 2, S, C, 'flip-horizontal')), Array.from(x));
  assert.equal(flipImages(x, 2, S, C, 'identity'), x);
});

test('classification recipe: smoothing, mixup and CutMix stored with the run; TTA at evaluation and prediction', { timeout: 180_000 }, async (t) => {
  const { core, dir, cleanup } = tempCore();
  t.after(cleanup);
  const csv = await writeImages(join(dir, 'img'), 24);
  const ds = core.datasets.create('Shades', '');
  await core.importFiles({ datasetId: ds.id, paths: [join(dir, 'img')] });
  await core.importLabels(ds.id, csv, 'csv', 'test');
  const items = (core.db.prepare('SELECT id FROM items WHERE dataset_id = ? ORDER BY id').all(ds.id) as { id: number }[]).map((i) => i.id);
  core.splits.setSplit(ds.id, items.filter((_, i) => i % 4 === 0), 'val');
  core.splits.setSplit(ds.id, items.filter((_, i) => i % 4 === 1), 'test');
  core.splits.setSplit(ds.id, items.filter((_, i) => i % 4 > 1), 'train');

  // --- Errors as data, before anything starts.
  for (const [payload, pattern] of [
    [{ labelSmoothing: 0.6 }, /Label smoothing is 0 \(none\) to 0\.5/],
    [{ labelSmoothing: -0.1 }, /Label smoothing/],
    [{ mixup: 11 }, /Mixup alpha is 0 \(off\) to 10/],
    [{ cutmix: -1 }, /CutMix alpha/],
  ] as const) {
    const r = await core.dispatch('training.start', { datasetId: ds.id, task: 'classification', ...payload });
    assert.ok(!r.ok && r.error.code === 'VALIDATION' && pattern.test(r.error.message), JSON.stringify(r));
  }
  await assert.rejects(core.training.train(ds.id, 'segmentation', { mixup: 0.2 }), (e: Error & { code?: string }) => e.code === 'VALIDATION' && /classification runs only/.test(e.message));
  assert.deepEqual(parseRunStartOptions({ 'label-smoothing': '0.1', mixup: '0.2', cutmix: '1' }), { labelSmoothing: 0.1, mixup: 0.2, cutmix: 1 });
  assert.deepEqual(parseRunStartOptions({ 'lr-schedule': 'cosine' }), { lrSchedule: 'cosine' });
  assert.throws(() => parseRunStartOptions({ 'lr-schedule': 'step' }), (e: Error) => e instanceof UsageError && /--lr-schedule: The learning-rate schedule is constant or cosine/.test(e.message));
  assert.throws(() => parseRunStartOptions({ mixup: 'lots' }), (e: Error) => e instanceof UsageError && /--mixup: Mixup alpha/.test(e.message));

  // --- A real run through the request: its config keeps the three settings.
  let trainJob: string | null = null;
  const finished = waitFor(core, 'training.finished', () => trainJob);
  const started = await core.dispatch('training.start', {
    datasetId: ds.id,
    task: 'classification',
    epochs: 1,
    inputSize: 16,
    batchSize: 6,
    backend: 'wasm',
    labelSmoothing: 0.1,
    mixup: 0.2,
    cutmix: 1,
    augment: { flipVertical: true },
  });
  assert.ok(started.ok, JSON.stringify(started));
  trainJob = (started.value as { jobId: string }).jobId;
  const done = await finished;
  assert.equal(done.error, null, JSON.stringify(done));
  assert.equal(done.outcome?.status, 'done', JSON.stringify(done.outcome));
  const runId = done.runId as number;
  const run = core.runs.get(runId);
  assert.equal(run.config.labelSmoothing, 0.1);
  assert.equal(run.config.mixup, 0.2);
  assert.equal(run.config.cutmix, 1);
  const detail = await core.dispatch('runs.get', { runId });
  assert.ok(detail.ok);
  assert.equal((detail.value as { config: { mixup?: number } }).config.mixup, 0.2, 'the run detail carries them');
  const audit = core.db.prepare("SELECT details FROM audit_log WHERE action = 'train.start' AND object_id = ?").get(String(runId)) as { details: string };
  assert.deepEqual(
    (({ labelSmoothing, mixup, cutmix }) => ({ labelSmoothing, mixup, cutmix }))(JSON.parse(audit.details) as Record<string, unknown>),
    { labelSmoothing: 0.1, mixup: 0.2, cutmix: 1 },
  );

  // --- The plan picks a classifier's input size from the images (issue 13 item 5: left as it is).
  const collected = collectSamples(core.db, ds.id, 'classification');
  const plan = planRecipe(
    { task: 'classification', classNames: collected.classNames, channels: 1, images: collected.samples.map(() => ({ width: 12, height: 12 })), modality: 'photo', objectSizes: [], classFractions: [0.5, 0.5], foregroundHu: null, slices: null },
    { defaults: core.ml.defaultConfig('classification', collected.classNames, 1) },
  );
  assert.equal(plan.sampling.value.inputSize, 32, 'the 32 px floor for 12 px images');
  assert.match(plan.resolution.reason, /median 12 px on their shorter side/);
  assert.equal(plan.regularization, null, 'no budget: nothing added');

  assert.equal(plan.schedule, null, 'no budget: a constant learning rate');
  assert.equal(applyPlan(core.ml.defaultConfig('classification', collected.classNames, 1), plan).lrSchedule, undefined);

  // --- Under a time budget the plan spends the budget: mixup, and the rate annealed along a cosine to its end (no early stopping).
  const budgeted = await core.training.plan(ds.id, 'classification', { timeBudgetSeconds: 600 });
  assert.deepEqual(budgeted.plan.regularization?.value, { mixup: BUDGET_MIXUP });
  assert.deepEqual(budgeted.plan.schedule?.value, { lrSchedule: 'cosine', earlyStoppingPatience: 0 });
  assert.deepEqual([budgeted.config.mixup, budgeted.config.earlyStoppingPatience, budgeted.config.lrSchedule], [BUDGET_MIXUP, 0, 'cosine']);
  assert.match(budgeted.plan.epochs.reason, /without early stopping \(patience 0\)/);
  const shown = planDecisions(budgeted.plan);
  assert.ok(shown.some((d) => d.label === 'regularisation' && /mixup \(alpha 0\.2\)/.test(d.reason)), 'shown with the plan');
  assert.ok(
    shown.some((d) => d.label === 'schedule' && /half cosine over the 10 minutes \(trained to the end of the budget/.test(d.reason) && /early stopping is off/.test(d.reason)),
    'the schedule shown with its reason',
  );
  // The user's fields win, and the reason does not claim otherwise.
  const chosen = await core.training.plan(ds.id, 'classification', { timeBudgetSeconds: 600, earlyStoppingPatience: 3, mixup: 0, lrSchedule: 'cosine' });
  assert.deepEqual([chosen.config.mixup, chosen.config.earlyStoppingPatience, chosen.config.lrSchedule], [0, 3, 'cosine']);
  assert.match(chosen.plan.schedule?.reason ?? '', /half cosine over the 10 minutes, as set\. Early stopping after 3 epochs without improvement, as set\./);
  assert.match(chosen.plan.epochs.reason, /early stopping after 3 epochs/);
  // A short budget (under SHORT_BUDGET_SECONDS) and other tasks: nothing added.
  const short = (await core.training.plan(ds.id, 'classification', { timeBudgetSeconds: SHORT_BUDGET_SECONDS - 1 })).plan;
  assert.deepEqual([short.regularization, short.schedule], [null, null]);
  const detectionFacts = { task: 'detection' as const, classNames: ['a'], channels: 1 as const, images: [{ width: 64, height: 64 }], modality: 'photo', objectSizes: [], classFractions: [1], foregroundHu: null, slices: null };
  const detectionPlan = planRecipe(detectionFacts, { defaults: core.ml.defaultConfig('detection', ['a'], 1), timeBudgetSeconds: 900 });
  assert.equal(detectionPlan.regularization, null);
  // Detection and segmentation under a budget: the budget (not a plateau) ends the run; the rate stays constant.
  assert.deepEqual(detectionPlan.schedule?.value, { lrSchedule: 'constant', earlyStoppingPatience: 0 });
  assert.match(detectionPlan.schedule?.reason ?? '', /early stopping is off/);

  // --- TTA equals the mean of the model's predictions of the image and its flips (this run flips vertically too).
  const views = ttaViews(run.config);
  assert.deepEqual(views, ['identity', 'flip-horizontal', 'flip-vertical']);
  assert.deepEqual(ttaViews({ augment: { ...run.config.augment, flipVertical: false } }), ['identity', 'flip-horizontal']);
  const checkpoint = join(core.training.checkpointDir(runId), 'best');
  const S = run.config.inputSize;
  const testSample = collected.samples.find((s) => s.itemId === items[1]);
  assert.ok(testSample);
  const loaded = await loadSample(core.blobs, testSample, { task: 'classification', inputSize: S, normalization: run.config.normalization, channels: run.config.channels });
  const batchOf = (x: Float32Array): Batch => ({ x, n: 1, targets: { task: 'classification', labels: new Float32Array(2) }, itemIds: [testSample.itemId] });
  const single = async (x: Float32Array): Promise<number[]> => ((await core.ml.predict(checkpoint, run.config, batchOf(x)))[0] as Prediction & { probabilities: number[] }).probabilities;
  const plain = await single(loaded.x);
  const flippedH = await single(flipImages(loaded.x, 1, S, run.config.channels, 'flip-horizontal'));
  const flippedV = await single(flipImages(loaded.x, 1, S, run.config.channels, 'flip-vertical'));
  assert.notDeepEqual(plain, flippedH, 'the flip changes what the model sees');
  const tta = ((await predictWithTta(core.ml, checkpoint, run.config, batchOf(loaded.x)))[0] as Prediction & { probabilities: number[] }).probabilities;
  tta.forEach((p, k) => assert.ok(Math.abs(p - ((plain[k] as number) + (flippedH[k] as number) + (flippedV[k] as number)) / 3) < 1e-5, `class ${k}: ${p}`));
  const two = ((await predictWithTta(core.ml, checkpoint, run.config, batchOf(loaded.x), ['identity', 'flip-horizontal']))[0] as Prediction & { probabilities: number[] }).probabilities;
  two.forEach((p, k) => assert.ok(Math.abs(p - ((plain[k] as number) + (flippedH[k] as number)) / 2) < 1e-5));

  // --- 'evaluation.run' with TTA: recorded in the stored evaluation; the report says it.
  let evalJob: string | null = null;
  const evalDone = waitFor(core, 'evaluation.finished', () => evalJob);
  const evalStart = await core.dispatch('evaluation.run', { runId, split: 'test', tta: true });
  assert.ok(evalStart.ok, JSON.stringify(evalStart));
  evalJob = (evalStart.value as { jobId: string }).jobId;
  const ev = await evalDone;
  assert.equal(ev.error, null, JSON.stringify(ev));
  const stored = await core.dispatch('evaluation.get', { runId, split: 'test' });
  assert.ok(stored.ok);
  const report = stored.value as ClassificationReport;
  assert.deepEqual(report.source.tta, views);
  const image = report.images.find((i) => i.itemId === testSample.itemId);
  assert.ok(image);
  image.probabilities.forEach((p, k) => assert.ok(Math.abs(p - (tta[k] as number)) < 1e-5, 'the evaluation scored the TTA probabilities'));
  const facts = buildReportModel(report).facts;
  assert.deepEqual(
    facts.find(([k]) => k === 'Test-time augmentation'),
    ['Test-time augmentation', 'mean of the image and its left-right and up-down flips'],
  );

  // Without TTA the source says none.
  let plainJob: string | null = null;
  const plainDone = waitFor(core, 'evaluation.finished', () => plainJob);
  const plainEval = await core.dispatch('evaluation.run', { runId, split: 'val' });
  assert.ok(plainEval.ok);
  plainJob = (plainEval.value as { jobId: string }).jobId;
  assert.equal((await plainDone).error, null);
  const plainReport = (await core.dispatch('evaluation.get', { runId, split: 'val' })) as { ok: true; value: ClassificationReport };
  assert.equal(plainReport.value.source.tta, null);
  assert.deepEqual(buildReportModel(plainReport.value).facts.find(([k]) => k === 'Test-time augmentation'), ['Test-time augmentation', 'none (the image alone)']);

  // --- The CLI: evaluate --tta prints it; predict --tta reports it.
  const e = cli(core);
  assert.equal(await runEvaluate(e.ctx, [], { run: String(runId), split: 'test', tta: true }), 0);
  assert.ok(e.out.some((l) => /Test-time augmentation: mean of the image and its left-right and up-down flips\./.test(l)), e.out.join('\n'));
  await assert.rejects(runEvaluate(cli(core).ctx, [], { dataset: 'Shades', predictions: '/nowhere', tta: true }), UsageError);
  const p = cli(core, true);
  assert.equal(await runPredictCommand(p.ctx, [], { run: String(runId), tta: true }), 0);
  const last = JSON.parse(p.out.at(-1) ?? '{}') as { type: string; tta: string[] | null; images: number };
  assert.equal(last.type, 'done');
  assert.deepEqual(last.tta, views);
  assert.equal(last.images, 24);

  // --- TTA for a detection run: VALIDATION, as data.
  const det = core.runs.create(ds.id, { ...run.config, task: 'detection' }, {});
  const refused = await core.dispatch('evaluation.run', { runId: det, tta: true });
  assert.ok(!refused.ok && refused.error.code === 'VALIDATION' && /classification runs/.test(refused.error.message), JSON.stringify(refused));
  const refusedPredict = await core.dispatch('predict.start', { runId: det, tta: true });
  assert.ok(!refusedPredict.ok && refusedPredict.error.code === 'VALIDATION');
});

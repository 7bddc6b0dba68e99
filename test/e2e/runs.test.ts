/**
 * The training loop (issue 19) in headless Chromium against the real core and the real ML engine
 * (wasm): two small classifiers trained on the sample CT from the Training screen, each with a
 * name, the first with notes and a learning rate, the second with other augmentation (a learning
 * rate above 1 and a rotation of 400 degrees are refused first, with the contract's message); the run detail shows the name,
 * start, duration, learning rate and augmentation; a run is renamed and annotated in place and
 * the history says so; ticking both compares them (curves overlaid with the runs' names in the
 * legend, a table of their settings and metrics); on the Evaluation screen the run is listed by
 * name, the threshold slider moves with the keyboard and the confusion matrix, sensitivity,
 * specificity, precision, F1 and the ROC point equal the contract's thresholdMetrics on the stored
 * report (itself checked against scikit-learn in the unit tests), and the per-series and
 * per-patient tables show the report's groups.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Page } from 'playwright-core';
import type { ClassificationReport } from '../../electron/contract/evaluation';
import { binaryScores, thresholdMetrics } from '../../electron/contract/runs';
import { readStoredEvaluation } from '../../electron/core/evaluation/evaluate-run';
import { SAMPLE_CT_DATASET } from '../../electron/core/samples/sample-library';
import { screenshot } from './browser';
import { openTraining } from './training-screen';
import { withSampleApp } from './sample-app';

const app = withSampleApp('demo');

async function waitDone(page: Page, name: string): Promise<void> {
  await page.getByTestId('run-name').filter({ hasText: new RegExp(`^${name}$`) }).waitFor({ timeout: 60_000 });
  await page.getByTestId('run-status').filter({ hasText: /^(done|stopped-early)$/ }).waitFor({ timeout: 180_000 });
}

test('name two runs, rename one, compare them, move the decision threshold', { timeout: 480_000 }, async () => {
  const { page, close } = await app.open({ viewport: { width: 1400, height: 1000 } });
  const ct = app.core.datasets.findByName(SAMPLE_CT_DATASET);
  assert.ok(ct);
  await openTraining(page, ct.id, 'classification', 'grouped by patient');
  const defaults = app.core.ml.defaultConfig('classification', ['lesion present', 'normal'], 1);
  assert.equal(await page.getByTestId('train-lr').getAttribute('placeholder'), String(defaults.learningRate));

  // --- A learning rate above 1 or a rotation of 400 degrees: the contract's message at once, Start disabled.
  await page.getByTestId('train-epochs').fill('2');
  await page.getByTestId('train-size').fill('32');
  await page.getByTestId('train-name').fill('baseline');
  await page.getByTestId('train-notes').fill('first try, default augmentation');
  await page.getByTestId('train-lr').fill('5');
  await page.getByTestId('train-recipe-problem').filter({ hasText: /learning rate is at most 1/i }).waitFor();
  assert.equal(await page.getByTestId('train-start').isDisabled(), true);
  await page.getByTestId('train-lr').fill('0.002');
  await page.getByTestId('train-aug-rotate').fill('400');
  await page.getByTestId('train-recipe-problem').filter({ hasText: /Rotation is 0 to 180 degrees/ }).waitFor();
  assert.equal(await page.getByTestId('train-start').isDisabled(), true);
  await page.getByTestId('train-aug-rotate').fill('');
  await page.getByTestId('train-recipe-problem').waitFor({ state: 'detached' });
  assert.equal(app.core.runs.list(ct.id).length, 0);

  // --- Run 1: named, with notes and a learning rate.
  await screenshot(page, 'runs-setup');
  await page.getByTestId('train-start').click();
  await waitDone(page, 'baseline');
  const first = app.core.runs.list(ct.id)[0];
  assert.ok(first);
  assert.equal(first.name, 'baseline');
  assert.equal(first.notes, 'first try, default augmentation');
  assert.equal(first.config.learningRate, 0.002);
  assert.equal(await page.getByTestId('run-lr').textContent(), '0.002');
  assert.equal(await page.getByTestId('run-notes').textContent(), 'first try, default augmentation');
  assert.match((await page.getByTestId('run-duration').textContent()) ?? '', /^\d+ s$|^\d+ min \d+ s$/);
  // The form forgets the name and notes once the run has started; the next run gets its own.
  assert.equal(await page.getByTestId('train-name').inputValue(), '');

  // --- Run 2: another name, the default learning rate again (field emptied), vertical flips and no rotation.
  assert.equal(await page.getByTestId('train-lr').inputValue(), '0.002', 'the settings stay for the next run');
  await page.getByTestId('train-lr').fill('');
  await page.getByTestId('train-name').fill('flips');
  await page.getByTestId('train-aug-flip-v').check();
  await page.getByTestId('train-aug-rotate').fill('0');
  // Without a time budget the schedule defaults to constant; a cosine is chosen here.
  assert.equal(await page.getByTestId('train-lr-schedule').locator('option').first().textContent(), 'default (a planned classifier: cosine; else constant)');
  await page.getByTestId('train-lr-schedule').selectOption('cosine');
  await page.getByTestId('train-start').click();
  await waitDone(page, 'flips');
  const second = app.core.runs.list(ct.id)[0];
  assert.ok(second && second.id !== first.id);
  assert.equal(second.name, 'flips');
  assert.deepEqual(second.config.augment, { ...defaults.augment, flipVertical: true, rotateDegrees: 0 });
  assert.equal(second.config.learningRate, defaults.learningRate);
  assert.match((await page.getByTestId('run-augment').textContent()) ?? '', /flip ↕/);
  assert.equal(second.config.lrSchedule, 'cosine');
  assert.equal(first.config.lrSchedule, undefined, 'run 1 kept the constant default');
  assert.equal(await page.getByTestId('run-lr-schedule').textContent(), 'on a cosine');

  // --- Rename run 1 from its detail; the history shows the new name.
  await page.getByTestId(`run-link-${first.id}`).click();
  await page.getByTestId('run-name').filter({ hasText: /^baseline$/ }).waitFor();
  await page.getByTestId('run-rename').click();
  await page.getByTestId('run-name-input').fill('baseline lr 0.002');
  await page.getByTestId('run-notes-input').fill('kept: the reference run');
  await page.getByTestId('run-label-save').click();
  await page.getByTestId('run-name').filter({ hasText: /^baseline lr 0\.002$/ }).waitFor();
  await page.getByTestId('run-notes').filter({ hasText: 'kept: the reference run' }).waitFor();
  await screenshot(page, 'runs-renamed');
  await page.getByTestId(`run-link-${first.id}`).filter({ hasText: 'baseline lr 0.002' }).waitFor();
  assert.equal(app.core.runs.get(first.id).name, 'baseline lr 0.002');
  assert.equal(app.core.runs.get(first.id).notes, 'kept: the reference run');
  assert.equal(app.core.db.prepare("SELECT count(*) FROM audit_log WHERE action = 'run.update' AND object_id = ?").pluck().get(String(first.id)), 1);

  // --- Compare: tick both; curves overlaid with the names in the legend, a row per run.
  await page.getByTestId(`compare-${first.id}`).check();
  await page.getByTestId('compare-hint').waitFor();
  await page.getByTestId(`compare-${second.id}`).check();
  const cmp = page.getByTestId('run-compare');
  await cmp.and(page.locator(`[data-runs="${first.id},${second.id}"]`)).waitFor();
  const valLoss = cmp.locator('[data-testid="chart"][data-title="Validation loss per epoch"]');
  assert.equal(await valLoss.getAttribute('data-series'), `baseline lr 0.002 (#${first.id})|flips (#${second.id})`);
  assert.equal(await valLoss.getAttribute('data-points'), '2');
  assert.equal(await cmp.locator('[data-testid="chart"][data-title="Validation accuracy"]').count(), 1);
  await cmp.locator('.u-legend').first().filter({ hasText: 'flips' }).waitFor();
  const rows = cmp.getByTestId('compare-table').locator('tbody tr');
  assert.equal(await rows.count(), 2);
  assert.match((await rows.nth(0).textContent()) ?? '', /baseline lr 0\.002.*0\.002/);
  assert.match((await rows.nth(1).textContent()) ?? '', /flips.*flip ↕/);
  const bestAcc = app.core.runs.get(second.id).metrics?.['accuracy'];
  assert.equal(await rows.nth(1).locator('td[data-metric="accuracy"]').textContent(), bestAcc === undefined ? '—' : bestAcc.toFixed(3));
  await cmp.scrollIntoViewIfNeeded();
  await screenshot(page, 'runs-compare');

  // --- Evaluation: the run listed by name; the threshold slider.
  await page.keyboard.press('Alt+5');
  const select = page.getByTestId('eval-run-select');
  await select.waitFor();
  await select.selectOption(String(second.id));
  assert.match((await select.locator(`option[value="${second.id}"]`).textContent()) ?? '', /^flips \(#\d+\) · /);
  // Every labelled image: the sample's test split holds one patient, so one class only.
  await page.getByTestId('eval-split').selectOption('all');
  await page.getByTestId('eval-start').click();
  await page.getByTestId('threshold-panel').or(page.getByTestId('eval-error')).waitFor({ timeout: 120_000 });
  if (await page.getByTestId('eval-error').isVisible()) assert.fail(`evaluation failed: ${await page.getByTestId('eval-error').textContent()}`);
  const report = readStoredEvaluation(app.core, second.id, 'all') as unknown as ClassificationReport;
  assert.ok(report && report.task === 'classification');
  const data = binaryScores(report.images, report.source.classNames.length, report.multiLabel);
  assert.ok(data);
  assert.ok(data.positive.includes(true) && data.positive.includes(false), 'both classes are scored');
  assert.equal(await page.locator('[data-testid="threshold-roc"] path.curve').count(), 1, 'the ROC curve is drawn under the point');

  const panel = page.getByTestId('threshold-panel');
  const check = async (threshold: number): Promise<void> => {
    await page.getByTestId('threshold-value').filter({ hasText: threshold.toFixed(2) }).waitFor();
    const want = thresholdMetrics(data.positive, data.scores, threshold);
    for (const cell of ['tn', 'fp', 'fn', 'tp'] as const) assert.equal(await panel.locator(`td[data-cell="${cell}"]`).textContent(), String(want[cell]), `${cell} at ${threshold}`);
    for (const k of ['sensitivity', 'specificity', 'precision', 'f1', 'accuracy'] as const) {
      assert.equal(await panel.locator(`td[data-metric="${k}"]`).textContent(), want[k].toFixed(3), `${k} at ${threshold}`);
    }
    const point = page.getByTestId('roc-point');
    assert.equal(Number(await point.getAttribute('data-fpr')), want.fpr);
    assert.equal(Number(await point.getAttribute('data-tpr')), want.tpr);
  };
  await check(0.5);
  const slider = page.getByTestId('threshold-slider');
  await slider.focus();
  await page.keyboard.press('Home');
  await check(0);
  assert.equal(await panel.locator('td[data-cell="fn"]').textContent(), '0', 'threshold 0 calls every image positive');
  for (let i = 0; i < 30; i++) await page.keyboard.press('ArrowRight');
  await check(0.3);
  for (let i = 0; i < 45; i++) await page.keyboard.press('ArrowRight');
  await check(0.75);

  // --- Per series and per patient: the report's groups.
  assert.ok(report.perSeries && report.perPatient, 'the sample CT has series and patients');
  const perSeries = page.getByTestId('grouped-series');
  assert.equal(await perSeries.getAttribute('data-groups'), String(report.perSeries.groups));
  assert.equal(await perSeries.locator('tbody tr').count(), report.perSeries.rows.length);
  assert.equal(await perSeries.locator('[data-metric="accuracy"]').textContent(), report.perSeries.accuracy.toFixed(3));
  assert.equal(await page.getByTestId('grouped-patient').getAttribute('data-groups'), String(report.perPatient.groups));
  await panel.scrollIntoViewIfNeeded();
  await screenshot(page, 'runs-threshold');
  await close();
});

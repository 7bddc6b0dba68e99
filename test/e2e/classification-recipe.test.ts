/**
 * The classification recipe (issue 13 item 5) in headless Chromium against the real core and the
 * real ML engine (wasm), on the sample CT: the Training screen's "Regularisation" row (classification
 * only) refuses a label smoothing of 0.7 with the contract's message and Start disabled, then trains
 * a one-epoch run with label smoothing 0.1, mixup 0.2 and CutMix 1, stored in its config and shown in
 * its detail; on the Evaluation screen the run is evaluated with test-time augmentation, the stored
 * evaluation records the views and the screen says which.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { Browser } from 'playwright-core';
import type { ClassificationReport } from '../../electron/contract/evaluation';
import { readStoredEvaluation } from '../../electron/core/evaluation/evaluate-run';
import { SAMPLE_CT_DATASET } from '../../electron/core/samples/sample-library';
import { startBridge, type Bridge } from '../harness/bridge-server';
import { tempSampleCore } from '../helpers/sample-library-cache';
import type { tempCore } from '../helpers/temp-library';
import { collectPageErrors, launchBrowser, openApp, screenshot } from './browser';
import { openTraining } from './training-screen';

let browser: Browser;
let bridge: Bridge;
let t: ReturnType<typeof tempCore>;

before(async () => {
  t = await tempSampleCore('demo');
  bridge = await startBridge(t.core);
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
  await bridge?.close();
  t?.cleanup();
});

test('Regularisation fields train a classifier with smoothing, mixup and CutMix; evaluation with TTA says so', { timeout: 240_000 }, async () => {
  const { page, close } = await openApp(browser, bridge.url, { viewport: { width: 1400, height: 1000 } });
  const errors = collectPageErrors(page);
  const ct = t.core.datasets.findByName(SAMPLE_CT_DATASET);
  assert.ok(ct);
  await openTraining(page, ct.id, 'classification', 'grouped by patient');
  const row = page.getByTestId('train-regularisation');
  await row.waitFor();
  assert.equal(await page.getByTestId('train-mixup').getAttribute('placeholder'), '0 (off)');

  // Only classification has the row.
  await page.getByTestId('train-task').selectOption('segmentation');
  await row.waitFor({ state: 'detached' });
  await page.getByTestId('train-task').selectOption('classification');
  await row.waitFor();

  // --- Out of range: the contract's message at once, Start disabled, nothing started.
  await page.getByTestId('train-epochs').fill('1');
  await page.getByTestId('train-size').fill('32');
  await page.getByTestId('train-name').fill('regularised');
  await page.getByTestId('train-label-smoothing').fill('0.7');
  await page.getByTestId('train-recipe-problem').filter({ hasText: /Label smoothing is 0 \(none\) to 0\.5/ }).waitFor();
  assert.equal(await page.getByTestId('train-start').isDisabled(), true);
  await page.getByTestId('train-label-smoothing').fill('0.1');
  await page.getByTestId('train-mixup').fill('0.2');
  await page.getByTestId('train-cutmix').fill('1');
  await page.getByTestId('train-recipe-problem').waitFor({ state: 'detached' });
  assert.equal(t.core.runs.list(ct.id).length, 0);
  await row.scrollIntoViewIfNeeded();
  await screenshot(page, 'clsrecipe-setup');

  // --- The run: its config keeps the three; its detail shows them.
  await page.getByTestId('train-start').click();
  await page.getByTestId('run-name').filter({ hasText: /^regularised$/ }).waitFor({ timeout: 60_000 });
  await page.getByTestId('run-status').filter({ hasText: /^(done|stopped-early)$/ }).waitFor({ timeout: 180_000 });
  const run = t.core.runs.list(ct.id)[0];
  assert.ok(run);
  assert.equal(run.config.labelSmoothing, 0.1);
  assert.equal(run.config.mixup, 0.2);
  assert.equal(run.config.cutmix, 1);
  assert.equal(await page.getByTestId('run-regularisation').textContent(), 'label smoothing 0.1 · mixup α 0.2 · CutMix α 1');
  await page.getByTestId('run-info').scrollIntoViewIfNeeded();
  await screenshot(page, 'clsrecipe-run');

  // --- Evaluation with test-time augmentation.
  await page.keyboard.press('Alt+5');
  await page.getByTestId('eval-run-select').waitFor();
  await page.getByTestId('eval-run-select').selectOption(String(run.id));
  await page.getByTestId('eval-split').selectOption('all');
  await page.getByTestId('eval-tta').check();
  await page.getByTestId('eval-start').click();
  await page.getByTestId('eval-tta-used').or(page.getByTestId('eval-error')).waitFor({ timeout: 120_000 });
  if (await page.getByTestId('eval-error').isVisible()) assert.fail(`evaluation failed: ${await page.getByTestId('eval-error').textContent()}`);
  const report = readStoredEvaluation(t.core, run.id, 'all') as unknown as ClassificationReport;
  assert.deepEqual(report.source.tta, run.config.augment.flipVertical ? ['identity', 'flip-horizontal', 'flip-vertical'] : ['identity', 'flip-horizontal']);
  assert.equal(await page.getByTestId('eval-tta-used').textContent(), 'test-time augmentation: mean of the image and its left-right flip');
  await screenshot(page, 'clsrecipe-eval-tta');
  assert.deepEqual(errors, []);
  await close();
});

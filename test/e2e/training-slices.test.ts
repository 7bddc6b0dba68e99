/**
 * Issue 13 item 3 on the Training screen, in headless Chromium against the real core: for a small
 * CT series dataset whose slices lie close together (pydicom's CT2 series, copied for three patients
 * so that train, val and test each hold one), "Planned from the data" says 2.5-D is APPLIED and why
 * (its slices row, the core's reason) and the settings the run will use say 2.5-D; the planned run
 * started from the screen stores it and its detail shows the same slices decision.
 */
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { after, before, test } from 'node:test';
import type { Browser } from 'playwright-core';
import { planDecisions } from '../../electron/contract/recipe';
import { startBridge, type Bridge } from '../harness/bridge-server';
import { ctSeriesForThreePatients, importThreePatientSeries } from '../helpers/ct-series-patients';
import { requireTool } from '../helpers/reference-tools';
import { tempCore } from '../helpers/temp-library';
import { collectPageErrors, launchBrowser, screenshot } from './browser';
import { openTraining } from './training-screen';

let browser: Browser;
let bridge: Bridge;
let t: ReturnType<typeof tempCore>;
let dir: string;
let datasetId: number;

before(async () => {
  requireTool('pydicom');
  dir = ctSeriesForThreePatients();
  t = tempCore();
  ({ datasetId } = await importThreePatientSeries(t.core, dir));
  bridge = await startBridge(t.core);
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
  await bridge?.close();
  t?.cleanup();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test('a planned run on a thin-slice CT series shows and applies 2.5-D', { timeout: 180_000 }, async () => {
  const page = await browser.newPage({ viewport: { width: 1400, height: 1100 } });
  const errors = collectPageErrors(page);
  await page.goto(bridge.url);
  await openTraining(page, datasetId, 'segmentation');
  await page.getByTestId('train-recipe-kind').selectOption('planned');
  const decisions = page.getByTestId('recipe-decisions');
  await decisions.waitFor({ timeout: 30_000 });

  const { plan } = await t.core.training.plan(datasetId, 'segmentation', { recipe: 'planned' });
  assert.deepEqual(plan.slices.value, { recommended: '2.5d', applied: '2.5d' });
  const slices = decisions.locator('li[data-label="slices"] .reason');
  assert.equal(await slices.textContent(), planDecisions(plan).find((r) => r.label === 'slices')?.reason);
  assert.match((await slices.textContent()) ?? '', /so 2\.5D: the model sees the slice below, the slice and the slice above/);
  await page.getByTestId('recipe-config').filter({ hasText: '2.5-D (slice below, slice, slice above as channels)' }).waitFor();
  await decisions.locator('li[data-label="slices"]').scrollIntoViewIfNeeded();
  await screenshot(page, 'training-slices-plan');

  await page.getByTestId('train-epochs').fill('1');
  await page.getByTestId('train-start').click();
  await page.getByTestId('run-status').filter({ hasText: /^(done|stopped-early)$/ }).waitFor({ timeout: 120_000 });
  const runs = t.core.runs.list(datasetId);
  assert.equal(runs.length, 1);
  const run = runs[0];
  assert.ok(run);
  assert.equal(run.config.slices, '2.5d');
  assert.equal(run.config.channels, 3);
  const runPlan = page.getByTestId('run-plan');
  await runPlan.locator('summary').click();
  assert.equal(await runPlan.locator('li[data-label="slices"] .reason').textContent(), plan.slices.reason);
  await screenshot(page, 'training-slices-run');
  assert.deepEqual(errors, []);
  await page.close();
});

/**
 * Issue 13 items 1, 2 and 7 on the Training screen, in headless Chromium against the real core and
 * ML engine on the tiny sample library: the "Planned from the data" recipe shows the core's plan
 * (its decisions and reasons, as planDecisions lists them), the user's input size shows in the
 * settings the run will use, a bad time budget is refused before any request, "best model in
 * 0.25 minutes" starts a planned run whose live progress shows the budget left (m:ss) and which
 * stops on its budget, and the run detail shows the plan stored with the run. That run is built on
 * the pretrained ImageNet encoder, chosen on the screen, and runs until its budget is spent.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { Browser, Locator } from 'playwright-core';
import { planDecisions, type RecipePlan } from '../../electron/contract/recipe';
import { createSampleLibrary, SAMPLE_CT_DATASET } from '../../electron/core/samples/sample-library';
import { startBridge, type Bridge } from '../harness/bridge-server';
import { tempCore } from '../helpers/temp-library';
import { collectPageErrors, launchBrowser, screenshot } from './browser';
import { openTraining } from './training-screen';

let browser: Browser;
let bridge: Bridge;
let t: ReturnType<typeof tempCore>;
let datasetId: number;

before(async () => {
  t = tempCore();
  await createSampleLibrary(t.core, { size: 'tiny' });
  const ct = t.core.datasets.findByName(SAMPLE_CT_DATASET);
  assert.ok(ct);
  datasetId = ct.id;
  // The tiny CT's lesions are on one patient: its slices alternate train and validation (a
  // person's split), so that segmentation can train and validate; the other patient is held out.
  const items = t.core.db.prepare('SELECT id, series_id FROM items WHERE dataset_id = ? ORDER BY series_id, id').all(ct.id) as { id: number; series_id: number }[];
  const labelled = new Set(t.core.db.prepare("SELECT DISTINCT item_id FROM annotations WHERE dataset_id = ? AND kind IN ('mask', 'polygon')").pluck().all(ct.id) as number[]);
  const lesionSeries = items.find((i) => labelled.has(i.id))?.series_id;
  const slices = items.filter((i) => i.series_id === lesionSeries).map((i) => i.id);
  // (setSplit keeps a patient whole, so the alternate slices are moved in SQLite here).
  t.core.splits.setSplit(ct.id, slices, 'train');
  t.core.splits.setSplit(ct.id, items.filter((i) => i.series_id !== lesionSeries).map((i) => i.id), 'test');
  const toVal = t.core.db.prepare("UPDATE splits SET split = 'val' WHERE dataset_id = ? AND item_id = ?");
  for (const id of slices.filter((_, k) => k % 2 === 1)) toVal.run(ct.id, id);
  bridge = await startBridge(t.core);
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
  await bridge?.close();
  t?.cleanup();
});

async function shownRows(list: Locator): Promise<{ label: string; reason: string }[]> {
  return list.locator('li').evaluateAll((lis) => lis.map((li) => ({ label: li.querySelector('.label')?.textContent ?? '', reason: li.querySelector('.reason')?.textContent ?? '' })));
}

async function corePlan(timeBudgetSeconds?: number): Promise<RecipePlan> {
  return (await t.core.training.plan(datasetId, 'segmentation', { recipe: 'planned', ...(timeBudgetSeconds ? { timeBudgetSeconds } : {}) })).plan;
}

test('the planned recipe and "best model in N minutes" on the Training screen, and the run keeps its plan', { timeout: 120_000 }, async () => {
  const page = await browser.newPage({ viewport: { width: 1400, height: 1100 } });
  const errors = collectPageErrors(page);
  await page.goto(bridge.url);
  await openTraining(page, datasetId, 'segmentation');

  // Task defaults: no plan asked for, none shown.
  const decisions = page.getByTestId('recipe-decisions');
  assert.equal(await page.getByTestId('train-recipe-kind').inputValue(), 'defaults');
  assert.equal(await decisions.count(), 0);

  // Planned from the data: the core's decisions with their reasons, in planDecisions' order.
  await page.getByTestId('train-recipe-kind').selectOption('planned');
  await decisions.waitFor({ timeout: 30_000 });
  const expected = planDecisions(await corePlan());
  assert.ok(expected.length >= 6);
  assert.deepEqual(await shownRows(decisions), expected);
  assert.ok(!expected.some((r) => r.label === 'time budget'));

  // The user's input size goes into the settings shown (and the request).
  const config = page.getByTestId('recipe-config');
  await page.getByTestId('train-size').fill('32');
  await config.filter({ hasText: 'input 32 px (yours)' }).waitFor();
  await page.getByTestId('train-size').fill('');
  await config.filter({ hasNotText: '(yours)' }).waitFor();

  // A bad budget is said at once and Start is disabled; 0.25 minutes plans for 15 s.
  const budget = page.getByTestId('train-budget');
  await budget.fill('-1');
  await page.getByTestId('train-budget-problem').filter({ hasText: 'minutes, a number above 0' }).waitFor();
  assert.equal(await page.getByTestId('train-start').isDisabled(), true);
  assert.equal(await decisions.count(), 0);
  await budget.fill('0.25');
  await decisions.locator('li[data-label="time budget"]').waitFor({ timeout: 30_000 });
  assert.deepEqual(await shownRows(decisions), planDecisions(await corePlan(15)));
  assert.equal(await page.getByTestId('train-recipe-kind').isDisabled(), true, 'a budget always plans');
  await config.filter({ hasText: 'epochs until 0:15 is spent' }).waitFor();
  await screenshot(page, 'training-recipe-plan');

  // The pretrained encoder, chosen here (the plan leaves it off for greyscale DICOM), and so is its reason.
  assert.equal(await page.getByTestId('train-encoder').locator('option').first().textContent(), "the plan's choice");
  await page.getByTestId('train-encoder').selectOption({ label: 'ImageNet MobileNetV2 (frozen)' });

  // Start: the live progress shows the budget left, m:ss of 0:15.
  await page.getByTestId('train-start').click();
  const left = page.getByTestId('train-budget-left');
  await left.waitFor({ timeout: 60_000 });
  assert.match((await left.textContent()) ?? '', /^Budget left \d+:\d\d of 0:15$/);
  await page.getByTestId('train-live').scrollIntoViewIfNeeded();
  await screenshot(page, 'training-recipe-budget-left');
  await page.getByTestId('run-status').filter({ hasText: /^(done|stopped-early)$/ }).waitFor({ timeout: 60_000 });

  const runs = t.core.runs.list(datasetId);
  assert.equal(runs.length, 1);
  const run = runs[0];
  assert.ok(run);
  assert.equal(run.config.timeBudgetSeconds, 15);
  const stored = run.config.plan;
  assert.ok(stored, 'the run stores its plan');
  assert.equal(stored.timeBudget?.value.seconds, 15);
  assert.equal(run.config.encoder, 'imagenet-mobilenetv2');
  assert.equal(run.config.inputSize % 32, 0);
  assert.match(stored.encoder?.reason ?? '', /as set/);
  assert.deepEqual([run.config.lrSchedule, run.config.earlyStoppingPatience], ['constant', 0], 'a budget: the budget ends the run');
  await page.getByTestId('run-encoder').filter({ hasText: 'on the frozen ImageNet MobileNetV2 encoder' }).waitFor();
  // Stopped on its budget (or, on a fast machine, by early stopping first): the screen says which.
  if (run.status === 'done') await page.getByTestId('run-budget-stopped').filter({ hasText: 'stopped on its time budget' }).waitFor();
  assert.match((await page.getByTestId('run-budget').textContent()) ?? '', /^Time budget 0:15/);

  // The run detail shows the stored plan's decisions.
  const runPlan = page.getByTestId('run-plan');
  await runPlan.locator('summary').click();
  assert.deepEqual(await shownRows(runPlan.locator('ol')), planDecisions(stored));
  await screenshot(page, 'training-recipe-run-plan');
  assert.deepEqual(errors, []);
  await page.close();
});

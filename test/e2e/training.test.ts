/**
 * Training from the UI on the sample library, in headless Chromium against
 * the real core and the real ML engine (wasm, in a worker thread): the plan
 * shows the patient-grouped split; unticking a class re-plans without it;
 * the automatic split is redrawn with other fractions and another seed and
 * the counts shown are the library's (a person's split kept); the live
 * progress and the curves move, and the run lands in the history and in
 * SQLite with the ticked classes.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { Browser } from 'playwright-core';
import { SAMPLE_CT_DATASET } from '../../electron/core/samples/sample-library';
import { startBridge, type Bridge } from '../harness/bridge-server';
import { tempSampleCore } from '../helpers/sample-library-cache';
import type { tempCore } from '../helpers/temp-library';
import { launchBrowser, openApp, screenshot } from './browser';
import { openTraining } from './training-screen';

let browser: Browser;
let bridge: Bridge;
let t: ReturnType<typeof tempCore>;

/** Slices of one patient labelled "artefact" (an image label wins over the series'). */
const ARTEFACT_SLICES = 4;

function splitRows(datasetId: number): { item_id: number; split: string; origin: string }[] {
  return t.core.db.prepare('SELECT item_id, split, origin FROM splits WHERE dataset_id = ? ORDER BY item_id').all(datasetId) as { item_id: number; split: string; origin: string }[];
}

before(async () => {
  t = await tempSampleCore('demo');
  const ct = t.core.datasets.findByName(SAMPLE_CT_DATASET);
  assert.ok(ct);
  // A third class on a few slices of the first series, and a person's split for the last patient.
  const artefact = t.core.annotations.ensureClass(ct.id, 'artefact');
  const items = t.core.db.prepare('SELECT id, series_id FROM items WHERE dataset_id = ? ORDER BY series_id, id').all(ct.id) as { id: number; series_id: number }[];
  const first = items.filter((i) => i.series_id === items[0]?.series_id).slice(0, ARTEFACT_SLICES);
  for (const i of first) t.core.annotations.create({ datasetId: ct.id, itemId: i.id, classId: artefact, kind: 'class', geometry: null, source: 'human', author: 'test' });
  const last = items.at(-1);
  assert.ok(last);
  t.core.splits.setSplit(ct.id, [last.id], 'test');
  bridge = await startBridge(t.core);
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
  await bridge?.close();
  t?.cleanup();
});

test('train a small classifier on the sample CT from the training screen and watch the curves move', { timeout: 240_000 }, async () => {
  const { page, close } = await openApp(browser, bridge.url, { viewport: { width: 1400, height: 1000 } });
  const ct = t.core.datasets.findByName(SAMPLE_CT_DATASET);
  assert.ok(ct);
  await openTraining(page, ct.id, 'classification', 'grouped by patient');
  const plan = page.getByTestId('train-plan');
  const planClasses = page.getByTestId('train-plan-classes');
  await planClasses.filter({ hasText: 'lesion present, normal, artefact' }).waitFor();
  const initialSamples = Number(await plan.locator('strong').first().textContent());

  // Untick "artefact": the plan trains the two other classes; its slice labels are left out
  // (those slices fall back to their series' label) and counted.
  const classes = page.getByTestId('train-classes');
  assert.equal(await classes.locator('input[type="checkbox"]').count(), 3);
  await classes.locator('input[data-class="artefact"]').click();
  await planClasses.filter({ hasText: /^lesion present, normal$/ }).waitFor();
  await plan.filter({ hasText: `${ARTEFACT_SLICES} annotation(s) are of classes the model does not have` }).waitFor();
  assert.equal(Number(await plan.locator('strong').first().textContent()), initialSamples);
  assert.equal(await classes.locator('input[data-class="artefact"]').isChecked(), false);
  // Unticking one more leaves a single-label classifier one class: said at once, start disabled.
  await classes.locator('input[data-class="normal"]').click();
  await page.getByTestId('train-class-problem').filter({ hasText: 'at least two classes' }).waitFor();
  assert.equal(await page.getByTestId('train-start').isDisabled(), true);
  await classes.locator('input[data-class="normal"]').click();
  await planClasses.filter({ hasText: /^lesion present, normal$/ }).waitFor();

  // Redraw the automatic split: 50/25/25, seed 7. The counts shown are the library's; the patient a person put in test stays there.
  const userRowsBefore = splitRows(ct.id).filter((r) => r.origin === 'user');
  await page.getByTestId('split-train').fill('50');
  await page.getByTestId('split-val').fill('25');
  await page.getByTestId('split-test').fill('25');
  await page.getByTestId('split-seed').fill('7');
  await page.getByTestId('split-redraw').click();
  await page.getByTestId('split-redraw-result').filter({ hasText: 'Redrawn with seed 7' }).waitFor();
  const summary = t.core.splits.summary(ct.id);
  const counts = page.getByTestId('train-split-counts');
  for (const sp of ['train', 'val', 'test'] as const) {
    await counts.locator(`td[data-split="${sp}"]`).filter({ hasText: new RegExp(`^${summary.counts[sp]}$`) }).waitFor();
    assert.equal(await counts.locator(`td[data-split-patients="${sp}"]`).textContent(), String(summary.patients[sp]));
  }
  assert.ok(summary.patientGrouped);
  assert.deepEqual(splitRows(ct.id).filter((r) => r.origin === 'user'), userRowsBefore);
  assert.equal(summary.byOrigin.user, userRowsBefore.length);
  assert.match((await plan.textContent()) ?? '', new RegExp(`${userRowsBefore.length} set by a person \\(never redrawn\\)`));
  const seeds = t.core.db.prepare("SELECT DISTINCT seed FROM splits WHERE dataset_id = ? AND origin = 'auto'").pluck().all(ct.id);
  assert.deepEqual(seeds, [7]);
  await screenshot(page, 'training-setup');
  // The preflight's explanation appears once app.info has answered.
  await page.getByTestId('train-backend-why').filter({ hasText: /tfjs-backend-wasm/ }).waitFor({ timeout: 30_000 });
  await page.getByTestId('train-epochs').fill('3');
  await page.getByTestId('train-size').fill('32');
  await page.getByTestId('train-start').click();

  await page.getByTestId('train-live').waitFor({ timeout: 60_000 });
  const chart = page.getByTestId('chart').first();
  const pointsAt = async () => Number(await chart.getAttribute('data-points'));
  const early = await pointsAt();
  await page.waitForFunction((n) => Number(document.querySelector('[data-testid="chart"]')?.getAttribute('data-points')) > n + 2, early, { timeout: 60_000 });
  await screenshot(page, 'training-live');
  await page.getByTestId('run-status').filter({ hasText: /^(done|stopped-early)$/ }).waitFor({ timeout: 180_000 });
  await screenshot(page, 'training-done');

  const runs = t.core.runs.list(ct.id);
  assert.equal(runs.length, 1);
  const run = runs[0];
  assert.ok(run && (run.status === 'done' || run.status === 'stopped-early'));
  assert.deepEqual(run.config.classNames, ['lesion present', 'normal'], 'the run trains the ticked classes');
  assert.equal(await page.getByTestId('run-classes').textContent(), 'classes lesion present, normal');
  assert.equal(run.backend, 'wasm');
  assert.equal(t.core.runs.epochs(run.id).length, run.epochsCompleted);
  const history = page.getByTestId('run-history').locator(`tr[data-run-id="${run.id}"]`);
  assert.match((await history.textContent()) ?? '', new RegExp(`${run.epochsCompleted}/3`));
  await close();
});

/**
 * Training from the UI on the sample library, in headless Chromium against
 * the real core and the real ML engine (wasm, in a worker thread): the plan
 * shows the patient-grouped split, the live progress and the curves move,
 * and the run lands in the history and in SQLite.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { Browser } from 'playwright-core';
import { createSampleLibrary, SAMPLE_CT_DATASET } from '../../electron/core/samples/sample-library';
import { startBridge, type Bridge } from '../harness/bridge-server';
import { tempCore } from '../helpers/temp-library';
import { collectPageErrors, launchBrowser, screenshot } from './browser';

let browser: Browser;
let bridge: Bridge;
let t: ReturnType<typeof tempCore>;

before(async () => {
  t = tempCore();
  await createSampleLibrary(t.core, { size: 'demo' });
  bridge = await startBridge(t.core);
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
  await bridge?.close();
  t?.cleanup();
});

test('train a small classifier on the sample CT from the training screen and watch the curves move', { timeout: 240_000 }, async () => {
  const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  const errors = collectPageErrors(page);
  await page.goto(bridge.url);
  await page.getByTestId('dataset-list').waitFor();
  await page.keyboard.press('Alt+3');
  const ct = t.core.datasets.findByName(SAMPLE_CT_DATASET);
  assert.ok(ct);
  await page.getByTestId('train-dataset').selectOption(String(ct.id));
  await page.getByTestId('train-task').selectOption('classification');
  const plan = page.getByTestId('train-plan');
  await plan.filter({ hasText: 'grouped by patient' }).waitFor({ timeout: 30_000 });
  assert.match((await plan.textContent()) ?? '', /lesion present/);
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
  assert.equal(run.backend, 'wasm');
  assert.equal(t.core.runs.epochs(run.id).length, run.epochsCompleted);
  const history = page.getByTestId('run-history').locator(`tr[data-run-id="${run.id}"]`);
  assert.match((await history.textContent()) ?? '', new RegExp(`${run.epochsCompleted}/3`));
  assert.deepEqual(errors, []);
  await page.close();
});

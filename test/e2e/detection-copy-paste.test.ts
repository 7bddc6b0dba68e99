/**
 * Copy-paste augmentation (issue 13 item 4) on the Training screen, in headless Chromium against the
 * real core and ML engine (wasm): the detection row (multi-scale and copy-paste; detection only)
 * refuses a probability of 1.5 with the contract's message and Start disabled; on the sample road
 * scenes (boxes only) a copy-paste run is refused before it starts with the message that names the
 * missing masks; on the sample CT's lesion masks a one-epoch detection run with copy-paste 0.5 and
 * multi-scale 0.25 trains, and its stored config and its detail carry both (the road scenes'
 * refusal is gone once another dataset is chosen).
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { Browser } from 'playwright-core';
import { SAMPLE_CT_DATASET, SAMPLE_ROAD_DATASET } from '../../electron/core/samples/sample-library';
import { startBridge, type Bridge } from '../harness/bridge-server';
import { tempSampleCore } from '../helpers/sample-library-cache';
import type { tempCore } from '../helpers/temp-library';
import { collectPageErrors, launchBrowser, openApp, screenshot } from './browser';

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

test('the detection row: copy-paste checked, refused without masks, and reaching the run config with masks', { timeout: 300_000 }, async () => {
  const { page, close } = await openApp(browser, bridge.url, { viewport: { width: 1400, height: 1100 } });
  const errors = collectPageErrors(page);
  await page.getByTestId('dataset-list').waitFor();
  await page.keyboard.press('Alt+3');
  const road = t.core.datasets.findByName(SAMPLE_ROAD_DATASET);
  const ct = t.core.datasets.findByName(SAMPLE_CT_DATASET);
  assert.ok(road && ct);
  await page.getByTestId('train-dataset').selectOption(String(road.id));
  await page.getByTestId('train-task').selectOption('detection');
  await page.getByTestId('train-plan').waitFor({ timeout: 30_000 });
  const row = page.getByTestId('train-detection-augment');
  await row.waitFor();
  assert.equal(await page.getByTestId('train-aug-copy-paste').getAttribute('placeholder'), '0.25', 'the default');

  // Only detection has the row.
  await page.getByTestId('train-task').selectOption('classification');
  await row.waitFor({ state: 'detached' });
  await page.getByTestId('train-task').selectOption('detection');
  await row.waitFor();

  // Out of range: the contract's message at once, Start disabled.
  await page.getByTestId('train-epochs').fill('1');
  await page.getByTestId('train-size').fill('32');
  await page.getByTestId('train-aug-copy-paste').fill('1.5');
  await page.getByTestId('train-recipe-problem').filter({ hasText: 'Copy-paste is a probability from 0 (off) to 1.' }).waitFor();
  assert.equal(await page.getByTestId('train-start').isDisabled(), true);

  // Boxes only: refused before a run exists, saying why.
  await page.getByTestId('train-aug-copy-paste').fill('0.5');
  await page.getByTestId('train-recipe-problem').waitFor({ state: 'detached' });
  await page.getByTestId('train-start').click();
  await page.getByRole('alert').filter({ hasText: /no detection object of this dataset has an instance mask or a polygon \(boxes only\)/ }).waitFor({ timeout: 30_000 });
  assert.equal(t.core.runs.list(road.id).length, 0);
  await row.scrollIntoViewIfNeeded();
  await screenshot(page, 'copy-paste-refused');

  // The CT's lesion masks: the run trains with copy-paste (and multi-scale) in its config.
  await page.getByTestId('train-dataset').selectOption(String(ct.id));
  await page.getByTestId('train-task').selectOption('detection');
  await page.getByTestId('train-plan').waitFor({ timeout: 30_000 });
  // The refusal spoke of the road scenes: it goes with them.
  await page.getByRole('alert').filter({ hasText: /no detection object of this dataset/ }).waitFor({ state: 'detached' });
  await page.getByTestId('train-epochs').fill('1');
  await page.getByTestId('train-size').fill('64');
  await page.getByTestId('train-name').fill('pasted lesions');
  await page.getByTestId('train-aug-copy-paste').fill('0.5');
  await page.getByTestId('train-aug-multi-scale').fill('0.25');
  await row.scrollIntoViewIfNeeded();
  await screenshot(page, 'copy-paste-setup');
  await page.getByTestId('train-start').click();
  await page.getByTestId('run-name').filter({ hasText: /^pasted lesions$/ }).waitFor({ timeout: 60_000 });
  await page.getByTestId('run-status').filter({ hasText: /^(done|stopped-early)$/ }).waitFor({ timeout: 240_000 });
  const run = t.core.runs.list(ct.id).find((r) => r.task === 'detection');
  assert.ok(run);
  assert.equal(run.config.augment.copyPaste, 0.5);
  assert.equal(run.config.augment.multiScale, 0.25);
  const augment = (await page.getByTestId('run-augment').textContent()) ?? '';
  assert.ok(augment.includes('multi-scale ±25%') && augment.includes('copy-paste p 0.5'), augment);
  await page.getByTestId('run-info').scrollIntoViewIfNeeded();
  await screenshot(page, 'copy-paste-run');
  assert.deepEqual(errors, []);
  await close();
});

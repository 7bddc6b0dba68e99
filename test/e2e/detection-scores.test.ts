/**
 * Issue 13 item 4 in headless Chromium against the real core and ML engine (wasm): a small
 * detector trained from the Training screen on the sample road scenes (car, pedestrian and sign
 * boxes) shows, in its run detail, validation AP@0.5 per class for every epoch (the numbers
 * stored with the run's epochs) and the decoding chosen on the validation split after training
 * (stored in the run's config, where evaluation and prediction read it).
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { Browser } from 'playwright-core';
import { SAMPLE_ROAD_DATASET } from '../../electron/core/samples/sample-library';
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

test('a detection run shows AP@0.5 per class per epoch and its tuned decoding', { timeout: 480_000 }, async () => {
  const { page, close } = await openApp(browser, bridge.url, { viewport: { width: 1400, height: 1100 } });
  const errors = collectPageErrors(page);
  await page.getByTestId('dataset-list').waitFor();
  await page.keyboard.press('Alt+3');
  const road = t.core.datasets.findByName(SAMPLE_ROAD_DATASET);
  assert.ok(road);
  await page.getByTestId('train-dataset').selectOption(String(road.id));
  await page.getByTestId('train-task').selectOption('detection');
  await page.getByTestId('train-plan').waitFor({ timeout: 30_000 });
  await page.getByTestId('train-epochs').fill('2');
  await page.getByTestId('train-size').fill('64');
  await page.getByTestId('train-start').click();
  await page.getByTestId('run-status').filter({ hasText: /^(done|stopped-early)$/ }).waitFor({ timeout: 400_000 });

  const run = t.core.runs.list().find((r) => r.task === 'detection');
  assert.ok(run);
  const stored = t.core.runs.get(run.id);
  const epochs = t.core.runs.epochs(run.id);
  assert.equal(epochs.length, 2);
  const table = page.getByTestId('run-ap-per-class');
  await table.waitFor();
  const classes = stored.config.classNames.filter((c) => epochs.some((e) => e.valMetrics[`ap50/${c}`] !== undefined));
  assert.ok(classes.length >= 2, `classes with validation boxes: ${classes.join(', ')}`);
  for (const c of classes) assert.equal(await table.locator('th', { hasText: new RegExp(`^${c}$`) }).count(), 1, `column ${c}`);
  for (const e of epochs) {
    const row = table.locator(`tr[data-epoch="${e.epoch}"]`);
    assert.equal(await row.locator('[data-class="mean"]').textContent(), (e.valMetrics['ap50'] as number).toFixed(3));
    for (const c of classes) {
      const v = e.valMetrics[`ap50/${c}`];
      assert.equal(await row.locator(`[data-class="${c}"]`).textContent(), v === undefined ? '—' : v.toFixed(3), `epoch ${e.epoch} ${c}`);
    }
  }
  assert.match((await table.locator(`tr[data-epoch="${stored.bestEpoch}"] td`).first().textContent()) ?? '', /★/);

  const d = stored.config.decoding;
  assert.ok(d?.tuned, JSON.stringify(stored.config.decoding));
  const line = (await page.getByTestId('run-decoding').textContent()) ?? '';
  assert.ok(line.includes(`score ≥ ${d.scoreThreshold}`) && line.includes(`top ${d.topK}`) && line.includes(d.tuned.valAp50.toFixed(3)), line);
  await page.getByTestId('run-name').scrollIntoViewIfNeeded();
  await page.evaluate(() => document.querySelector('[data-testid="run-name"]')?.scrollIntoView({ block: 'start' }));
  await screenshot(page, 'detection-scores');
  assert.deepEqual(errors, []);
  await close();
});

/**
 * Warm starts from the Training screen (issue 13 item 6), in headless Chromium against the real
 * core and the real ML engine (wasm, in a worker): a run trained earlier on the sample CT is listed
 * under "Start from" (with its classes and input size once chosen); an input size its weights
 * cannot fit is refused at Start with the layer named and no run created; the new run started from
 * it says "started from run N (all k layers loaded)" in its detail, as its stored config does.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { Browser } from 'playwright-core';
import { describeWarmStart } from '../../electron/contract/runs';
import { SAMPLE_CT_DATASET } from '../../electron/core/samples/sample-library';
import { startBridge, type Bridge } from '../harness/bridge-server';
import { tempSampleCore } from '../helpers/sample-library-cache';
import type { tempCore } from '../helpers/temp-library';
import { launchBrowser, openApp, screenshot } from './browser';

let browser: Browser;
let bridge: Bridge;
let t: ReturnType<typeof tempCore>;
let sourceRunId = 0;

before(async () => {
  t = await tempSampleCore('demo');
  const ct = t.core.datasets.findByName(SAMPLE_CT_DATASET);
  assert.ok(ct);
  // The earlier run, trained through the core (the same door the screen's request uses).
  const source = await t.core.training.train(ct.id, 'classification', { epochs: 1, inputSize: 32, batchSize: 8, backend: 'wasm', name: 'ct base' });
  assert.equal(source.outcome.status, 'done', JSON.stringify(source.outcome));
  sourceRunId = source.runId;
  bridge = await startBridge(t.core);
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
  await bridge?.close();
  t?.cleanup();
});

test('choose an earlier run under "Start from"; a misfit is refused naming the layer; the new run says where it started', { timeout: 300_000 }, async () => {
  const { page, close } = await openApp(browser, bridge.url, { viewport: { width: 1400, height: 1100 } });
  await page.getByTestId('dataset-list').waitFor();
  await page.keyboard.press('Alt+3');
  const ct = t.core.datasets.findByName(SAMPLE_CT_DATASET);
  assert.ok(ct);
  await page.getByTestId('train-dataset').selectOption(String(ct.id));
  await page.getByTestId('train-task').selectOption('classification');
  await page.getByTestId('train-plan').filter({ hasText: 'grouped by patient' }).waitFor({ timeout: 30_000 });

  // The earlier run is offered; choosing it says what will be loaded.
  const select = page.getByTestId('train-warm-start');
  await select.locator(`option[value="${sourceRunId}"]`).filter({ hasText: 'ct base' }).waitFor({ state: 'attached' });
  await select.selectOption(String(sourceRunId));
  await page.getByTestId('train-warm-start-note').filter({ hasText: 'Same classes: every layer starts from its weights. Input 32 px' }).waitFor();
  assert.equal(await page.getByTestId('train-size').getAttribute('placeholder'), '32', "the input size defaults to the earlier run's");
  await page.getByTestId('train-epochs').fill('1');

  // 64 px builds a deeper classifier than the 32 px run's: refused at Start, the layer named, nothing created.
  await page.getByTestId('train-size').fill('64');
  await page.getByTestId('train-start').click();
  const refusal = page.getByRole('alert').filter({ hasText: /Cannot start from run \d+: layer "block3_conv" of the new model has no weights in run \d+.*trained at 32 px/ });
  await refusal.waitFor({ timeout: 60_000 });
  await screenshot(page, 'warm-start-refused');
  assert.equal(t.core.runs.list(ct.id).length, 1, 'no run was created');

  // Its own input size (field emptied): the run starts from the earlier one's weights.
  await page.getByTestId('train-size').fill('');
  await page.getByTestId('train-name').fill('from base');
  await page.getByTestId('train-start').click();
  await page.getByTestId('run-name').filter({ hasText: /^from base$/ }).waitFor({ timeout: 60_000 });
  await page.getByTestId('run-status').filter({ hasText: /^(done|stopped-early)$/ }).waitFor({ timeout: 180_000 });
  const run = t.core.runs.list(ct.id)[0];
  assert.ok(run && run.id !== sourceRunId);
  const ws = run.config.warmStart;
  assert.ok(ws);
  assert.equal(ws.runId, sourceRunId);
  assert.equal(ws.layersNew, 0);
  assert.equal(run.config.inputSize, 32);
  const shown = page.getByTestId('run-warm-start');
  await shown.waitFor();
  assert.equal(await shown.textContent(), describeWarmStart(ws));
  await shown.scrollIntoViewIfNeeded();
  assert.match(describeWarmStart(ws), new RegExp(`^started from run ${sourceRunId} \\(all \\d+ layers loaded\\)$`));
  await screenshot(page, 'warm-start-run');

  // The earlier run's own detail has no such line.
  await page.getByTestId(`run-link-${sourceRunId}`).click();
  await page.getByTestId('run-name').filter({ hasText: /^ct base$/ }).waitFor();
  assert.equal(await page.getByTestId('run-warm-start').count(), 0);
  await close();
});

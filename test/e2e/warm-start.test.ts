/**
 * Warm starts from the Training screen (issue 13 item 6), in headless Chromium against the real
 * core and the real ML engine (wasm, in a worker): a run trained earlier on the sample CT is listed
 * under "Start from" (with its classes and input size once chosen); an input size its weights
 * cannot fit is refused at Start with the layer named and no run created; the new run started from
 * it says "started from run N (all k layers loaded)" in its detail, as its stored config does.
 * An imported ONNX model (that run exported to ONNX and imported with import-model) is listed
 * beside the runs; the same misfit is refused naming the layer, and a run started from it says
 * "started from model NAME (...)".
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { Browser } from 'playwright-core';
import { join } from 'node:path';
import { describeWarmStart } from '../../electron/contract/runs';
import { importModel } from '../../electron/core/assist/model-import';
import { exportModel } from '../../electron/core/export/model-export';
import { SAMPLE_CT_DATASET } from '../../electron/core/samples/sample-library';
import { startBridge, type Bridge } from '../harness/bridge-server';
import { tempSampleCore } from '../helpers/sample-library-cache';
import type { tempCore } from '../helpers/temp-library';
import { createAssistEngine } from '../../native-models/assist/assist-engine';
import { launchBrowser, openApp, screenshot } from './browser';

let browser: Browser;
let bridge: Bridge;
let t: ReturnType<typeof tempCore>;
let sourceRunId = 0;
const engine = createAssistEngine();
/** The earlier run exported to ONNX (Fovea's own export) and imported as a model of the library. */
const ONNX_MODEL = 'ct-base-onnx';

before(async () => {
  t = await tempSampleCore('demo', { assist: engine, modelPacksDir: null });
  const ct = t.core.datasets.findByName(SAMPLE_CT_DATASET);
  assert.ok(ct);
  // The earlier run, trained through the core (the same door the screen's request uses).
  const source = await t.core.training.train(ct.id, 'classification', { epochs: 1, inputSize: 32, batchSize: 8, backend: 'wasm', name: 'ct base' });
  assert.equal(source.outcome.status, 'done', JSON.stringify(source.outcome));
  sourceRunId = source.runId;
  const out = join(t.dir, 'ct-base-onnx');
  await exportModel(t.core, { runId: source.runId, format: 'onnx', outDir: out });
  await importModel(t.core.modelImportDeps(), { path: join(out, 'model.onnx'), name: ONNX_MODEL });
  bridge = await startBridge(t.core);
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
  await bridge?.close();
  t?.cleanup();
  await engine.dispose();
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

test('an imported ONNX model is listed under "Start from"; a misfit is refused naming the layer; the new run says "started from model NAME"', { timeout: 300_000 }, async () => {
  const { page, close } = await openApp(browser, bridge.url, { viewport: { width: 1400, height: 1100 } });
  await page.getByTestId('dataset-list').waitFor();
  await page.keyboard.press('Alt+3');
  const ct = t.core.datasets.findByName(SAMPLE_CT_DATASET);
  assert.ok(ct);
  await page.getByTestId('train-dataset').selectOption(String(ct.id));
  await page.getByTestId('train-task').selectOption('classification');
  await page.getByTestId('train-plan').filter({ hasText: 'grouped by patient' }).waitFor({ timeout: 30_000 });

  const select = page.getByTestId('train-warm-start');
  await select.locator(`optgroup[label="Imported models"] option[value="model:${ONNX_MODEL}"]`).filter({ hasText: `${ONNX_MODEL} · ` }).waitFor({ state: 'attached' });
  await select.selectOption(`model:${ONNX_MODEL}`);
  await page.getByTestId('train-warm-start-note').filter({ hasText: 'Same classes: every layer starts from its weights. Layers are matched by order and shape. Input 32 px' }).waitFor();
  assert.equal(await page.getByTestId('train-size').getAttribute('placeholder'), '32', "the input size defaults to the model's");
  await page.getByTestId('train-epochs').fill('1');
  const before = t.core.runs.list(ct.id).length;

  await page.getByTestId('train-size').fill('64');
  await page.getByTestId('train-start').click();
  await page.getByRole('alert').filter({ hasText: new RegExp(`Cannot start from model ${ONNX_MODEL}: layer "block3_conv" does not fit .*trained at 32 px`) }).waitFor({ timeout: 60_000 });
  await screenshot(page, 'warm-start-onnx-refused');
  assert.equal(t.core.runs.list(ct.id).length, before, 'no run was created');

  await page.getByTestId('train-size').fill('');
  await page.getByTestId('train-name').fill('from onnx');
  await page.getByTestId('train-start').click();
  await page.getByTestId('run-name').filter({ hasText: /^from onnx$/ }).waitFor({ timeout: 60_000 });
  await page.getByTestId('run-status').filter({ hasText: /^(done|stopped-early)$/ }).waitFor({ timeout: 180_000 });
  const run = t.core.runs.list(ct.id)[0];
  const ws = run?.config.warmStart;
  assert.ok(run && ws);
  assert.deepEqual([ws.runId, ws.model, ws.onnx, ws.layersNew, run.config.inputSize], [null, ONNX_MODEL, 'imported', 0, 32]);
  const shown = page.getByTestId('run-warm-start');
  await shown.waitFor();
  assert.equal(await shown.textContent(), describeWarmStart(ws));
  assert.match(describeWarmStart(ws), new RegExp(`^started from model ${ONNX_MODEL} \\(all \\d+ layers loaded\\)$`));
  await shown.scrollIntoViewIfNeeded();
  await screenshot(page, 'warm-start-onnx-run');
  await close();
});

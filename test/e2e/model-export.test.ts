/**
 * Model export from the Training screen's run history, in headless Chromium
 * against the real core: a short detection run on the tiny sample library,
 * then "Export model…" (the panel names the run: "name #N"), ONNX, a folder: model.onnx, model-card.json and the
 * manifest are written; a second export into the same folder is refused
 * with the backend's message.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { Browser } from 'playwright-core';
import { SAMPLE_ROAD_DATASET } from '../../electron/core/samples/sample-library';
import { createMlEngine } from '../../native-models/engine';
import { startBridge, type Bridge } from '../harness/bridge-server';
import { tempSampleCore } from '../helpers/sample-library-cache';
import type { tempCore } from '../helpers/temp-library';
import { launchBrowser, openApp, screenshot } from './browser';

let browser: Browser;
let bridge: Bridge;
let t: ReturnType<typeof tempCore>;
let runId: number;

before(async () => {
  t = await tempSampleCore('tiny', { ml: createMlEngine({ workerless: true }) });
  const road = t.core.datasets.findByName(SAMPLE_ROAD_DATASET);
  assert.ok(road);
  const trained = await t.core.training.train(road.id, 'detection', { epochs: 1, batchSize: 4, inputSize: 32, backend: 'wasm', name: 'road baseline' });
  assert.equal(trained.outcome.status, 'done');
  runId = trained.runId;
  bridge = await startBridge(t.core);
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
  await bridge?.close();
  t?.cleanup();
});

test('export a run as ONNX from the run history', { timeout: 120_000 }, async () => {
  const { page, close } = await openApp(browser, bridge.url, { viewport: { width: 1400, height: 1000 } });
  await page.getByTestId('dataset-list').waitFor();
  await page.keyboard.press('Alt+3');
  await page.getByTestId(`export-model-${runId}`).click();
  assert.equal((await page.getByTestId('model-export-title').textContent())?.trim(), `Export model of road baseline #${runId}`);
  const out = join(t.dir, 'exported model');
  await page.getByTestId('model-export-format').selectOption('onnx');
  await page.getByTestId('model-export-folder').fill(out);
  await page.getByTestId('model-export-go').click();
  await page.getByTestId('model-export-done').waitFor({ timeout: 60_000 });
  await screenshot(page, 'model-export-done');
  for (const f of ['model.onnx', 'model-card.json', 'fovea-manifest.json']) assert.ok(existsSync(join(out, f)), f);
  const card = JSON.parse(readFileSync(join(out, 'model-card.json'), 'utf8')) as { task: string; outputs: { name: string }[] };
  assert.equal(card.task, 'detection');
  assert.deepEqual(card.outputs.map((o) => o.name), ['heatmap', 'size', 'offset']);

  // Again into the same folder: refused, and the message says why.
  await page.getByTestId('model-export-go').click();
  await page.getByRole('alert').filter({ hasText: /already/ }).waitFor({ timeout: 30_000 });
  await close();
});

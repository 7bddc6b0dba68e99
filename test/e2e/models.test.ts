/**
 * The Models screen (Alt+8) in headless Chromium against the REAL core: the shipped pack is
 * listed as verified; an ONNX model that does not fit is refused with what was expected and
 * found; a classifier (made by test/reference/make_onnx_layouts.py) is imported with its class
 * names, its classes map onto the dataset's by name (one by hand), and its pass over the dataset
 * stores proposals that the database then holds. Screenshots: test-results/screenshots/models-*.png.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { Browser } from 'playwright-core';
import sharp from 'sharp';
import type { Core } from '../../electron/core/composition-root';
import { createAssistEngine } from '../../native-models/assist/assist-engine';
import { startBridge, type Bridge } from '../harness/bridge-server';
import { REPO_ROOT } from '../helpers/paths';
import { tempCore, tempDir } from '../helpers/temp-library';
import { launchBrowser, openApp, screenshot } from './browser';

const PYTHON = '/usr/bin/python3';
const engine = createAssistEngine();
let browser: Browser;
let bridge: Bridge;
let core: Core;
let cleanup: () => void;
const work = tempDir('fovea-models-e2e-');
let datasetId = 0;

before(async () => {
  const probe = spawnSync(PYTHON, ['-c', 'import torch, onnx'], { encoding: 'utf8' });
  assert.equal(probe.status, 0, `PyTorch and onnx build the test graphs: apt-get install python3-torch python3-onnx\n${probe.stderr}`);
  const r = spawnSync(PYTHON, [join(REPO_ROOT, 'test', 'reference', 'make_onnx_layouts.py'), join(work.dir, 'graphs')], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  writeFileSync(join(work.dir, 'classes.txt'), 'red\ngreen\nblue\ngrey\n');
  const images = join(work.dir, 'images');
  mkdirSync(images);
  const colours: [string, [number, number, number]][] = [['a.png', [230, 20, 20]], ['b.png', [20, 220, 30]], ['c.png', [20, 30, 240]], ['d.png', [210, 40, 30]]];
  for (const [n, [r0, g, b]] of colours) await sharp({ create: { width: 48, height: 32, channels: 3, background: { r: r0, g, b } } }).png().toFile(join(images, n));
  const t = tempCore({ assist: engine });
  core = t.core;
  cleanup = t.cleanup;
  const ds = core.datasets.create('Swatches', '');
  datasetId = ds.id;
  await core.importFiles({ datasetId, paths: [images] });
  for (const c of ['Red', 'green', 'azure']) core.annotations.ensureClass(datasetId, c);
  bridge = await startBridge(core);
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await bridge?.close();
  cleanup?.();
  await engine.dispose();
  work.cleanup();
});

test('import a classifier on the Models screen, map its classes, propose labels; a misfit is refused with the reason', async () => {
  const { page, close } = await openApp(browser, bridge.url, { viewport: { width: 1400, height: 900 } });
  await page.keyboard.press('Alt+8');
  await page.locator('[data-testid="model-minisam"][data-status="ok"]').waitFor({ timeout: 60_000 });

  // A model whose output fits no known layout.
  await page.getByTestId('import-model-path').fill(join(work.dir, 'graphs', 'bad_output.onnx'));
  await page.getByTestId('import-model-start').click();
  await page.getByTestId('import-model-error').filter({ hasText: /does not fit: its output "y" is \[1, 7, 9\]/ }).waitFor({ timeout: 60_000 });

  await page.getByTestId('import-model-path').fill(join(work.dir, 'graphs', 'classifier.onnx'));
  await page.getByTestId('import-model-name').fill('swatch-colours');
  await page.getByTestId('import-model-classes').fill(join(work.dir, 'classes.txt'));
  await page.getByTestId('import-model-start').click();
  await page.getByTestId('import-model-done').filter({ hasText: /swatch-colours: classification, 4 classes, read as classifier-logits \(from the graph\)/ }).waitFor({ timeout: 60_000 });
  await page.locator('[data-testid="model-swatch-colours"][data-status="ok"]').waitFor();

  await page.getByTestId('predict-model').selectOption('swatch-colours');
  await page.getByTestId('predict-dataset').selectOption({ label: 'Swatches' });
  // By name (case-insensitive): red -> Red, green -> green; blue by hand -> azure; grey left out.
  await page.waitForFunction(() => (document.querySelector('[data-testid="map-red"]') as HTMLSelectElement | null)?.value === 'Red');
  assert.equal(await page.getByTestId('map-green').inputValue(), 'green');
  assert.equal(await page.getByTestId('map-blue').inputValue(), '');
  await page.getByTestId('map-blue').selectOption('azure');
  await screenshot(page, 'models-mapped');
  await page.getByTestId('predict-start').click();
  await page.getByTestId('predict-done').filter({ hasText: /4 proposals on 4 images/ }).waitFor({ timeout: 120_000 });
  await screenshot(page, 'models-predicted');

  const classes = new Map(core.annotations.listClasses(datasetId).map((c) => [c.id, c.name]));
  const rows = core.annotations.listForDataset(datasetId).filter((a) => a.author === 'model:swatch-colours');
  assert.equal(rows.length, 4);
  assert.ok(rows.every((a) => a.kind === 'class' && a.status === 'proposed' && a.source === 'model'));
  const names = new Map((core.db.prepare('SELECT id, source_name AS n FROM items WHERE dataset_id = ?').all(datasetId) as { id: number; n: string }[]).map((r) => [r.id, r.n]));
  const got = Object.fromEntries(rows.map((a) => [names.get(a.itemId as number), classes.get(a.classId)]));
  assert.deepEqual(got, { 'a.png': 'Red', 'b.png': 'green', 'c.png': 'azure', 'd.png': 'Red' });
  await close();
});

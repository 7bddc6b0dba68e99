/**
 * The renderer build in headless Chromium, wired to the REAL core through
 * the loopback bridge: it lists datasets that exist in a real library and
 * creates one through the UI.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { Browser } from 'playwright-core';
import type { Core } from '../../electron/core/composition-root';
import { startBridge, type Bridge } from '../harness/bridge-server';
import { tempCore } from '../helpers/temp-library';
import { launchBrowser, openApp, screenshot } from './browser';

let browser: Browser;
let bridge: Bridge;
let core: Core;
let cleanup: () => void;

before(async () => {
  const t = tempCore();
  core = t.core;
  cleanup = t.cleanup;
  core.datasets.create('Chest CT', 'Synthetic CT series');
  core.datasets.create('Road scenes', '');
  bridge = await startBridge(core);
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await bridge?.close();
  cleanup?.();
});

test('library home lists the datasets of a real library and the ML backend status', async () => {
  const { page, close } = await openApp(browser, bridge.url, { viewport: { width: 1280, height: 800 } });
  const list = page.getByTestId('dataset-list');
  await list.waitFor();
  const names = await list.locator('tbody tr .name').allTextContents();
  assert.deepEqual(names, ['Chest CT', 'Road scenes']);

  // The backend table comes from the real preflight: wasm chosen here, tfjs-node-gpu unavailable with a reason.
  const table = page.getByTestId('backend-table');
  await table.waitFor({ timeout: 30_000 });
  const gpuRow = table.locator('tr[data-backend="tensorflow-gpu"]');
  assert.match(await gpuRow.textContent() ?? '', /unavailable/);
  assert.match(await gpuRow.locator('.reason').textContent() ?? '', /CUDA 11\.2/);
  assert.match(await page.getByTestId('backend-why').textContent() ?? '', /^Using wasm/);
  assert.equal((await page.getByTestId('nav-backend').textContent())?.trim(), 'ML: wasm');

  await screenshot(page, 'library-home');
  await close();
});

test('a dataset created from the keyboard in the UI is stored in the library', async () => {
  const { page, close } = await openApp(browser, bridge.url, { viewport: { width: 1280, height: 800 } });
  await page.getByTestId('dataset-list').waitFor();
  await page.keyboard.press('n');
  await page.keyboard.type('Knee MRI');
  await page.keyboard.press('Enter');
  await page.locator('tbody tr .name', { hasText: 'Knee MRI' }).waitFor();
  assert.ok(core.datasets.findByName('Knee MRI'), 'the dataset is in SQLite');

  // A duplicate name is refused with the backend's message, and nothing is lost.
  await page.keyboard.press('n');
  await page.keyboard.type('knee mri');
  await page.keyboard.press('Enter');
  await page.getByRole('alert').filter({ hasText: 'already exists' }).waitFor();
  assert.equal(core.datasets.list().length, 3);
  await screenshot(page, 'library-create-duplicate');
  await close();
});

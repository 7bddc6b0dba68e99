/**
 * Issue 19 leftovers in headless Chromium against the REAL core and real files: the DICOM tags
 * tab is not offered for a photo (and Ctrl+I does nothing there), while a DICOM image, colour or
 * grey, keeps it; the corner overlay shows W/L for a greyscale image only, never for a colour
 * one (a colour DICOM ultrasound, a colour photo).
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import type { Core } from '../../electron/core/composition-root';
import { writeSyntheticRoadScenes } from '../../electron/core/samples/synthetic-road';
import { startBridge, type Bridge } from '../harness/bridge-server';
import { SHARED_TESTDATA } from '../helpers/paths';
import { tempCore, tempDir } from '../helpers/temp-library';
import { collectPageErrors, launchBrowser, screenshot } from './browser';

const DICOM = join(SHARED_TESTDATA, 'dicom');
const CT = join(DICOM, 'pydicom', 'CT_small.dcm');
/** RGB ultrasound. */
const RGB_US = join(DICOM, 'pydicom-data', 'US1_UNCR.dcm');

let browser: Browser;
let bridge: Bridge;
let core: Core;
let cleanup: () => void;
let data: { dir: string; cleanup(): void };

before(async () => {
  const t = tempCore();
  core = t.core;
  cleanup = t.cleanup;
  core.annotatorSettings.set({ annotatorName: 'Dr Left' });
  const ds = core.datasets.create('Scans', '');
  await core.importFiles({ datasetId: ds.id, paths: [CT, RGB_US] });
  data = tempDir('fovea-leftovers-');
  await writeSyntheticRoadScenes(join(data.dir, 'road'), { count: 1, width: 320, height: 240, seed: 5 });
  const r = core.datasets.create('Photos', '');
  await core.importFiles({ datasetId: r.id, paths: [join(data.dir, 'road', 'images')] });
  core.annotations.ensureClass(r.id, 'car');
  bridge = await startBridge(core);
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await bridge?.close();
  cleanup?.();
  data?.cleanup();
});

async function open(page: Page, dataset: string, search: string): Promise<void> {
  await page.keyboard.press('Alt+4');
  await page.getByTestId('browse-grid').waitFor();
  await page.getByTestId('browse-dataset').selectOption({ label: dataset });
  await page.getByTestId('filter-search').fill(search);
  const name = dataset.replace(/ \(\d+\)$/, '');
  const id = core.db
    .prepare('SELECT i.id FROM items i JOIN datasets d ON d.id = i.dataset_id WHERE d.name = ? AND i.source_name LIKE ?')
    .pluck()
    .get(name, `%${search}%`) as number | undefined;
  assert.ok(id, `${dataset}: ${search}`);
  await page.getByTestId('browse-total').filter({ hasText: /^1 items$/ }).waitFor();
  await page.locator(`.cell[data-index="0"][data-item-id="${id}"]`).waitFor();
  await page.getByTestId('browse-grid').focus();
  await page.keyboard.press('Enter');
  await page.getByTestId('viewer').waitFor();
  await page.waitForFunction(() => Number(document.querySelector('[data-testid="viewport"]')?.getAttribute('data-render-count')) > 0);
}

async function close(page: Page): Promise<void> {
  await page.evaluate(() => (document.activeElement as HTMLElement | null)?.blur());
  await page.keyboard.press('Escape');
  await page.getByTestId('browse-grid').waitFor();
}

test('tags tab only for DICOM; W/L in the corner only for greyscale images', async () => {
  const page = await browser.newPage({ viewport: { width: 1300, height: 850 } });
  const errors = collectPageErrors(page);
  await page.goto(bridge.url);

  // Greyscale CT: W/L shown, the tags tab offered and working.
  await open(page, 'Scans (2)', 'CT_small');
  await page.getByTestId('overlay-window').waitFor();
  assert.match((await page.getByTestId('overlay-window').textContent()) ?? '', /^W \d+ L -?\d+$/);
  await page.getByTestId('sidebar-tags').click();
  await page.getByTestId('tag-browser').waitFor();
  await page.locator('[data-testid="tag-row"][data-tag="(0028,0010)"]').first().waitFor();
  await close(page);

  // Colour DICOM: tags yes, W/L no.
  await open(page, 'Scans (2)', 'US1_UNCR');
  await page.getByTestId('tag-browser').waitFor();
  await page.locator('[data-testid="tag-row"][data-tag="(0028,0004)"] td.value').filter({ hasText: 'RGB' }).waitFor();
  await page.getByTestId('overlay-patient').waitFor();
  assert.equal(await page.getByTestId('overlay-window').count(), 0, 'no W/L on a colour image');
  await screenshot(page, 'viewer-leftovers-rgb-dicom');
  await close(page);

  // A colour photo: no tags tab (even though the tags tab was the last one chosen), no W/L, and Ctrl+I does nothing.
  await open(page, 'Photos (1)', '');
  await page.getByTestId('annotation-panel').waitFor();
  assert.equal(await page.getByTestId('sidebar-tags').count(), 0, 'no tags tab on a photo');
  assert.equal(await page.getByTestId('tag-browser').count(), 0);
  assert.equal(await page.getByTestId('tag-error').count(), 0);
  await page.evaluate(() => (document.activeElement as HTMLElement | null)?.blur());
  await page.keyboard.press('Control+i');
  await page.waitForTimeout(150);
  assert.equal(await page.getByTestId('tag-browser').count(), 0, 'Ctrl+I shows no tags on a photo');
  await page.getByTestId('annotation-panel').waitFor();
  await page.getByTestId('overlay-patient').waitFor();
  assert.equal(await page.getByTestId('overlay-window').count(), 0, 'no W/L on a photo');
  await screenshot(page, 'viewer-leftovers-photo');
  assert.deepEqual(errors, []);
  await page.close();
});

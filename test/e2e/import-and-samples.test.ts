// test-run: serial
/**
 * The import screen and the sample library, in headless Chromium against
 * the real core: files go into SQLite and the blob store, progress and the
 * per-file report are shown, and an empty library can be filled with the
 * generated sample data from one button.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { Browser } from 'playwright-core';
import { startBridge, type Bridge } from '../harness/bridge-server';
import { SHARED_TESTDATA } from '../helpers/paths';
import { tempCore } from '../helpers/temp-library';
import { launchBrowser, openApp, screenshot } from './browser';

let browser: Browser;
before(async () => {
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
});

async function withApp(fn: (bridge: Bridge, core: ReturnType<typeof tempCore>['core']) => Promise<void>): Promise<void> {
  const t = tempCore();
  const bridge = await startBridge(t.core);
  try {
    await fn(bridge, t.core);
  } finally {
    await bridge.close();
    t.cleanup();
  }
}

test('importing a folder from the import screen shows progress and a report with reasons, and fills the library', async () => {
  await withApp(async (bridge, core) => {
    const { page, close } = await openApp(browser, bridge.url, { viewport: { width: 1280, height: 900 } });
    await page.keyboard.press('Alt+2');
    await page.getByTestId('import-dataset').fill('Mixed import');
    await page.getByTestId('import-paths-input').fill(`${join(SHARED_TESTDATA, 'dicom/pydicom')}\n${join(SHARED_TESTDATA, 'road/udacity-vehicle')}`);
    await page.getByRole('button', { name: 'Add' }).click();
    assert.equal(await page.getByTestId('import-paths').locator('li').count(), 2);
    await page.getByTestId('import-start').click();
    const report = page.getByTestId('import-report');
    await report.waitFor({ timeout: 60_000 });
    assert.match((await report.locator('h2').textContent()) ?? '', /Import finished/);
    // Malformed and non-image files are listed with their reasons.
    const failedRow = report.locator('tr[data-outcome="failed"]', { hasText: 'MR_truncated.dcm' });
    assert.match((await failedRow.textContent()) ?? '', /truncated/);
    const skippedRow = report.locator('tr[data-outcome="skipped"]', { hasText: 'waveform_ecg.dcm' });
    assert.match((await skippedRow.textContent()) ?? '', /waveform/i);
    const counts = (await page.getByTestId('import-progress').locator('.counts').textContent()) ?? '';
    const ds = core.datasets.findByName('Mixed import');
    assert.ok(ds);
    assert.match(counts, new RegExp(`${ds.counts.items} imported`));
    assert.equal(ds.counts.imageItems, 3, 'the three road photos');
    assert.ok(ds.counts.dicomItems >= 15);
    await screenshot(page, 'import-report');

    await page.keyboard.press('Alt+1');
    await page.locator('tbody tr', { hasText: 'Mixed import' }).waitFor();
    await close();
  });
});

test('an empty library offers the sample library, which creates labelled CT and road datasets', { timeout: 120_000 }, async () => {
  await withApp(async (bridge, core) => {
    const { page, close } = await openApp(browser, bridge.url, { viewport: { width: 1280, height: 800 } });
    await page.getByTestId('empty-library').waitFor();
    await screenshot(page, 'library-empty');
    await page.getByTestId('open-sample').click();
    const progress = page.getByTestId('sample-progress');
    await progress.filter({ hasText: /Generating|Importing/ }).waitFor();
    await progress.waitFor({ state: 'detached', timeout: 100_000 });
    const names = await page.getByTestId('dataset-list').locator('tbody tr .name').allTextContents();
    assert.deepEqual(names, ['Sample CT (synthetic)', 'Sample road scenes (synthetic)']);
    const ct = core.datasets.findByName('Sample CT (synthetic)');
    const road = core.datasets.findByName('Sample road scenes (synthetic)');
    assert.ok(ct && road);
    assert.equal(ct.counts.dicomItems, 144);
    assert.equal(ct.counts.patients, 6);
    assert.ok(ct.counts.annotations > 6, 'lesion masks and series classes');
    assert.equal(road.counts.imageItems, 300);
    assert.ok(road.counts.annotations > 300, 'boxes');
    await screenshot(page, 'library-samples');
    await close();
  });
});

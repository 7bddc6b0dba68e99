/**
 * The export screen in headless Chromium against the real core: the sample road dataset is
 * exported as COCO into a typed folder; the result (files, manifest, warnings) is shown and the
 * files on disk are what the manifest says. Exporting again into the same folder is refused.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { Browser } from 'playwright-core';
import { createSampleLibrary, SAMPLE_ROAD_DATASET } from '../../electron/core/samples/sample-library';
import { startBridge } from '../harness/bridge-server';
import { tempCore } from '../helpers/temp-library';
import { collectPageErrors, launchBrowser, screenshot } from './browser';

let browser: Browser;
before(async () => {
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
});

test('export the sample road dataset as COCO from the export screen; files on disk match the manifest', { timeout: 30_000 }, async () => {
  const t = tempCore();
  await createSampleLibrary(t.core, { size: 'tiny' });
  const bridge = await startBridge(t.core);
  try {
    const road = t.core.datasets.findByName(SAMPLE_ROAD_DATASET);
    assert.ok(road);
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const errors = collectPageErrors(page);
    await page.goto(bridge.url);
    await page.keyboard.press('Alt+7');
    await page.getByTestId('export-dataset').selectOption({ label: `${SAMPLE_ROAD_DATASET} (${road.counts.items} items)` });
    await page.getByTestId('export-format').selectOption('coco');
    const outDir = join(t.dir, 'road coco');
    await page.getByTestId('export-folder').fill(outDir);
    await page.getByTestId('export-start').click();
    const result = page.getByTestId('export-result');
    await result.waitFor({ timeout: 20_000 });
    assert.match((await result.locator('h2').textContent()) ?? '', /Exported 29 annotations on 12 images as coco/);
    const manifestPath = (await page.getByTestId('export-manifest').textContent()) ?? '';
    const manifest = JSON.parse(readFileSync(manifestPath, 'utf8')) as { format: string; files: { path: string; sha256: string }[] };
    assert.equal(manifest.format, 'coco');
    assert.deepEqual(manifest.files.map((f) => f.path), ['annotations.json']);
    const coco = readFileSync(join(outDir, 'annotations.json'));
    assert.equal(createHash('sha256').update(coco).digest('hex'), manifest.files[0]?.sha256);
    const json = JSON.parse(coco.toString('utf8')) as { images: unknown[]; annotations: unknown[]; categories: { name: string }[] };
    assert.equal(json.images.length, 12);
    assert.equal(json.annotations.length, 29);
    assert.deepEqual(json.categories.map((c) => c.name), ['car', 'pedestrian', 'sign']);
    await result.locator('summary').click();
    await screenshot(page, 'export-result');

    // The same folder again: a clear refusal, nothing replaced.
    await page.getByTestId('export-start').click();
    await page.getByTestId('export-error').waitFor({ timeout: 10_000 });
    assert.match((await page.getByTestId('export-error').textContent()) ?? '', /already holds a Fovea export/);
    assert.deepEqual(readFileSync(join(outDir, 'annotations.json')), coco);
    await screenshot(page, 'export-conflict');
    assert.deepEqual(errors, []);
    await page.close();
  } finally {
    await bridge.close();
    t.cleanup();
  }
});

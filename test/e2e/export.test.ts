/**
 * The export screen in headless Chromium against the real core: the sample road dataset is
 * exported as COCO into a typed folder; the result (files, manifest, warnings) is shown and the
 * files on disk are what the manifest says. Exporting again into the same folder is refused.
 * The sample CT is exported de-identified with a profile option set from the keyboard; images
 * that may carry burned-in text are held back, shown, and exported on confirmation (audited).
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import dicomParser from 'dicom-parser';
import { SAMPLE_CT_DATASET, SAMPLE_ROAD_DATASET } from '../../electron/core/samples/sample-library';
import { SHARED_TESTDATA } from '../helpers/paths';
import { tempSampleCore } from '../helpers/sample-library-cache';
import { screenshot } from './browser';
import { useBrowser, withApp } from './sample-app';

const browser = useBrowser();

test('export the sample road dataset as COCO from the export screen; files on disk match the manifest', { timeout: 30_000 }, async () => {
  const t = await tempSampleCore('tiny');
  await withApp(browser(), t, async ({ open }) => {
    const road = t.core.datasets.findByName(SAMPLE_ROAD_DATASET);
    assert.ok(road);
    const { page, close } = await open({ viewport: { width: 1280, height: 900 } });
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
    await close();
  });
});

test('de-identified DICOM of the sample CT from the export screen, with an option; burned-in images held back, then confirmed', { timeout: 30_000 }, async () => {
  const t = await tempSampleCore('tiny');
  // An ultrasound and a secondary capture without BurnedInAnnotation: held back by default.
  const burned = t.core.datasets.create('Burned-in check', '');
  await t.core.importFiles({ datasetId: burned.id, paths: [join(SHARED_TESTDATA, 'dicom/pydicom-data/US1_UNCR.dcm'), join(SHARED_TESTDATA, 'dicom/pydicom/SC_rgb_rle.dcm')] });
  await withApp(browser(), t, async ({ open }) => {
    const ct = t.core.datasets.findByName(SAMPLE_CT_DATASET);
    assert.ok(ct);
    const { page, close } = await open({ viewport: { width: 1280, height: 1100 } });
    await page.keyboard.press('Alt+7');
    await page.getByTestId('export-dataset').selectOption({ label: `${SAMPLE_CT_DATASET} (${ct.counts.items} items)` });
    await page.getByTestId('export-format').selectOption('dicom-deid');
    await page.getByTestId('export-deid').waitFor();
    // Keyboard: tick "Retain device identity" with the space bar.
    await page.getByTestId('deid-retainDeviceIdentity').focus();
    await page.keyboard.press('Space');
    assert.equal(await page.getByTestId('deid-retainDeviceIdentity').isChecked(), true);
    await page.getByTestId('deid-prefix').fill('STUDY7-');
    const outDir = join(t.dir, 'ct deid');
    await page.getByTestId('export-folder').fill(outDir);
    await screenshot(page, 'export-deid-options');
    await page.getByTestId('export-start').click();
    const result = page.getByTestId('export-result');
    await result.waitFor({ timeout: 20_000 });
    assert.match((await result.locator('h2').textContent()) ?? '', /as dicom-deid/);
    const manifestPath = (await page.getByTestId('export-manifest').textContent()) ?? '';
    const manifestText = readFileSync(manifestPath, 'utf8');
    const manifest = JSON.parse(manifestText) as { format: string; files: { path: string; sha256: string }[] };
    assert.equal(manifest.format, 'dicom-deid');
    assert.ok(!manifestText.includes(SAMPLE_CT_DATASET) && !/Sample CT/i.test(manifestText), 'the manifest does not name the dataset');
    const dcms = manifest.files.filter((f) => f.path.endsWith('.dcm'));
    assert.ok(dcms.length >= 1);
    assert.ok(dcms.every((f) => f.path.startsWith('STUDY7-')), 'pseudonymised folder names use the prefix');
    const first = dcms[0] as { path: string; sha256: string };
    const bytes = readFileSync(join(outDir, first.path));
    assert.equal(createHash('sha256').update(bytes).digest('hex'), first.sha256);
    const ds = dicomParser.parseDicom(new Uint8Array(bytes));
    assert.equal(ds.string('x00120062'), 'YES', 'PatientIdentityRemoved');
    assert.match(ds.string('x00100010') ?? '', /^STUDY7-\d+/);
    assert.match(ds.string('x00120063') ?? '', /Device Identity|113109/i);
    assert.equal(await page.getByTestId('export-held-back').count(), 0);

    // Images that may carry burned-in text: held back, then exported on confirmation.
    await page.getByTestId('export-dataset').selectOption({ label: 'Burned-in check (2 items)' });
    await page.getByTestId('export-folder').fill(join(t.dir, 'us'));
    await page.getByTestId('export-start').click();
    const held = page.getByTestId('export-held-back');
    await held.waitFor({ timeout: 20_000 });
    assert.match((await held.locator('h3').textContent()) ?? '', /Held back: 2 images/);
    assert.match((await held.textContent()) ?? '', /audit log/);
    await screenshot(page, 'export-deid-held-back');
    await page.getByTestId('export-confirm-held-back').click();
    await page.waitForFunction(() => document.querySelector('[data-testid="export-root"]')?.textContent?.endsWith('us-with-burned-in') ?? false, null, { timeout: 20_000 });
    assert.equal(await held.count(), 0);
    const again = JSON.parse(readFileSync(join(t.dir, 'us-with-burned-in', 'fovea-manifest.json'), 'utf8')) as { files: { path: string }[] };
    assert.equal(again.files.filter((f) => f.path.endsWith('.dcm')).length, 2);
    const audit = t.core.db.prepare("SELECT COUNT(*) AS n FROM audit_log WHERE details LIKE '%urned%'").get() as { n: number };
    assert.ok(audit.n >= 1, 'the confirmation is in the audit log');
    await close();
  });
});

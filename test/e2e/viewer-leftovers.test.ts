/**
 * Issue 19 leftovers in headless Chromium against the REAL core and real files: the DICOM tags
 * tab is not offered for a photo (and Ctrl+I does nothing there), while a DICOM image, colour or
 * grey, keeps it; the corner overlay shows W/L for a greyscale image only, never for a colour
 * one (a colour DICOM ultrasound, a colour photo). Kept measurements: dragging a length's line
 * moves it whole, dragging an end moves that end, a rectangle dragged by its inside moves with
 * new statistics; the core keeps the points and recomputes the values, which the label and the
 * panel then show; the note is edited in the panel and kept.
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
import type { Measurement } from '../../electron/contract/measure';
import { measurementLines, measurementSummary } from '../../renderer/src/viewer/measure-format';
import { collectPageErrors, launchBrowser, screenshot } from './browser';
import { imageToPage, viewTransform } from './viewer-geometry';
import { blur, leaveViewer, openFromBrowse } from './viewer-nav';

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

const open = (page: Page, dataset: string, search: string): Promise<void> => openFromBrowse(page, core, dataset, search);
const close = leaveViewer;

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
  await blur(page);
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

async function measurementShown(page: Page, m: Measurement): Promise<void> {
  const row = page.locator(`[data-testid="measure-row"][data-id="${m.id}"] [data-testid="measure-row-value"]`);
  await row.filter({ hasText: measurementSummary(m) }).waitFor();
  const testid = m.kind === 'length' ? 'length-label' : 'measure-label';
  const want = measurementLines(m.kind, m.values).join('\n');
  await page.waitForFunction(
    ([sel, text]) => [...(document.querySelector(sel!)?.querySelectorAll('tspan') ?? [])].map((t) => t.textContent).join('\n') === text,
    [`[data-testid="${testid}"][data-id="${m.id}"]`, want],
  );
}

async function changed(id: number, before: Measurement): Promise<Measurement> {
  for (let i = 0; i < 200; i++) {
    const m = core.measure.list({ itemId: before.itemId }).find((x) => x.id === id);
    if (m && JSON.stringify({ ...m, updatedAt: 0 }) !== JSON.stringify({ ...before, updatedAt: 0 })) return m;
    await new Promise((r) => setTimeout(r, 25));
  }
  assert.fail(`measurement ${id} was not updated`);
}

test('kept measurements: drag one whole or by a point, values recomputed by the core; note edited in the panel', async () => {
  const itemId = core.db.prepare("SELECT id FROM items WHERE source_name LIKE '%CT_small%'").pluck().get() as number;
  const len = await core.measure.create({ itemId, frame: 0, kind: 'length', points: [[20, 20], [60, 20]], note: '' });
  const box = await core.measure.create({ itemId, frame: 0, kind: 'rectangle', points: [[30, 60], [50, 80]], note: '' });
  const page = await browser.newPage({ viewport: { width: 1300, height: 850 } });
  const errors = collectPageErrors(page);
  await page.goto(bridge.url);
  await open(page, 'Scans (2)', 'CT_small');
  await measurementShown(page, len);
  await page.evaluate(() => (document.activeElement as HTMLElement | null)?.blur());
  await page.keyboard.press('l');
  const t = await viewTransform(page);
  const at = (x: number, y: number) => imageToPage(t, x, y, 128, 128);
  async function dragImage(from: [number, number], to: [number, number]): Promise<void> {
    const a = at(from[0], from[1]);
    const b = at(to[0], to[1]);
    await page.mouse.move(a.x, a.y);
    await page.mouse.down();
    await page.mouse.move(b.x, b.y, { steps: 5 });
    await page.mouse.up();
  }

  // The middle of the line: the whole length moves 10 px right and 15 down; same length.
  await dragImage([40, 20], [50, 35]);
  const moved = await changed(len.id, len);
  assert.equal(core.measure.list({ itemId }).length, 2, 'moved, not drawn anew');
  assert.ok(Math.abs(moved.points[0]![0] - 30) < 0.75 && Math.abs(moved.points[0]![1] - 35) < 0.75, JSON.stringify(moved.points));
  assert.ok(Math.abs(moved.points[1]![0] - 70) < 0.75 && Math.abs(moved.points[1]![1] - 35) < 0.75, JSON.stringify(moved.points));
  assert.ok(Math.abs(moved.values.length! - len.values.length!) < 0.2);
  await measurementShown(page, moved);

  // One end: dragged from (70, 35) to (90, 35): the line is longer, the core says by how much.
  await dragImage([moved.points[1]![0], moved.points[1]![1]], [90, 35]);
  const stretched = await changed(len.id, moved);
  assert.ok(Math.abs(stretched.points[0]![0] - moved.points[0]![0]) < 1e-9, 'the other end stays');
  assert.ok(stretched.values.length! > moved.values.length! * 1.3, `${stretched.values.length} vs ${moved.values.length}`);
  await measurementShown(page, stretched);

  // The rectangle by its inside: a new place, new statistics from the core.
  await dragImage([40, 70], [70, 40]);
  const boxMoved = await changed(box.id, box);
  assert.ok(Math.abs(boxMoved.points[0]![0] - 60) < 0.75 && Math.abs(boxMoved.points[0]![1] - 30) < 0.75, JSON.stringify(boxMoved.points));
  assert.equal(boxMoved.values.pixels, box.values.pixels);
  assert.notEqual(boxMoved.values.mean, box.values.mean);
  await measurementShown(page, boxMoved);
  await screenshot(page, 'viewer-leftovers-measure-moved');

  // The note: select the length in the panel, type, Enter keeps it.
  await page.locator(`[data-testid="measure-row"][data-id="${len.id}"]`).click();
  const note = page.locator(`[data-testid="measure-note"][data-id="${len.id}"]`);
  await note.fill('re-measure at follow-up');
  await note.press('Enter');
  const noted = await changed(len.id, stretched);
  assert.equal(noted.note, 're-measure at follow-up');
  assert.deepEqual(noted.points, stretched.points);
  // Escape puts back the kept note, nothing is sent.
  await note.fill('typo');
  await note.press('Escape');
  assert.equal(await note.inputValue(), 're-measure at follow-up');
  // Another selected: the first row shows its note.
  await page.locator(`[data-testid="measure-row"][data-id="${box.id}"]`).click();
  await page.locator(`[data-testid="measure-row"][data-id="${len.id}"] [data-testid="measure-row-note"]`).filter({ hasText: 're-measure at follow-up' }).waitFor();
  assert.equal(core.measure.list({ itemId }).find((m) => m.id === len.id)?.note, 're-measure at follow-up');
  await screenshot(page, 'viewer-leftovers-measure-note');
  assert.deepEqual(errors, []);
  await page.close();
});

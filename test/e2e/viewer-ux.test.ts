/**
 * Viewer ergonomics (issue 19) in headless Chromium against the REAL core and real DICOM files
 * of known orientation from the shared test data: orientation markers for coronal, sagittal,
 * axial and oblique images and none on a photo; window presets only for CT; the side panel
 * folds with \ and stays folded after a reload; the DICOM tag browser shows the file's
 * attributes (nested sequences, a filter, pixel data as a length only); and the labeling
 * aids: brush-size circle, mask opacity and outline measured in pixels, hide-all, and a
 * shape's class changed from a dropdown and undone.
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
import { andRender, collectPageErrors, launchBrowser, screenshot } from './browser';
import { blur, leaveViewer, openFromBrowse } from './viewer-nav';

const DICOM = join(SHARED_TESTDATA, 'dicom');
/** IOP 1\0\0\0\0\-1: coronal. */
const CORONAL = join(DICOM, 'pydicom', 'dicomdirtests', '98892003', 'MR2', '4950');
/** IOP 0\1\0\0\0\-1: sagittal. */
const SAGITTAL = join(DICOM, 'dcmjs', 'IM-0001-0001.dcm');
/** IOP 1\0\0\0\1\0: axial CT. */
const AXIAL_CT = join(DICOM, 'pydicom', 'CT_small.dcm');
/** IOP 0.569\0.822\0\0\0\-1: an oblique (sagittal-coronal) MR. */
const OBLIQUE = join(DICOM, 'pydicom-data', 'MR2_UNCR.dcm');
/** RGB ultrasound without an orientation. */
const RGB_US = join(DICOM, 'pydicom-data', 'US1_UNCR.dcm');

let browser: Browser;
let bridge: Bridge;
let core: Core;
let cleanup: () => void;
let data: { dir: string; cleanup(): void };
let road: { datasetId: number; itemId: number; car: number; person: number };

before(async () => {
  const t = tempCore();
  core = t.core;
  cleanup = t.cleanup;
  core.annotatorSettings.set({ annotatorName: 'Dr UX' });
  const ds = core.datasets.create('UX', '');
  await core.importFiles({ datasetId: ds.id, paths: [CORONAL, SAGITTAL, AXIAL_CT, OBLIQUE, RGB_US] });
  data = tempDir('fovea-viewer-ux-');
  await writeSyntheticRoadScenes(join(data.dir, 'road'), { count: 1, width: 320, height: 240, seed: 3 });
  const r = core.datasets.create('Road', '');
  await core.importFiles({ datasetId: r.id, paths: [join(data.dir, 'road', 'images')] });
  const car = core.annotations.ensureClass(r.id, 'car');
  const person = core.annotations.ensureClass(r.id, 'person');
  road = { datasetId: r.id, itemId: core.db.prepare('SELECT id FROM items WHERE dataset_id = ?').pluck().get(r.id) as number, car, person };
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

async function markers(page: Page): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const edge of ['top', 'bottom', 'left', 'right']) out[edge] = ((await page.getByTestId(`orient-${edge}`).textContent()) ?? '').trim();
  return out;
}

test('orientation markers from ImageOrientationPatient: coronal, sagittal, axial, oblique; none on a photo', async () => {
  const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  const errors = collectPageErrors(page);
  await page.goto(bridge.url);

  await open(page, 'UX (5)', '4950');
  await page.getByTestId('orient-top').waitFor();
  assert.deepEqual(await markers(page), { top: 'S', bottom: 'I', left: 'R', right: 'L' });
  await screenshot(page, 'viewer-ux-coronal-markers');
  // O hides the overlays, markers included.
  await page.keyboard.press('o');
  assert.equal(await page.getByTestId('orient-top').count(), 0);
  await page.keyboard.press('o');
  await close(page);

  await open(page, 'UX (5)', 'IM-0001');
  await page.getByTestId('orient-top').waitFor();
  assert.deepEqual(await markers(page), { top: 'S', bottom: 'I', left: 'A', right: 'P' });
  await close(page);

  await open(page, 'UX (5)', 'CT_small');
  await page.getByTestId('orient-top').waitFor();
  assert.deepEqual(await markers(page), { top: 'A', bottom: 'P', left: 'R', right: 'L' });
  await close(page);

  await open(page, 'UX (5)', 'MR2_UNCR');
  await page.getByTestId('orient-top').waitFor();
  assert.deepEqual(await markers(page), { top: 'S', bottom: 'I', left: 'AR', right: 'PL' });
  await screenshot(page, 'viewer-ux-oblique-markers');
  await close(page);

  await open(page, 'UX (5)', 'US1_UNCR');
  await page.getByTestId('overlay-patient').waitFor();
  assert.equal(await page.getByTestId('orient-top').count(), 0, 'no markers without an orientation');
  await close(page);

  await open(page, 'Road (1)', '');
  await page.getByTestId('overlay-patient').waitFor();
  assert.equal(await page.locator('[data-testid^="orient-"]').count(), 0, 'no markers on a photo');
  assert.deepEqual(errors, []);
  await page.close();
});

test('the toolbar fits the image: CT presets for CT only, no window buttons on colour images', async () => {
  const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  const errors = collectPageErrors(page);
  await page.goto(bridge.url);

  await open(page, 'UX (5)', 'CT_small');
  await page.getByTestId('preset-lung').waitFor();
  assert.equal(await page.getByTestId('preset-bone').count(), 1);
  await andRender(page, () => page.getByTestId('preset-lung').click());
  const w = page.getByTestId('overlay-window');
  assert.deepEqual([await w.getAttribute('data-center'), await w.getAttribute('data-width')], ['-600', '1500']);
  // Smooth display is the default; the scale bar shows a round length from the file's spacing.
  assert.match((await page.getByTestId('smooth').textContent()) ?? '', /Smooth/);
  assert.ok([1, 2, 5, 10, 20, 50].includes(Number(await page.getByTestId('scale-bar').getAttribute('data-mm'))));
  await screenshot(page, 'viewer-ux-ct-toolbar');
  await close(page);

  await open(page, 'UX (5)', '4950');
  await page.getByTestId('preset-file').waitFor();
  assert.equal(await page.getByTestId('preset-lung').count(), 0, 'MR: no Hounsfield presets');
  await close(page);

  await open(page, 'UX (5)', 'US1_UNCR');
  await page.getByTestId('tool-wl').waitFor();
  assert.equal(await page.getByTestId('window-presets').count(), 0, 'RGB: no window buttons');
  await close(page);

  await open(page, 'Road (1)', '');
  await page.getByTestId('tool-wl').waitFor();
  assert.equal(await page.getByTestId('preset-lung').count(), 0, 'photo: no CT presets');
  await screenshot(page, 'viewer-ux-photo-toolbar');
  assert.deepEqual(errors, []);
  await page.close();
});

test('the side panel folds with \\ and its button, gives the image the width, and stays folded after a reload', async () => {
  const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  const errors = collectPageErrors(page);
  await page.goto(bridge.url);
  await open(page, 'Road (1)', '');
  await page.getByTestId('annotation-panel').waitFor();
  const wide = async (): Promise<number> => (await page.getByTestId('viewport').boundingBox())?.width ?? 0;
  const before = await wide();
  // cornerstone redraws at the new size.
  await andRender(page, () => page.keyboard.press('\\'));
  await page.getByTestId('viewer-sidebar-folded').waitFor();
  assert.equal(await page.getByTestId('annotation-panel').count(), 0);
  await page.waitForFunction((w) => (document.querySelector('[data-testid="viewport"]')?.getBoundingClientRect().width ?? 0) > w + 200, before);
  // The image (320 x 240) fitted before and fits the wider viewport now: whole, touching two edges, the zoom shown is the zoom drawn.
  await page.waitForFunction(() => {
    const vp = document.querySelector('[data-testid="viewport"]') as HTMLElement;
    const s = Number(vp.getAttribute('data-scale'));
    return Math.abs(320 * s - vp.clientWidth) <= 1 || Math.abs(240 * s - vp.clientHeight) <= 1;
  });
  const vpEl = page.getByTestId('viewport');
  const s = Number(await vpEl.getAttribute('data-scale'));
  const size = await vpEl.evaluate((e) => [e.clientWidth, e.clientHeight]);
  assert.ok(320 * s <= (size[0] ?? 0) + 1 && 240 * s <= (size[1] ?? 0) + 1, `the whole image shows: zoom ${s} in ${size}`);
  await screenshot(page, 'viewer-ux-sidebar-folded');

  await page.reload();
  await open(page, 'Road (1)', '');
  await page.getByTestId('viewer-sidebar-folded').waitFor();
  assert.equal(await page.getByTestId('annotation-panel').count(), 0, 'folded after a reload');
  await page.getByTestId('sidebar-toggle').click();
  await page.getByTestId('annotation-panel').waitFor();
  assert.ok(Math.abs((await wide()) - before) < 2, 'unfolded: the same width as before');
  await page.reload();
  await open(page, 'Road (1)', '');
  await page.getByTestId('annotation-panel').waitFor();
  assert.deepEqual(errors, []);
  await page.close();
});

test('the DICOM tag browser: (0010,0010) and the rest from the core, a nested sequence, a filter, pixel data as a length only', async () => {
  const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  const errors = collectPageErrors(page);
  await page.goto(bridge.url);
  await open(page, 'UX (5)', 'CT_small');
  await page.keyboard.press('Control+i');
  await page.getByTestId('tag-browser').waitFor();
  const row = (tag: string) => page.locator(`[data-testid="tag-row"][data-tag="${tag}"][data-depth="0"]`);
  await row('(0010,0010)').waitFor();
  assert.deepEqual(await row('(0010,0010)').locator('td').allTextContents(), ['(0010,0010)', 'PN', 'PatientName', 'CompressedSamples^CT1']);
  assert.deepEqual((await row('(0020,0037)').locator('td').allTextContents()).slice(1), ['DS', 'ImageOrientationPatient', '1\\0\\0\\0\\1\\0']);
  const pixels = await row('(7FE0,0010)').locator('td').allTextContents();
  assert.deepEqual(pixels.slice(1), ['OW', 'PixelData', '(pixel data, 32768 bytes)']);
  const total = Number(((await page.getByTestId('tag-count').textContent()) ?? '').split('/')[1]);
  assert.ok(total > 200, `${total} attributes`);

  // A sequence opens to its items' attributes.
  const seq = row('(0010,1002)');
  assert.deepEqual((await seq.locator('td').allTextContents()).slice(1), ['SQ', 'OtherPatientIDsSequence', '2 items']);
  assert.equal(await page.locator('[data-testid="tag-row"][data-depth="1"]').count(), 0);
  await seq.getByTestId('tag-open').click();
  await page.locator('[data-testid="tag-row"][data-depth="1"][data-tag="(0010,0020)"]').first().waitFor();
  assert.equal(await page.locator('[data-testid="tag-row"][data-depth="1"][data-tag="(0010,0020)"]').count(), 2);
  await screenshot(page, 'viewer-ux-tag-browser');

  // The filter: by keyword and by tag number.
  await page.getByTestId('tag-filter').fill('patientname');
  await page.waitForFunction(() => document.querySelectorAll('[data-testid="tag-row"]').length < 5);
  assert.deepEqual(await page.locator('[data-testid="tag-row"]').evaluateAll((rs) => rs.map((r) => r.getAttribute('data-tag'))), ['(0010,0010)']);
  await page.getByTestId('tag-filter').fill('0028,0010');
  await page.waitForFunction(() => document.querySelector('[data-testid="tag-row"]')?.getAttribute('data-tag') === '(0028,0010)');
  assert.equal((await page.locator('[data-testid="tag-row"] td.value').first().textContent())?.trim(), '128');
  await page.getByTestId('tag-filter').fill('');

  // Another image: its own tags; the key again goes back to the labels.
  await close(page);
  await open(page, 'UX (5)', '4950');
  await page.locator('[data-testid="tag-row"][data-tag="(0010,0010)"] td.value').filter({ hasText: 'Doe^Peter' }).waitFor();
  await blur(page);
  await page.keyboard.press('Control+i');
  await page.getByTestId('annotation-panel').waitFor();
  assert.equal(await page.getByTestId('tag-browser').count(), 0);
  await close(page);

  // A photo has no tags: the tab is not offered (viewer-leftovers.test.ts checks more).
  await open(page, 'Road (1)', '');
  await page.getByTestId('sidebar-labels').waitFor();
  assert.equal(await page.getByTestId('sidebar-tags').count(), 0);
  assert.deepEqual(errors, []);
  await page.close();
});

/** RGBA of the page's pixel at (x, y), from the mask layer composited over the image (a screenshot). */
async function pagePixel(page: Page, x: number, y: number): Promise<[number, number, number]> {
  const png = await page.screenshot({ clip: { x, y, width: 1, height: 1 } });
  const { default: sharp } = await import('sharp');
  const { data } = await sharp(png).raw().toBuffer({ resolveWithObject: true });
  return [data[0] ?? 0, data[1] ?? 0, data[2] ?? 0];
}

test('labeling aids: brush circle, mask opacity and outline in pixels, hide-all, and a class dropdown that undoes', async () => {
  const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  const errors = collectPageErrors(page);
  await page.goto(bridge.url);
  await open(page, 'Road (1)', '');
  await page.getByTestId('annotation-panel').waitFor();
  await page.getByTestId('class-car').click();

  // The brush: a circle of the brush's diameter (in screen pixels at this zoom) under the pointer.
  await page.keyboard.press('d');
  await page.getByTestId('brush-size').fill('20');
  const vp = (await page.getByTestId('viewport').boundingBox())!;
  const cx = vp.x + vp.width / 2;
  const cy = vp.y + vp.height / 2;
  await page.mouse.move(cx, cy);
  const circle = page.getByTestId('brush-circle');
  await circle.waitFor();
  const scale = Number(await page.getByTestId('viewport').getAttribute('data-scale'));
  assert.ok(Math.abs(Number(await circle.getAttribute('r')) - 10 * scale) < 0.01, 'radius = size / 2 x zoom');

  // Paint a thick stroke across the centre.
  await page.mouse.down();
  await page.mouse.move(cx + 60 * scale, cy, { steps: 8 });
  await page.mouse.up();
  const mask = await (async () => {
    for (let i = 0; i < 200; i++) {
      const m = core.annotations.listForItem(road.itemId).find((a) => a.kind === 'mask');
      if (m) return m;
      await new Promise((r) => setTimeout(r, 25));
    }
    throw new Error('no mask saved');
  })();
  await page.keyboard.press('Escape');
  await page.mouse.move(vp.x + 5, vp.y + 5);
  const inside = { x: Math.round(cx + 30 * scale), y: Math.round(cy) };
  await page.getByTestId('mask-layer').waitFor();
  const full = await pagePixel(page, inside.x, inside.y);

  // Opacity: the composited pixel moves towards the image's own.
  await page.getByTestId('mask-opacity').fill('0.2');
  await page.waitForFunction(() => (document.querySelector('[data-testid="mask-layer"]') as HTMLElement | null)?.style.opacity === '0.2');
  const faint = await pagePixel(page, inside.x, inside.y);
  await blur(page);
  await page.keyboard.press('j');
  await page.waitForFunction(() => document.querySelector('[data-testid="mask-layer"]') === null);
  const bare = await pagePixel(page, inside.x, inside.y);
  const dist = (a: number[], b: number[]): number => Math.hypot(...a.map((v, i) => v - (b[i] ?? 0)));
  assert.ok(dist(full, bare) > 20, `the mask shows at opacity 1: ${full} vs image ${bare}`);
  assert.ok(dist(faint, bare) < dist(full, bare) / 2, `opacity 0.2 is closer to the image: ${faint} vs ${full} vs ${bare}`);
  assert.equal(await page.locator('[data-testid="annotation-layer"] g[data-annotation-id]').count(), 0, 'hide-all hides the shapes too');
  await blur(page);
  await page.keyboard.press('j');
  await page.getByTestId('mask-opacity').fill('1');

  // Outline: the mask canvas keeps only edge pixels, opaque; the inside is clear.
  const alphaAt = (fx: number, fy: number) =>
    page.getByTestId('mask-layer').evaluate((c: HTMLCanvasElement, [x, y]) => c.getContext('2d')!.getImageData(x!, y!, 1, 1).data[3], [fx, fy]);
  const ix = Math.round((inside.x - vp.x - vp.width / 2) / scale + 160);
  const iy = Math.round((inside.y - vp.y - vp.height / 2) / scale + 120);
  assert.ok(((await alphaAt(ix, iy)) ?? 0) > 0, 'filled inside');
  await page.getByTestId('mask-outline').check();
  await page.waitForFunction(() => document.querySelector('[data-testid="mask-layer"]')?.getAttribute('data-outline') === 'true');
  await page.waitForFunction(([x, y]) => (document.querySelector('[data-testid="mask-layer"]') as HTMLCanvasElement).getContext('2d')!.getImageData(x!, y!, 1, 1).data[3] === 0, [ix, iy]);
  // The stroke's top edge, 10 px above its middle line, is drawn.
  let edge = 0;
  for (let y = iy - 14; y <= iy; y++) edge = Math.max(edge, (await alphaAt(ix, y)) ?? 0);
  assert.equal(edge, 255, 'the edge is drawn opaque');
  await screenshot(page, 'viewer-ux-mask-outline');
  await page.getByTestId('mask-outline').uncheck();

  // The class dropdown on the selected shape: car -> person, then Ctrl+Z back to car.
  await page.getByTestId(`shape-${mask.id}`).locator('button.link').click();
  const pick = page.getByTestId('shape-class');
  await pick.waitFor();
  assert.equal(await pick.inputValue(), String(road.car));
  await pick.selectOption({ label: 'person' });
  await page.waitForFunction(() => document.querySelector('[data-testid="save-state"]')?.getAttribute('data-pending') === '0');
  for (let i = 0; i < 200 && core.annotations.listForItem(road.itemId).find((a) => a.id === mask.id)?.classId !== road.person; i++) await new Promise((r) => setTimeout(r, 25));
  assert.equal(core.annotations.listForItem(road.itemId).find((a) => a.id === mask.id)?.classId, road.person);
  await screenshot(page, 'viewer-ux-class-dropdown');
  await blur(page);
  await page.keyboard.press('Control+z');
  for (let i = 0; i < 200 && core.annotations.listForItem(road.itemId).find((a) => a.id === mask.id)?.classId !== road.car; i++) await new Promise((r) => setTimeout(r, 25));
  assert.equal(core.annotations.listForItem(road.itemId).find((a) => a.id === mask.id)?.classId, road.car, 'undone');
  assert.deepEqual(errors, []);
  await page.close();
});

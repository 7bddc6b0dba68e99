/**
 * MPR and the segment editor in headless Chromium against the REAL core: a generated CT series
 * opens in three views with the right orientation letters; a click in the axial view moves the
 * other two views to the clicked voxel; a brush stroke in the coronal view is saved as mask rows
 * and shows in the axial view at the painted voxels; threshold (bone preset) then islands (keep
 * the largest), each previewed and applied, give what the core computes; undo takes the islands
 * step back; the one-view layout shows a single view. Screenshots in test-results/screenshots.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { Browser, Locator, Page } from 'playwright-core';
import type { Core } from '../../electron/core/composition-root';
import type { VolumeInfo } from '../../electron/contract/volume';
import { startBridge, type Bridge } from '../harness/bridge-server';
import { tempCore } from '../helpers/temp-library';
import { syntheticSeries, type ImportedSeries } from '../unit/core/volume/volume-fixtures';
import { collectPageErrors, launchBrowser, screenshot } from './browser';

let browser: Browser;
let bridge: Bridge;
let core: Core;
let cleanup: () => void;
let s: ImportedSeries;
let boneClass: number;
let organClass: number;

before(async () => {
  const t = tempCore();
  core = t.core;
  cleanup = t.cleanup;
  s = await syntheticSeries(core, t.dir, 'ct', { slicesPerSeries: 40, size: 128, seed: 5, sliceThicknessMm: 2 });
  organClass = core.annotations.ensureClass(s.datasetId, 'organ');
  boneClass = core.annotations.ensureClass(s.datasetId, 'bone');
  core.annotatorSettings.set({ annotatorName: 'Dr MPR' });
  bridge = await startBridge(core);
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await bridge?.close();
  cleanup?.();
});

async function renders(view: Locator): Promise<number> {
  return Number(await view.getAttribute('data-render-count'));
}

/** The picture's box on the page: the label canvas covers the picture exactly. */
async function pictureBox(page: Page, plane: string): Promise<{ x: number; y: number; width: number; height: number }> {
  const box = await page.getByTestId(`mpr-labels-${plane}`).boundingBox();
  assert.ok(box, `no picture box for ${plane}`);
  return box;
}

/** Page position of picture pixel (px, py)'s centre in a view of width x height pixels. */
function pagePoint(box: { x: number; y: number; width: number; height: number }, w: number, h: number, px: number, py: number): { x: number; y: number } {
  return { x: box.x + ((px + 0.5) / w) * box.width, y: box.y + ((py + 0.5) / h) * box.height };
}

/** The segment colours drawn on a view's label canvas at picture pixel (x, y): alpha > 0 means labelled. */
async function labelAlpha(page: Page, plane: string, x: number, y: number): Promise<number> {
  return page.getByTestId(`mpr-labels-${plane}`).evaluate((c, [px, py]) => {
    const ctx = (c as HTMLCanvasElement).getContext('2d');
    return ctx ? (ctx.getImageData(px as number, py as number, 1, 1).data[3] ?? 0) : -1;
  }, [x, y]);
}

async function voxels(classId: number): Promise<number> {
  const r = await core.dispatch('volume.open', { seriesId: s.seriesId });
  assert.ok(r.ok);
  return (r.value as VolumeInfo).segments.find((x) => x.classId === classId)?.voxels ?? -1;
}

test('MPR: three linked views, a coronal stroke seen in the axial view, threshold then islands, undo, one-view layout', async () => {
  const page = await browser.newPage({ viewport: { width: 1500, height: 900 } });
  const errors = collectPageErrors(page);
  try {
    await mprScenario(page);
  } catch (e) {
    await screenshot(page, 'mpr-failure');
    throw e;
  }
  assert.deepEqual(errors, []);
  await page.close();
});

async function mprScenario(page: Page): Promise<void> {
  await page.goto(bridge.url);
  await page.keyboard.press('Alt+4');
  await page.getByTestId('browse-dataset').selectOption({ label: 'ct (40)' });
  await page.locator('.cell[data-index="0"][data-item-id]:not([data-item-id=""])').waitFor();
  await page.getByTestId('browse-grid').focus();
  await page.keyboard.press('Enter');
  await page.getByTestId('viewer').waitFor();
  await page.getByTestId('open-mpr').waitFor();
  await page.keyboard.press('q');
  await page.getByTestId('mpr-screen').waitFor();
  const views = { axial: page.getByTestId('mpr-axial'), coronal: page.getByTestId('mpr-coronal'), sagittal: page.getByTestId('mpr-sagittal') };
  for (const v of Object.values(views)) await page.waitForFunction((el) => Number(el?.getAttribute('data-render-count')) > 0, await v.elementHandle());
  const info = (await core.volumes.open(s.seriesId)) as VolumeInfo;
  // Orientation letters from the direction cosines (radiological convention).
  const letters = async (p: string): Promise<string[]> => Promise.all(['left', 'right', 'top', 'bottom'].map((e) => page.getByTestId(`orient-${p}-${e}`).innerText()));
  assert.deepEqual(await letters('axial'), ['R', 'L', 'A', 'P']);
  assert.deepEqual(await letters('coronal'), ['R', 'L', 'S', 'I']);
  assert.deepEqual(await letters('sagittal'), ['A', 'P', 'S', 'I']);
  // Square pixels in mm: the coronal picture (0.8 mm columns, 2 mm rows) is drawn 2.5x taller per row than wide per column.
  const cor = await pictureBox(page, 'coronal');
  assert.ok(Math.abs(cor.height / info.views.coronal.height / (cor.width / info.views.coronal.width) - 2 / 0.8) < 0.02, JSON.stringify(cor));
  await screenshot(page, 'mpr-open');

  // A click in the axial view: the coronal view goes to the clicked row, the sagittal view to its column.
  const ax = await pictureBox(page, 'axial');
  const before = await renders(views.coronal);
  const target = { x: 40, y: 70 };
  const at = pagePoint(ax, info.views.axial.width, info.views.axial.height, target.x, target.y);
  await page.mouse.click(at.x, at.y);
  await page.waitForFunction(([el, n]) => Number((el as Element).getAttribute('data-render-count')) > (n as number), [await views.coronal.elementHandle(), before] as const);
  assert.equal(await views.coronal.getAttribute('data-index'), String(target.y));
  assert.equal(await views.sagittal.getAttribute('data-index'), String(target.x));
  assert.equal(await views.axial.getAttribute('data-cross-x'), String(target.x));
  assert.equal(await views.axial.getAttribute('data-cross-y'), String(target.y));
  await screenshot(page, 'mpr-crosshair');

  // Brush in the coronal view: organ, a horizontal stroke across picture row 15 from column 30 to 60.
  await page.getByTestId(`segment-${organClass}`).check();
  await page.keyboard.press('d');
  await page.getByTestId('brush-mm').fill('3');
  await page.getByTestId('brush-mm').blur();
  const c = await pictureBox(page, 'coronal');
  const cw = info.views.coronal.width;
  const ch = info.views.coronal.height;
  const a = pagePoint(c, cw, ch, 30, 15);
  const b = pagePoint(c, cw, ch, 60, 15);
  await page.mouse.move(a.x, a.y);
  await page.mouse.down();
  for (let i = 1; i <= 10; i++) await page.mouse.move(a.x + ((b.x - a.x) * i) / 10, a.y);
  await page.mouse.up();
  await page.getByTestId('mpr-saved').filter({ hasText: '1 edit(s) saved' }).waitFor();
  assert.ok((await voxels(organClass)) > 30);
  const rows = core.db.prepare("SELECT count(*) FROM annotations WHERE class_id = ? AND status = 'active' AND kind = 'mask' AND author = 'Dr MPR'").pluck().get(organClass) as number;
  assert.ok(rows >= 1, `rows ${rows}`);
  // The coronal picture's row 15 is display slice (height - 1 - 15): scroll the axial view there and see the stroke on image row 70.
  const slice = ch - 1 - 15;
  await page.keyboard.press('x');
  await views.axial.hover();
  await page.mouse.wheel(0, 100); // activates the axial view
  const axialIndex = Number(await views.axial.getAttribute('data-index'));
  for (let i = 0; i < Math.abs(slice - axialIndex); i++) await page.keyboard.press(slice > axialIndex ? 'ArrowDown' : 'ArrowUp');
  await page.waitForFunction((el) => el?.getAttribute('data-index') !== null, await views.axial.elementHandle());
  await page.waitForFunction(([el, k]) => (el as Element).getAttribute('data-label-index') === String(k), [await page.getByTestId('mpr-labels-axial').elementHandle(), slice] as const);
  assert.equal(await views.axial.getAttribute('data-index'), String(slice));
  assert.ok((await labelAlpha(page, 'axial', 45, 70)) > 0, 'the stroke shows in the axial view');
  assert.equal(await labelAlpha(page, 'axial', 45, 20), 0, 'and only there');
  await screenshot(page, 'mpr-coronal-stroke-in-axial');

  // Threshold (bone preset) then islands (keep the largest), each previewed then applied.
  await page.getByTestId(`segment-${boneClass}`).check();
  await page.getByTestId('threshold-preset-bone').click();
  await page.getByTestId('preview-threshold').click();
  await page.getByTestId('preview-panel').waitFor();
  await screenshot(page, 'mpr-threshold-preview');
  assert.equal(await voxels(boneClass), 0, 'a preview saves nothing');
  await page.getByTestId('preview-apply').click();
  await page.getByTestId('preview-panel').waitFor({ state: 'detached' });
  const afterThreshold = await voxels(boneClass);
  assert.ok(afterThreshold > 100, String(afterThreshold));
  await page.getByTestId('islands-mode').selectOption('keep-largest');
  await page.getByTestId('preview-islands').click();
  await page.getByTestId('preview-panel').waitFor();
  await screenshot(page, 'mpr-islands-preview');
  await page.keyboard.press('Enter');
  await page.getByTestId('preview-panel').waitFor({ state: 'detached' });
  const afterIslands = await voxels(boneClass);
  assert.ok(afterIslands > 0 && afterIslands < afterThreshold, `${afterIslands} < ${afterThreshold}`);
  await page.getByTestId(`segment-voxels-${boneClass}`).filter({ hasText: afterIslands.toLocaleString('en-US') }).waitFor();
  await screenshot(page, 'mpr-islands-applied');

  // Undo: the islands step goes back.
  await page.keyboard.press('Control+z');
  await page.getByTestId(`segment-voxels-${boneClass}`).filter({ hasText: afterThreshold.toLocaleString('en-US') }).waitFor();
  assert.equal(await voxels(boneClass), afterThreshold);

  // Statistics, then the one-view layout.
  await page.getByTestId('stats-compute').click();
  await page.getByTestId('stats-table').waitFor();
  await page.getByTestId('layout-one-coronal').click();
  assert.equal(await page.getByTestId('mpr-view-axial').count(), 0);
  await page.waitForFunction((el) => Number(el?.getAttribute('data-render-count')) > 0, await page.getByTestId('mpr-coronal').elementHandle());
  await screenshot(page, 'mpr-one-view');
  await page.getByTestId('layout-three').click();
  await page.keyboard.press('Escape');
  await page.getByTestId('viewer').waitFor();
}

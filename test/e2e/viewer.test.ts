/**
 * The dataset browser and the viewer in headless Chromium against the REAL
 * core: canvas pixels after a CT preset and a window/level drag equal the
 * PS3.3 C.11.2.1.2.1 LINEAR function of the file's stored values (computed
 * here, independently of the viewer), MONOCHROME1 shows inverted, palette
 * colour shows the palette's RGB (a segmented palette, issue 17, shows what
 * pydicom's apply_color_lut gives), and the virtualized grid scrolls over
 * thousands of items and opens one from the keyboard.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import type { Core } from '../../electron/core/composition-root';
import { decodeFrame, parseDicom, readImageInfo, type DicomImageInfo, type PixelArray } from '../../electron/core/dicom';
import { startBridge, type Bridge } from '../harness/bridge-server';
import { writeSegmentedPaletteFiles } from '../helpers/decoding-classes';
import { REPO_ROOT, SHARED_TESTDATA } from '../helpers/paths';
import { REFERENCE_PYTHON, requireTools, runTool } from '../helpers/reference-tools';
import { tempCore } from '../helpers/temp-library';
import { andRender, collectPageErrors, launchBrowser, openApp, screenshot } from './browser';

const DICOM = join(SHARED_TESTDATA, 'dicom');
const CT = join(DICOM, 'dicomParser', 'CT1_UNC.explicit_little_endian.dcm');
const CR = join(DICOM, 'pydicom', 'dicomdirtests', '77654033', 'CR1', '6154');
const PALETTE = join(DICOM, 'pydicom', 'examples_palette.dcm');
const BIG = 3000;

let browser: Browser;
let bridge: Bridge;
let core: Core;
let cleanup: () => void;
/** A segmented palette file made here, and pydicom's RGB of it (rows x columns x 3). */
let segmented: { path: string; rgb: Uint8Array };

before(async () => {
  const t = tempCore();
  core = t.core;
  cleanup = t.cleanup;
  const ds = core.datasets.create('Viewer', '');
  requireTools(REFERENCE_PYTHON);
  const made = writeSegmentedPaletteFiles(t.dir)[1];
  assert.ok(made);
  runTool(REFERENCE_PYTHON, [join(REPO_ROOT, 'test/reference/dicom_reference.py'), made.path, '--out', join(t.dir, 'reference')]);
  const manifest = JSON.parse(readFileSync(join(t.dir, 'reference', 'manifest.json'), 'utf8')) as { files: { paletteFiles?: string[] }[] };
  segmented = { path: made.path, rgb: new Uint8Array(readFileSync(join(t.dir, 'reference', manifest.files[0]?.paletteFiles?.[0] ?? ''))) };
  await core.importFiles({ datasetId: ds.id, paths: [CT, CR, PALETTE, join(DICOM, 'pydicom', 'CT_small.dcm'), segmented.path] });
  // A big dataset by direct inserts (as the store bench does): every row shows the CT file.
  const ct = core.db.prepare("SELECT blob_sha256 AS blob, thumb_sha256 AS thumb FROM items WHERE source_name LIKE '%CT1_UNC%'").get() as { blob: string; thumb: string };
  const big = core.datasets.create('Big', '');
  const insert = core.db.prepare(
    `INSERT INTO items (dataset_id, kind, blob_sha256, source_sha256, thumb_sha256, source_name, modality, rows, columns, status, imported_at)
     VALUES (?, 'dicom', ?, ?, ?, ?, 'CT', 512, 512, 'unlabeled', 'x')`,
  );
  core.db.transaction(() => {
    for (let i = 0; i < BIG; i++) insert.run(big.id, ct.blob, i.toString(16).padStart(64, '0'), ct.thumb, `slice_${String(i).padStart(5, '0')}.dcm`);
  })();
  bridge = await startBridge(core);
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await bridge?.close();
  cleanup?.();
});

/** PS3.3 C.11.2.1.2.1 LINEAR, written out here on purpose (not the core's linearVoi). */
function linear(x: number, c: number, w: number): number {
  if (x <= c - 0.5 - (w - 1) / 2) return 0;
  if (x > c - 0.5 + (w - 1) / 2) return 255;
  return Math.round(((x - (c - 0.5)) / (w - 1) + 0.5) * 255);
}

async function storedValues(path: string): Promise<{ info: DicomImageInfo; data: PixelArray }> {
  const parsed = parseDicom(new Uint8Array(readFileSync(path)));
  const info = readImageInfo(parsed);
  assert.ok(info);
  return { info, data: (await decodeFrame(parsed, 0, { info })).data };
}

async function openBySearch(page: Page, dataset: string, search: string): Promise<void> {
  await page.goto(bridge.url);
  await page.keyboard.press('Alt+4');
  await page.getByTestId('browse-grid').waitFor();
  await page.getByTestId('browse-dataset').selectOption({ label: dataset });
  await page.getByTestId('filter-search').fill(search);
  await page.getByTestId('browse-total').filter({ hasText: /^1 items$/ }).waitFor();
  await page.locator('.cell[data-index="0"][data-item-id]:not([data-item-id=""])').waitFor();
  await page.getByTestId('browse-grid').focus();
  await page.keyboard.press('Enter');
  await page.getByTestId('viewer').waitFor();
  await page.waitForFunction(() => Number(document.querySelector('[data-testid="viewport"]')?.getAttribute('data-render-count')) > 0);
}

interface Sample {
  x: number;
  y: number;
  rgba: [number, number, number, number];
}

/**
 * Hover the probe over canvas points; read the image pixel it reports and the canvas
 * pixel under the pointer (1:1, pixel replication: one image pixel per canvas pixel).
 */
async function sample(page: Page, fractions: [number, number][]): Promise<Sample[]> {
  // The checks compare each canvas pixel with one stored value: square pixels, not the default smooth display.
  if (/Smooth/.test((await page.getByTestId('smooth').textContent()) ?? '')) await andRender(page, () => page.keyboard.press('k'));
  await page.keyboard.press('v');
  const canvas = page.getByTestId('viewport').locator('canvas');
  const box = await canvas.boundingBox();
  assert.ok(box);
  const out: Sample[] = [];
  for (const [fx, fy] of fractions) {
    const cx = Math.floor(box.width * fx);
    const cy = Math.floor(box.height * fy);
    await page.mouse.move(box.x + cx + 0.5, box.y + cy + 0.5);
    const probe = page.getByTestId('probe');
    await probe.waitFor();
    const x = Number(await probe.getAttribute('data-x'));
    const y = Number(await probe.getAttribute('data-y'));
    const rgba = await page.evaluate(
      ([px, py]) => {
        const c = document.querySelector('[data-testid="viewport"] canvas') as HTMLCanvasElement;
        return Array.from(c.getContext('2d')!.getImageData(px, py, 1, 1).data) as [number, number, number, number];
      },
      [cx, cy] as const,
    );
    out.push({ x, y, rgba });
  }
  return out;
}

async function currentWindow(page: Page): Promise<{ center: number; width: number }> {
  const el = page.getByTestId('overlay-window');
  return { center: Number(await el.getAttribute('data-center')), width: Number(await el.getAttribute('data-width')) };
}

const POINTS: [number, number][] = [
  [0.5, 0.5], [0.3, 0.3], [0.7, 0.3], [0.3, 0.7], [0.7, 0.7], [0.45, 0.55], [0.55, 0.4], [0.6, 0.62], [0.4, 0.45],
];

test('window/level: a CT preset and a right-drag show exactly the LINEAR VOI of the stored values', async () => {
  const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  const errors = collectPageErrors(page);
  await openBySearch(page, 'Viewer (5)', 'CT1_UNC');
  const { info, data } = await storedValues(CT);
  await andRender(page, () => page.keyboard.press('1'));

  const check = async (c: number, w: number, what: string): Promise<number> => {
    let worst = 0;
    for (const s of await sample(page, POINTS)) {
      const hu = (data[s.y * info.columns + s.x] ?? 0) * info.rescaleSlope + info.rescaleIntercept;
      const want = linear(hu, c, w);
      worst = Math.max(worst, Math.abs(s.rgba[0] - want));
      assert.ok(Math.abs(s.rgba[0] - want) <= 1, `${what} at (${s.x},${s.y}) HU ${hu}: canvas ${s.rgba[0]}, LINEAR ${want}`);
      assert.equal(s.rgba[0], s.rgba[1]);
    }
    return worst;
  };

  // The file's own window first; CT1_UNC has none, so the frame's modality range.
  const fileWindow = await currentWindow(page);
  if (info.windowCenter.length) assert.deepEqual(fileWindow, { center: info.windowCenter[0], width: info.windowWidth[0] });
  else {
    let lo = Infinity;
    let hi = -Infinity;
    for (const v of data) {
      lo = Math.min(lo, v * info.rescaleSlope + info.rescaleIntercept);
      hi = Math.max(hi, v * info.rescaleSlope + info.rescaleIntercept);
    }
    assert.deepEqual(fileWindow, { center: (lo + hi + 1) / 2, width: hi - lo + 1 });
  }
  await check(fileWindow.center, fileWindow.width, 'file window');

  for (const preset of ['lung', 'brain'] as const) {
    await andRender(page, () => page.getByTestId(`preset-${preset}`).click());
    const w = await currentWindow(page);
    assert.deepEqual(w, preset === 'lung' ? { center: -600, width: 1500 } : { center: 40, width: 80 });
    const worst = await check(w.center, w.width, preset);
    process.stdout.write(`${preset}: worst difference ${worst} grey level(s)\n`);
    if (preset === 'lung') await screenshot(page, 'viewer-ct-lung');
  }

  // Right-drag window/level on the canvas.
  const box = await page.getByTestId('viewport').boundingBox();
  assert.ok(box);
  await andRender(page, async () => {
    await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
    await page.mouse.down({ button: 'right' });
    await page.mouse.move(box.x + box.width / 2 + 60, box.y + box.height / 2 + 25, { steps: 5 });
    await page.mouse.up({ button: 'right' });
  });
  const dragged = await currentWindow(page);
  assert.notDeepEqual(dragged, { center: 40, width: 80 });
  await check(dragged.center, dragged.width, 'after W/L drag');
  await screenshot(page, 'viewer-ct-wl-drag');

  // Length in mm from Pixel Spacing, and identifiers hidden by a key.
  await page.keyboard.press('l');
  await page.mouse.move(box.x + 300, box.y + 300);
  await page.mouse.down();
  await page.mouse.move(box.x + 400, box.y + 300, { steps: 4 });
  await page.mouse.up();
  const label = await page.getByTestId('length-label').first().textContent();
  const spacing = info.pixelSpacing;
  assert.ok(spacing);
  assert.match(label ?? '', /^\d+(\.\d)? mm$/);
  assert.ok(Math.abs(Number.parseFloat(label ?? '') - 100 * spacing[1]) < 1.5 * spacing[1], `${label} vs ${100 * spacing[1]} mm`);
  await page.keyboard.press('h');
  assert.match((await page.getByTestId('overlay-patient').textContent()) ?? '', /Patient hidden/);
  assert.deepEqual(errors, []);
  await page.close();
});

test('MONOCHROME1 shows inverted; palette colour shows the palette RGB', async () => {
  const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  const errors = collectPageErrors(page);
  // 16x16 pixels: fitted (about 50 canvas pixels per image pixel, replicated, not smoothed).
  await openBySearch(page, 'Viewer (5)', '6154');
  const cr = await storedValues(CR);
  assert.equal(cr.info.photometricInterpretation, 'MONOCHROME1');
  const w = await currentWindow(page);
  assert.deepEqual(w, { center: cr.info.windowCenter[0], width: cr.info.windowWidth[0] });
  // Not the canvas centre: fitted, it falls exactly on the edge between two image pixels.
  for (const s of await sample(page, POINTS.slice(1))) {
    const v = (cr.data[s.y * cr.info.columns + s.x] ?? 0) * cr.info.rescaleSlope + cr.info.rescaleIntercept;
    const want = 255 - linear(v, w.center, w.width);
    assert.ok(Math.abs(s.rgba[0] - want) <= 1, `CR at (${s.x},${s.y}): canvas ${s.rgba[0]}, inverted LINEAR ${want}`);
  }
  await screenshot(page, 'viewer-monochrome1');

  await openBySearch(page, 'Viewer (5)', 'examples_palette');
  await andRender(page, () => page.keyboard.press('1'));
  const pal = await storedValues(PALETTE);
  const lut = pal.info.palette;
  assert.ok(lut);
  const shift = lut.red.bits > 8 ? lut.red.bits - 8 : 0;
  for (const s of await sample(page, POINTS)) {
    const index = (pal.data[s.y * pal.info.columns + s.x] ?? 0) - lut.red.firstMapped;
    const want: number[] = [lut.red, lut.green, lut.blue].map((l): number => (l.data[Math.min(Math.max(index, 0), l.data.length - 1)] ?? 0) >> shift);
    assert.deepEqual(s.rgba.slice(0, 3), want, `palette at (${s.x},${s.y})`);
  }
  await screenshot(page, 'viewer-palette');

  // A segmented palette (PS3.3 C.7.9.2, first mapped value 100): the reference is pydicom, not our LUT.
  // 50x40 pixels, fitted (replicated, not smoothed); the canvas centre is on a pixel edge.
  await openBySearch(page, 'Viewer (5)', 'segmented');
  const seg = await storedValues(segmented.path);
  for (const s of await sample(page, POINTS.slice(1))) {
    const at = (s.y * seg.info.columns + s.x) * 3;
    assert.deepEqual(s.rgba.slice(0, 3), [...segmented.rgb.subarray(at, at + 3)], `segmented palette at (${s.x},${s.y})`);
  }
  await screenshot(page, 'viewer-palette-segmented');
  assert.deepEqual(errors, []);
  await page.close();
});

test('the browse grid renders only what is visible, scrolls 3,000 items and opens one from the keyboard', async () => {
  const { page, close } = await openApp(browser, bridge.url, { viewport: { width: 1400, height: 900 } });
  await page.keyboard.press('Alt+4');
  const grid = page.getByTestId('browse-grid');
  await grid.waitFor();
  await page.getByTestId('browse-dataset').selectOption({ label: `Big (${BIG})` });
  await page.getByTestId('browse-total').filter({ hasText: '3,000 items' }).waitFor();
  await page.locator('.cell[data-index="0"] img').waitFor();
  await screenshot(page, 'browse-grid');

  // Scroll to the middle: the cells there fill in from pages fetched on demand.
  await grid.evaluate((el) => (el.scrollTop = el.scrollHeight / 2));
  const middle = page.locator('.cell[data-index="1500"]');
  await middle.waitFor();
  await page.waitForFunction(() => document.querySelector('.cell[data-index="1500"]')?.getAttribute('data-item-id') !== '');
  assert.match((await middle.textContent()) ?? '', /slice_01500/);
  const rendered = await page.locator('.cell').count();
  assert.ok(rendered < 200, `${rendered} cells in the DOM for ${BIG} items`);
  await screenshot(page, 'browse-grid-scrolled');

  // Keyboard: End, Home, then two right and one down, Enter opens it.
  await grid.focus();
  await page.keyboard.press('End');
  await page.locator('.cell.selected[data-index="2999"]').waitFor();
  await page.keyboard.press('Home');
  const columns = await grid.evaluate((el) => Math.floor(el.clientWidth / 168));
  await page.keyboard.press('ArrowRight');
  await page.keyboard.press('ArrowRight');
  await page.keyboard.press('ArrowDown');
  const selected = page.locator('.cell.selected');
  assert.equal(await selected.getAttribute('data-index'), String(2 + columns));
  const name = `slice_${String(2 + columns).padStart(5, '0')}.dcm`;
  await page.keyboard.press('Enter');
  await page.getByTestId('viewer').waitFor();
  await page.waitForFunction(() => Number(document.querySelector('[data-testid="viewport"]')?.getAttribute('data-render-count')) > 0);
  assert.match((await page.getByTestId('viewer').locator('.title').textContent()) ?? '', new RegExp(name));
  await screenshot(page, 'viewer-from-grid');
  await page.keyboard.press('Escape');
  await page.locator('.cell.selected').waitFor();
  assert.equal(await page.locator('.cell.selected').getAttribute('data-index'), String(2 + columns));
  await close();
});

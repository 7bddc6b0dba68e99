/**
 * Labeling in headless Chromium against the REAL core: shapes drawn at zoom 2 after a pan
 * are stored in image pixels (checked against cornerstone's documented canvas transform,
 * canvas = W/2 + scale * (image + translation - imageSize/2), written out here, not the
 * viewer's pageToPixel), undo/redo reach the library, a reload shows everything again,
 * keyboard-only labeling, a model proposal accepted as the annotator's own label, copy to
 * the next slice and interpolation in a CT series, review mode, and the label schema editor.
 */
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import type { Core } from '../../electron/core/composition-root';
import { rleToBbox } from '../../electron/core/labels/rle';
import type { AnnotationRow } from '../../electron/core/store/annotation-store';
import { writeSyntheticCtStudies } from '../../electron/core/samples/synthetic-ct';
import { writeSyntheticRoadScenes } from '../../electron/core/samples/synthetic-road';
import { startBridge, type Bridge } from '../harness/bridge-server';
import { tempCore, tempDir } from '../helpers/temp-library';
import { andRender, launchBrowser, openApp, screenshot } from './browser';

const W = 320;
const H = 240;
const CT_SIZE = 64;
const ANNOTATOR = 'Dr Test';

let browser: Browser;
let bridge: Bridge;
let core: Core;
let cleanup: () => void;
let data: { dir: string; cleanup(): void };
let road: { datasetId: number; items: number[]; classes: Record<string, number> };
let ct: { datasetId: number; slices: number[]; lesion: number };

before(async () => {
  const t = tempCore();
  core = t.core;
  cleanup = t.cleanup;
  data = tempDir('fovea-annotate-e2e-');
  await writeSyntheticRoadScenes(join(data.dir, 'road'), { count: 4, width: W, height: H, seed: 3 });
  await writeSyntheticCtStudies(join(data.dir, 'ct'), { patients: 1, slicesPerSeries: 5, size: CT_SIZE, seed: 5 });
  const r = core.datasets.create('Road', '');
  await core.importFiles({ datasetId: r.id, paths: [join(data.dir, 'road', 'images')] });
  const classes: Record<string, number> = {};
  for (const name of ['car', 'person', 'sign']) classes[name] = core.annotations.ensureClass(r.id, name);
  road = { datasetId: r.id, items: (core.db.prepare('SELECT id FROM items WHERE dataset_id = ? ORDER BY id').pluck().all(r.id) as number[]), classes };
  const c = core.datasets.create('CT', '');
  const seriesDir = join(data.dir, 'ct', 'SYNTH-001', 'CT_AXIAL');
  await core.importFiles({ datasetId: c.id, paths: readdirSync(seriesDir).filter((f) => f.endsWith('.dcm')).map((f) => join(seriesDir, f)) });
  const seriesId = (core.db.prepare('SELECT id FROM series WHERE dataset_id = ?').get(c.id) as { id: number }).id;
  ct = { datasetId: c.id, slices: core.pixels.series(seriesId).entries.map((e) => e.itemId), lesion: core.annotations.ensureClass(c.id, 'lesion') };
  assert.equal(road.items.length, 4);
  assert.equal(ct.slices.length, 5);
  bridge = await startBridge(core);
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await bridge?.close();
  cleanup?.();
  data?.cleanup();
});

function rows(itemId: number): AnnotationRow[] {
  return core.annotations.listForItem(itemId);
}

async function until<T>(what: string, get: () => T | null | undefined | false, ms = 5000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = get();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** Browse to a dataset and open the item at `index` of the grid in the viewer. */
async function openItem(page: Page, dataset: string, index: number): Promise<void> {
  await page.keyboard.press('Alt+4');
  await page.getByTestId('browse-grid').waitFor();
  await page.getByTestId('browse-dataset').selectOption({ label: dataset });
  await page.locator(`.cell[data-index="${index}"][data-item-id]:not([data-item-id=""])`).waitFor();
  await page.locator(`.cell[data-index="${index}"]`).dblclick();
  await page.getByTestId('annotation-panel').waitFor();
  await page.waitForFunction(() => Number(document.querySelector('[data-testid="viewport"]')?.getAttribute('data-render-count')) > 0);
}

/** The layer shows the annotation (the page has the saved row). */
async function shown(page: Page, id: number): Promise<void> {
  await page.locator(`[data-testid="annotation-layer"] g[data-annotation-id="${id}"]`).waitFor();
}

/** The panel shows (and keys apply to) this image. */
async function labelsOf(page: Page, itemId: number): Promise<void> {
  await page.locator(`[data-testid="annotation-panel"][data-item-id="${itemId}"]`).waitFor();
}

async function saved(page: Page): Promise<void> {
  await page.waitForFunction(() => document.querySelector('[data-testid="save-state"]')?.getAttribute('data-pending') === '0');
}

interface Transform {
  box: { x: number; y: number; width: number; height: number };
  canvasW: number;
  canvasH: number;
  scale: number;
  tx: number;
  ty: number;
}

async function transform(page: Page): Promise<Transform> {
  const vp = page.getByTestId('viewport');
  const canvas = vp.locator('canvas');
  const box = await canvas.boundingBox();
  assert.ok(box);
  const [canvasW, canvasH] = await canvas.evaluate((c: HTMLCanvasElement) => [c.width, c.height]);
  return {
    box,
    canvasW: canvasW as number,
    canvasH: canvasH as number,
    scale: Number(await vp.getAttribute('data-scale')),
    tx: Number(await vp.getAttribute('data-tx')),
    ty: Number(await vp.getAttribute('data-ty')),
  };
}

/** Image pixel coordinates of a page point, by cornerstone's documented transform (no rotation or flip). */
function toImage(t: Transform, pageX: number, pageY: number, iw: number, ih: number): { x: number; y: number } {
  const cx = ((pageX - t.box.x) * t.canvasW) / t.box.width;
  const cy = ((pageY - t.box.y) * t.canvasH) / t.box.height;
  return { x: (cx - t.canvasW / 2) / t.scale - t.tx + iw / 2, y: (cy - t.canvasH / 2) / t.scale - t.ty + ih / 2 };
}

/** The inverse: where an image point is on the page. */
function toPage(t: Transform, x: number, y: number, iw: number, ih: number): { x: number; y: number } {
  const cx = t.canvasW / 2 + t.scale * (x + t.tx - iw / 2);
  const cy = t.canvasH / 2 + t.scale * (y + t.ty - ih / 2);
  return { x: t.box.x + (cx * t.box.width) / t.canvasW, y: t.box.y + (cy * t.box.height) / t.canvasH };
}

function maskPixels(row: AnnotationRow | null | undefined): number {
  const counts = (row?.geometry as { rle: { counts: number[] } } | undefined)?.rle.counts ?? [];
  return counts.reduce((sum, c, i) => (i % 2 ? sum + c : sum), 0);
}

function near(actual: number, expected: number, what: string, tol = 1): void {
  assert.ok(Math.abs(actual - expected) <= tol, `${what}: stored ${actual}, drawn ${expected.toFixed(2)}`);
}

test('first start asks for the name; box, polygon and brush drawn at zoom 2 after a pan are stored in image pixels; move, undo, redo; a reload shows them', async () => {
  const { page, close } = await openApp(browser, bridge.url, { viewport: { width: 1400, height: 900 } });
  await page.getByTestId('annotator-prompt').waitFor();
  await screenshot(page, 'annotate-first-start');
  await page.getByTestId('annotator-input').fill(ANNOTATOR);
  await page.getByTestId('annotator-save').click();
  await page.getByTestId('nav-annotator').filter({ hasText: ANNOTATOR }).waitFor();
  assert.equal(await page.getByTestId('annotator-prompt').count(), 0);

  await openItem(page, 'Road (4)', 0);
  const item = road.items[0]!;
  // Zoom 2, then pan by a middle-button drag.
  await andRender(page, () => page.getByTestId('zoom-2').click());
  const vbox = (await page.getByTestId('viewport').boundingBox())!;
  const cx = vbox.x + vbox.width / 2;
  const cy = vbox.y + vbox.height / 2;
  await andRender(page, async () => {
    await page.mouse.move(cx, cy);
    await page.mouse.down({ button: 'middle' });
    await page.mouse.move(cx - 70, cy + 40, { steps: 4 });
    await page.mouse.up({ button: 'middle' });
  });
  const t = await transform(page);
  assert.equal(t.scale, 2);
  assert.ok(Math.abs(t.tx) > 10 && Math.abs(t.ty) > 10, `panned: ${t.tx}, ${t.ty}`);

  // Box: drag from one corner to the other.
  await page.keyboard.press('b');
  const a = { x: cx - 150, y: cy - 90 };
  const b = { x: cx - 30, y: cy + 20 };
  await page.mouse.move(a.x, a.y);
  await page.mouse.down();
  await page.mouse.move(b.x, b.y, { steps: 6 });
  await page.mouse.up();
  const box = await until('the box row', () => rows(item).find((r) => r.kind === 'box'));
  const ia = toImage(t, a.x, a.y, W, H);
  const ib = toImage(t, b.x, b.y, W, H);
  const g = box.geometry as { x: number; y: number; width: number; height: number };
  near(g.x, ia.x, 'box x');
  near(g.y, ia.y, 'box y');
  near(g.x + g.width, ib.x, 'box right');
  near(g.y + g.height, ib.y, 'box bottom');
  assert.deepEqual([box.author, box.source, box.status, box.classId], [ANNOTATOR, 'human', 'active', road.classes['car']]);

  // Polygon with class 2 (person): four clicks, Enter closes it.
  await page.keyboard.press('g');
  await page.keyboard.press('2');
  const poly = [
    { x: cx + 20, y: cy - 100 },
    { x: cx + 130, y: cy - 80 },
    { x: cx + 110, y: cy + 10 },
    { x: cx + 40, y: cy + 30 },
  ];
  for (const p of poly) await page.mouse.click(p.x, p.y);
  await page.keyboard.press('Enter');
  const polygon = await until('the polygon row', () => rows(item).find((r) => r.kind === 'polygon'));
  const pts = (polygon.geometry as { points: [number, number][] }).points;
  assert.equal(pts.length, 4);
  poly.forEach((p, i) => {
    const want = toImage(t, p.x, p.y, W, H);
    near(pts[i]![0], want.x, `vertex ${i} x`);
    near(pts[i]![1], want.y, `vertex ${i} y`);
  });
  assert.equal(polygon.classId, road.classes['person']);

  // Brush (class 3, sign), 10 image pixels wide: one stroke, saved on release.
  await page.keyboard.press('d');
  await page.keyboard.press('3');
  await page.getByTestId('brush-size').fill('10');
  const s0 = { x: cx - 120, y: cy + 80 };
  const s1 = { x: cx + 60, y: cy + 110 };
  await page.mouse.move(s0.x, s0.y);
  await page.mouse.down();
  await page.mouse.move(s1.x, s1.y, { steps: 12 });
  await page.mouse.up();
  const mask = await until('the mask row', () => rows(item).find((r) => r.kind === 'mask'));
  const rle = (mask.geometry as { rle: { size: [number, number]; counts: number[] } }).rle;
  assert.deepEqual(rle.size, [H, W]);
  assert.equal(rle.counts.reduce((p, q) => p + q, 0), W * H);
  // The stroke's extent: from the first to the last point, plus the brush radius (5 px).
  const [bx, by, bw, bh] = rleToBbox(rle);
  const i0 = toImage(t, s0.x, s0.y, W, H);
  const i1 = toImage(t, s1.x, s1.y, W, H);
  near(bx, Math.min(i0.x, i1.x) - 5, 'stroke left');
  near(bx + bw, Math.max(i0.x, i1.x) + 5, 'stroke right');
  near(by, Math.min(i0.y, i1.y) - 5, 'stroke top');
  near(by + bh, Math.max(i0.y, i1.y) + 5, 'stroke bottom');
  assert.equal(mask.classId, road.classes['sign']);
  await saved(page);
  for (const r of [box, polygon, mask]) await shown(page, r.id);
  await screenshot(page, 'annotate-box-polygon-brush');

  // Move the box with the select tool: 20, 10 screen pixels = 10, 5 image pixels at zoom 2.
  await page.keyboard.press('s');
  const inside = { x: (a.x + b.x) / 2, y: (a.y + b.y) / 2 };
  await page.mouse.move(inside.x, inside.y);
  await page.mouse.down();
  await page.mouse.move(inside.x + 20, inside.y + 10, { steps: 4 });
  await page.mouse.up();
  const moved = await until('the moved box', () => rows(item).find((r) => r.id === box.id && r.version === 2));
  const mg = moved.geometry as typeof g;
  near(mg.x, g.x + 10, 'moved x', 0.01);
  near(mg.y, g.y + 5, 'moved y', 0.01);
  assert.equal(mg.width, g.width);

  // Undo walks back newest first (the move, then the stroke); redo walks forward again.
  await page.keyboard.press('Control+z');
  await until('the box back in place', () => JSON.stringify(core.annotations.get(box.id)?.geometry) === JSON.stringify(g));
  await page.keyboard.press('Control+z');
  await until('the stroke undone', () => core.annotations.get(mask.id)?.status === 'deleted');
  assert.equal(rows(item).length, 2);
  await page.keyboard.press('Control+Shift+Z');
  await until('the stroke redone', () => core.annotations.get(mask.id)?.status === 'active');
  await page.keyboard.press('Control+Shift+Z');
  await until('the move redone', () => JSON.stringify(core.annotations.get(box.id)?.geometry) === JSON.stringify(mg));
  await saved(page);

  // Resize: drag the box's bottom-right handle 16, 12 screen pixels = 8, 6 image pixels.
  await page.mouse.click(inside.x + 20, inside.y + 10);
  await page.locator('[data-testid="annotation-layer"] g.selected').waitFor();
  const se = toPage(t, mg.x + mg.width, mg.y + mg.height, W, H);
  await page.mouse.move(se.x, se.y);
  await page.mouse.down();
  await page.mouse.move(se.x + 16, se.y + 12, { steps: 4 });
  await page.mouse.up();
  const resized = await until('the resized box', () => (core.annotations.get(box.id)?.version === 5 ? core.annotations.get(box.id) : null));
  const rg = resized.geometry as typeof g;
  assert.deepEqual([rg.x, rg.y], [mg.x, mg.y]);
  near(rg.width, mg.width + 8, 'resized width', 0.6);
  near(rg.height, mg.height + 6, 'resized height', 0.6);

  // Polygon: select it, drag on an edge to insert a vertex, Alt+click a vertex to delete it.
  const pc = toPage(t, (pts[0]![0] + pts[2]![0]) / 2, (pts[0]![1] + pts[2]![1]) / 2, W, H);
  await page.mouse.click(pc.x, pc.y);
  await page.locator(`[data-testid="annotation-layer"] g.selected[data-annotation-id="${polygon.id}"]`).waitFor();
  const edge = toPage(t, (pts[0]![0] + pts[1]![0]) / 2, (pts[0]![1] + pts[1]![1]) / 2, W, H);
  await page.mouse.move(edge.x, edge.y);
  await page.mouse.down();
  await page.mouse.move(edge.x, edge.y - 20, { steps: 3 });
  await page.mouse.up();
  const five = await until('a fifth vertex', () => {
    const p = (core.annotations.get(polygon.id)?.geometry as { points: [number, number][] }).points;
    return p.length === 5 ? p : null;
  });
  near(five[1]![0], (pts[0]![0] + pts[1]![0]) / 2, 'inserted x');
  near(five[1]![1], (pts[0]![1] + pts[1]![1]) / 2 - 10, 'inserted y');
  const v3 = toPage(t, five[3]![0], five[3]![1], W, H);
  await page.keyboard.down('Alt');
  await page.mouse.click(v3.x, v3.y);
  await page.keyboard.up('Alt');
  await until('the vertex deleted', () => (core.annotations.get(polygon.id)?.geometry as { points: unknown[] }).points.length === 4);

  // Eraser: a stroke across the mask takes pixels away from it.
  const before = maskPixels(core.annotations.get(mask.id));
  await page.keyboard.press('e');
  const mx = (s0.x + s1.x) / 2;
  await page.mouse.move(mx, (s0.y + s1.y) / 2 - 30);
  await page.mouse.down();
  await page.mouse.move(mx, (s0.y + s1.y) / 2 + 30, { steps: 6 });
  await page.mouse.up();
  await until('pixels erased', () => maskPixels(core.annotations.get(mask.id)) < before);
  await saved(page);
  await screenshot(page, 'annotate-edited');

  // Reload: everything comes back from the library.
  await page.reload();
  await openItem(page, 'Road (4)', 0);
  await page.waitForFunction(() => document.querySelectorAll('[data-testid="annotation-layer"] g[data-annotation-id]').length === 3);
  const kinds = await page.locator('[data-testid="annotation-layer"] g[data-annotation-id]').evaluateAll((els) => els.map((e) => e.getAttribute('data-kind')).sort());
  assert.deepEqual(kinds, ['box', 'mask', 'polygon']);
  assert.equal(await page.getByTestId('item-status').inputValue(), 'in_progress');
  const audit = core.db.prepare("SELECT action, actor FROM audit_log WHERE action LIKE 'annotation.%' ORDER BY id").all() as { action: string; actor: string }[];
  assert.ok(audit.length >= 8);
  assert.ok(audit.every((r) => r.actor === ANNOTATOR));
  await screenshot(page, 'annotate-after-reload');
  await close();
});

test('keyboard-only labeling: class keys, submit goes to the next image, previous comes back', async () => {
  const { page, close } = await openApp(browser, bridge.url, { viewport: { width: 1400, height: 900 } });
  await page.keyboard.press('Alt+4');
  await page.getByTestId('browse-dataset').selectOption({ label: 'Road (4)' });
  await page.locator('.cell[data-index="1"][data-item-id]:not([data-item-id=""])').waitFor();
  await page.getByTestId('browse-grid').focus();
  await page.keyboard.press('Home');
  await page.keyboard.press('ArrowRight');
  await page.keyboard.press('Enter');
  await page.getByTestId('annotation-panel').waitFor();
  const title = page.getByTestId('viewer').locator('.title');
  const names = core.db.prepare('SELECT source_name FROM items WHERE dataset_id = ? ORDER BY id').pluck().all(road.datasetId) as string[];
  /** The labels shown (and keys applied) are the given image's. */
  const showing = async (i: number): Promise<void> => {
    await title.filter({ hasText: names[i]! }).waitFor();
    await page.locator(`[data-testid="annotation-panel"][data-item-id="${road.items[i]}"]`).waitFor();
  };
  await showing(1);

  await page.keyboard.press('2');
  await until('person on image 2', () => rows(road.items[1]!).some((r) => r.kind === 'class' && r.classId === road.classes['person']));
  // Single-label: another class key replaces it.
  await page.keyboard.press('1');
  await until('car replaces person', () => {
    const cls = rows(road.items[1]!).filter((r) => r.kind === 'class');
    return cls.length === 1 && cls[0]!.classId === road.classes['car'];
  });
  await page.keyboard.press('Control+Enter');
  await showing(2);
  await page.keyboard.press('3');
  await until('sign on image 3', () => rows(road.items[2]!).some((r) => r.kind === 'class' && r.classId === road.classes['sign']));
  await page.keyboard.press('Control+Enter');
  await showing(3);
  await page.keyboard.press('Shift+N');
  await showing(2);
  await page.getByTestId('image-class-sign').and(page.locator(':checked')).waitFor();
  for (const id of [road.items[1]!, road.items[2]!]) {
    const s = core.annotations.itemStatus(id)!;
    assert.deepEqual([s.status, s.by], ['done', ANNOTATOR]);
    assert.ok(rows(id).every((r) => r.author === ANNOTATOR));
  }
  await screenshot(page, 'annotate-keyboard');
  await close();
});

test('model proposals are a dashed layer with scores; accept makes them the annotator\'s; reject hides them', async () => {
  const item = road.items[3]!;
  const propose = (x: number, score: number): number =>
    core.annotations.create({ datasetId: road.datasetId, itemId: item, classId: road.classes['car']!, kind: 'box', geometry: { x, y: 60, width: 70, height: 50 }, source: 'model', status: 'proposed', score, author: 'model run 7' });
  const p1 = propose(30, 0.91);
  const p2 = propose(180, 0.42);
  const { page, close } = await openApp(browser, bridge.url, { viewport: { width: 1400, height: 900 } });
  await openItem(page, 'Road (4)', 3);
  const proposed = page.locator('[data-testid="annotation-layer"] g.proposed');
  await proposed.nth(1).waitFor();
  assert.equal(await proposed.count(), 2);
  assert.match((await proposed.first().textContent()) ?? '', /car 0\.91/);
  const dash = await proposed.first().locator('rect').evaluate((el) => getComputedStyle(el).strokeDasharray);
  assert.notEqual(dash, 'none');
  await screenshot(page, 'annotate-proposals');

  await page.keyboard.press('a');
  await until('the proposal accepted', () => core.annotations.get(p1)?.status === 'active');
  const accepted = core.annotations.get(p1)!;
  assert.deepEqual([accepted.source, accepted.author, accepted.score], ['human', ANNOTATOR, null]);
  await page.getByTestId(`reject-${p2}`).click();
  await until('the proposal rejected', () => core.annotations.get(p2)?.status === 'rejected');
  await page.waitForFunction(() => document.querySelectorAll('[data-testid="annotation-layer"] g.proposed').length === 0);
  const audit = core.db.prepare("SELECT action, actor FROM audit_log WHERE action IN ('annotation.accept', 'annotation.reject') ORDER BY id").all();
  assert.deepEqual(audit, [{ action: 'annotation.accept', actor: ANNOTATOR }, { action: 'annotation.reject', actor: ANNOTATOR }]);
  await close();
});

test('a CT series: copy a box to the next slice, interpolate to a later slice; review mode approves and rejects', async () => {
  const { page, close } = await openApp(browser, bridge.url, { viewport: { width: 1400, height: 900 } });
  await openItem(page, 'CT (5)', 0);
  await page.keyboard.press('Home');
  const overlay = page.getByTestId('overlay-index');
  await overlay.filter({ hasText: 'Im 1/5' }).waitFor();
  await labelsOf(page, ct.slices[0]!);
  const vbox = (await page.getByTestId('viewport').boundingBox())!;
  const cx = vbox.x + vbox.width / 2;
  const cy = vbox.y + vbox.height / 2;
  const draw = async (dx0: number, dy0: number, dx1: number, dy1: number): Promise<void> => {
    await page.keyboard.press('b');
    await page.mouse.move(cx + dx0, cy + dy0);
    await page.mouse.down();
    await page.mouse.move(cx + dx1, cy + dy1, { steps: 4 });
    await page.mouse.up();
  };
  await draw(-100, -100, -20, -40);
  const first = await until('box on slice 1', () => rows(ct.slices[0]!).find((r) => r.kind === 'box'));
  await shown(page, first.id);
  await page.keyboard.press('c');
  await overlay.filter({ hasText: 'Im 2/5' }).waitFor();
  const copy = await until('box on slice 2', () => rows(ct.slices[1]!).find((r) => r.kind === 'box'));
  assert.deepEqual(copy.geometry, first.geometry);

  await page.keyboard.press('End');
  await overlay.filter({ hasText: 'Im 5/5' }).waitFor();
  await labelsOf(page, ct.slices[4]!);
  await draw(0, 0, 120, 90);
  const last = await until('box on slice 5', () => rows(ct.slices[4]!).find((r) => r.kind === 'box'));
  await shown(page, last.id);
  await page.keyboard.press('s');
  await page.mouse.click(cx + 60, cy + 45);
  await page.locator('[data-testid="annotation-layer"] g.selected').waitFor();
  await page.keyboard.press('t');
  const mid = await until('boxes on slices 3 and 4', () => {
    const b3 = rows(ct.slices[2]!).find((r) => r.kind === 'box');
    const b4 = rows(ct.slices[3]!).find((r) => r.kind === 'box');
    return b3 && b4 ? [b3, b4] : null;
  });
  // Slice 5 to its nearest labelled slice (2): slice 4 is a third of the way, slice 3 two thirds.
  const A = last.geometry as { x: number; y: number; width: number; height: number };
  const B = copy.geometry as typeof A;
  mid.forEach((row, k) => {
    const tt = k === 0 ? 2 / 3 : 1 / 3;
    const gg = row.geometry as typeof A;
    for (const key of ['x', 'y', 'width', 'height'] as const) near(gg[key], A[key] + (B[key] - A[key]) * tt, `slice ${k + 3} ${key}`, 0.02);
  });
  await saved(page);
  await screenshot(page, 'annotate-ct-interpolated');

  // Masks: paint on slice 5 and slice 1, select the one on slice 1, interpolate: slices 2-4 get masks.
  await page.keyboard.press('d');
  await page.getByTestId('brush-size').fill('6');
  const paint = async (dx: number, dy: number, len: number): Promise<void> => {
    await page.mouse.move(cx + dx, cy + dy);
    await page.mouse.down();
    await page.mouse.move(cx + dx + len, cy + dy, { steps: 5 });
    await page.mouse.up();
  };
  await paint(-200, 120, 160);
  const m5 = await until('mask on slice 5', () => rows(ct.slices[4]!).find((r) => r.kind === 'mask'));
  await shown(page, m5.id);
  await page.keyboard.press('Home');
  await overlay.filter({ hasText: 'Im 1/5' }).waitFor();
  await labelsOf(page, ct.slices[0]!);
  await paint(-200, 160, 40);
  const m1 = await until('mask on slice 1', () => rows(ct.slices[0]!).find((r) => r.kind === 'mask'));
  await shown(page, m1.id);
  await page.keyboard.press('s');
  await page.mouse.click(cx - 180, cy + 160);
  await page.locator(`[data-testid="annotation-layer"] g.selected[data-annotation-id="${m1.id}"]`).waitFor();
  await page.keyboard.press('t');
  const between = await until('masks on slices 2-4', () => {
    const ms = [1, 2, 3].map((i) => rows(ct.slices[i]!).find((r) => r.kind === 'mask'));
    return ms.every(Boolean) ? ms : null;
  });
  const areas = between.map(maskPixels);
  assert.ok(maskPixels(m1) < areas[0]! && areas[0]! <= areas[1]! && areas[1]! <= areas[2]! && areas[2]! < maskPixels(m5), `areas ${maskPixels(m1)} ${areas.join(' ')} ${maskPixels(m5)}`);
  await saved(page);

  // Review mode: two slices need review.
  core.db.prepare("UPDATE items SET status = 'needs_review' WHERE id IN (?, ?)").run(ct.slices[0], ct.slices[1]);
  const [firstReview, secondReview] = [ct.slices[0]!, ct.slices[1]!].sort((p, q) => p - q) as [number, number];
  await page.keyboard.press('Escape'); // deselects
  await page.keyboard.press('Escape'); // back to the grid
  await page.getByTestId('start-review').click();
  const bar = page.getByTestId('review-bar');
  await bar.waitFor();
  await page.getByTestId('review-position').filter({ hasText: '1 / 2' }).waitFor();
  await screenshot(page, 'annotate-review');
  await page.keyboard.press('y');
  await page.getByTestId('review-position').filter({ hasText: '2 / 2' }).waitFor();
  await page.getByTestId('review-comment').fill('Box misses the lower edge');
  await page.getByTestId('review-reject').click();
  await until('both reviewed', () => core.annotations.itemStatus(secondReview)?.status === 'rejected');
  const approved = core.annotations.itemStatus(firstReview)!;
  const rejected = core.annotations.itemStatus(secondReview)!;
  assert.deepEqual([approved.status, approved.by], ['approved', ANNOTATOR]);
  assert.deepEqual([rejected.status, rejected.comment], ['rejected', 'Box misses the lower edge']);
  await close();
});

test('label schema editor: add a class with a key; deleting a class in use offers to move its annotations', async () => {
  const { page, close } = await openApp(browser, bridge.url, { viewport: { width: 1400, height: 900 } });
  await page.keyboard.press('Alt+4');
  await page.getByTestId('browse-dataset').selectOption({ label: 'Road (4)' });
  await page.getByTestId('open-schema').click();
  await page.getByTestId('schema-class-car').waitFor();
  await page.getByTestId('new-class-name').fill('bicycle');
  await page.getByTestId('new-class-key').selectOption('4');
  await page.getByTestId('add-class').click();
  await page.getByTestId('schema-class-bicycle').waitFor();
  const bicycle = core.annotations.listClasses(road.datasetId).find((c) => c.name === 'bicycle');
  assert.equal(bicycle?.hotkey, '4');
  await page.getByTestId('delete-class-sign').click();
  await page.getByTestId('reassign').waitFor();
  assert.match((await page.getByTestId('schema-error').textContent()) ?? '', /used by \d+ annotation/);
  await screenshot(page, 'annotate-schema-editor');
  await page.getByTestId('reassign-to').selectOption({ label: 'bicycle' });
  await page.getByRole('button', { name: 'Move and delete' }).click();
  await page.getByTestId('schema-class-sign').waitFor({ state: 'detached' });
  assert.equal(core.annotations.listForDataset(road.datasetId).filter((a) => a.classId === bicycle?.id).length > 0, true);
  // Merge (issue 20.4): bicycle into car; every annotation of bicycle is car's now.
  const car = core.annotations.listClasses(road.datasetId).find((c) => c.name === 'car');
  const before = core.annotations.listForDataset(road.datasetId).filter((a) => a.classId === bicycle?.id || a.classId === car?.id).length;
  await page.getByTestId('merge-class-bicycle').selectOption({ label: 'car' });
  await page.getByTestId('schema-class-bicycle').waitFor({ state: 'detached' });
  await screenshot(page, 'annotate-schema-merged');
  assert.equal(core.annotations.listForDataset(road.datasetId).filter((a) => a.classId === car?.id).length, before);
  assert.equal(core.annotations.listClasses(road.datasetId).some((c) => c.name === 'bicycle'), false);

  await page.keyboard.press('Alt+6');
  await page.getByTestId('settings-screen').waitFor();
  await page.getByTestId('hotkey-image.next').focus();
  await page.keyboard.press('ArrowRight');
  await until('next on ArrowRight', () => core.annotatorSettings.current().hotkeys['image.next'] === 'ArrowRight');
  await screenshot(page, 'annotate-settings');
  await close();
});

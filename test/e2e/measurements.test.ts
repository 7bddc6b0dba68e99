/**
 * Kept measurements in the viewer (issue 19), real Chromium against the real core: on a real CT
 * series (5 slices) draw a length, an angle, an ellipse, a rectangle and a freehand region with
 * their keys; each shows the core's values (measurements.list) as measure-format.ts writes them,
 * on the image and in the panel; a click in the panel goes to the slice; a reload keeps them;
 * delete removes one from the screen, the library and into the audit log; the Export screen writes
 * them as CSV.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import type { Measurement } from '../../electron/contract/measure';
import type { Core } from '../../electron/core/composition-root';
import { measurementLines, measurementSummary } from '../../renderer/src/viewer/measure-format';
import { startBridge, type Bridge } from '../harness/bridge-server';
import { SHARED_TESTDATA } from '../helpers/paths';
import { tempCore } from '../helpers/temp-library';
import { collectPageErrors, launchBrowser, screenshot } from './browser';

const SERIES = join(SHARED_TESTDATA, 'dicom/pydicom/dicomdirtests/98892001/CT5N');
const SLICES = ['2062', '2392', '2693', '3023', '3353'];

let core: Core;
let dir: string;
let cleanup: () => void;
let bridge: Bridge;
let browser: Browser;
let datasetId: number;

before(async () => {
  const t = tempCore();
  core = t.core;
  dir = t.dir;
  cleanup = t.cleanup;
  datasetId = core.datasets.create('Measure', '').id;
  await core.importFiles({ datasetId, paths: SLICES.map((f) => join(SERIES, f)) });
  bridge = await startBridge(core);
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await bridge?.close();
  cleanup?.();
});

async function openSeries(page: Page): Promise<void> {
  await page.goto(bridge.url);
  await page.keyboard.press('Alt+4');
  await page.getByTestId('browse-grid').waitFor();
  await page.getByTestId('browse-dataset').selectOption({ label: 'Measure (5)' });
  await page.locator('.cell[data-index="0"][data-item-id]:not([data-item-id=""])').waitFor();
  await page.getByTestId('browse-grid').focus();
  await page.keyboard.press('Enter');
  await page.getByTestId('viewer').waitFor();
  await page.waitForFunction(() => Number(document.querySelector('[data-testid="viewport"]')?.getAttribute('data-render-count')) > 0);
  await page.keyboard.press('Home');
  await page.getByTestId('overlay-index').filter({ hasText: /^Im 1\/5/ }).waitFor();
}

/** A point of the viewport as fractions of the image's fitted square (the viewport's middle). */
async function at(page: Page, fx: number, fy: number): Promise<{ x: number; y: number }> {
  const box = await page.getByTestId('viewport').boundingBox();
  assert.ok(box);
  const side = Math.min(box.width, box.height) * 0.9;
  return { x: box.x + box.width / 2 + (fx - 0.5) * side, y: box.y + box.height / 2 + (fy - 0.5) * side };
}

async function drag(page: Page, points: [number, number][]): Promise<void> {
  const [first, ...rest] = points;
  assert.ok(first);
  const p0 = await at(page, first[0], first[1]);
  await page.mouse.move(p0.x, p0.y);
  await page.mouse.down();
  for (const [fx, fy] of rest) {
    const p = await at(page, fx, fy);
    await page.mouse.move(p.x, p.y, { steps: 4 });
  }
  await page.mouse.up();
}

async function rows(page: Page, n: number): Promise<void> {
  await page.waitForFunction((count) => document.querySelectorAll('[data-testid="measure-row"]').length === count, n);
}

function kept(): Measurement[] {
  return core.measure.list({ datasetId });
}

/** What the page shows for a measurement: the label on the image and the panel's row. */
async function shown(page: Page, m: Measurement): Promise<{ label: string; row: string }> {
  const testid = m.kind === 'length' ? 'length-label' : 'measure-label';
  const label = await page.locator(`[data-testid="${testid}"][data-id="${m.id}"]`).evaluate((el) => [...el.querySelectorAll('tspan')].map((t) => t.textContent).join('\n'));
  const row = (await page.locator(`[data-testid="measure-row"][data-id="${m.id}"] [data-testid="measure-row-value"]`).textContent()) ?? '';
  return { label, row };
}

test('draw, see the core values, go to the slice, reload, delete, export', async () => {
  const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  const errors = collectPageErrors(page);
  await openSeries(page);

  await page.keyboard.press('l');
  await drag(page, [[0.15, 0.2], [0.8, 0.3]]);
  await rows(page, 1);
  await page.keyboard.press('Shift+A');
  await drag(page, [[0.2, 0.9], [0.5, 0.6]]);
  const end = await at(page, 0.85, 0.85);
  await page.mouse.move(end.x, end.y, { steps: 3 });
  await page.mouse.down();
  await page.mouse.up();
  await rows(page, 2);
  await page.keyboard.press('Shift+E');
  await drag(page, [[0.3, 0.35], [0.7, 0.75]]);
  await rows(page, 3);
  await page.keyboard.press('Shift+B');
  await drag(page, [[0.05, 0.55], [0.3, 0.95]]);
  await rows(page, 4);
  await page.keyboard.press('Shift+G');
  await drag(page, [[0.6, 0.05], [0.95, 0.1], [0.95, 0.45], [0.7, 0.4], [0.6, 0.2]]);
  await rows(page, 5);

  const first = kept();
  assert.deepEqual(first.map((m) => m.kind), ['length', 'angle', 'ellipse', 'rectangle', 'freehand']);
  for (const m of first) {
    const s = await shown(page, m);
    assert.equal(s.label, measurementLines(m.kind, m.values).join('\n'), `${m.kind} on the image`);
    assert.equal(s.row, measurementSummary(m), `${m.kind} in the panel`);
  }
  const ellipse = first[2] as Measurement;
  assert.equal(ellipse.values.unit, 'mm');
  assert.equal(ellipse.values.valueUnit, 'HU');
  assert.ok((ellipse.values.pixels ?? 0) > 20 && ellipse.values.mean !== null && ellipse.values.sd !== null);
  assert.match((await shown(page, ellipse)).label, /^Area \d+\.\d mm²\nMean -?\d+\.\d HU SD \d+\.\d\nMin -?\d+\.\d Max -?\d+\.\d · \d+ px$/);
  assert.match((await shown(page, first[1] as Measurement)).label, /^\d+\.\d°$/);
  await screenshot(page, 'measurements-drawn');

  // A measurement on slice 3; from slice 1 a click in the panel goes back to it.
  await page.keyboard.press('ArrowDown');
  await page.keyboard.press('ArrowDown');
  await page.getByTestId('overlay-index').filter({ hasText: /^Im 3\/5/ }).waitFor();
  await page.keyboard.press('Shift+B');
  await drag(page, [[0.4, 0.4], [0.6, 0.6]]);
  await rows(page, 6);
  const onThree = kept()[5] as Measurement;
  const sliceThree = core.pixels.series(onThree.seriesId as number).entries[2];
  assert.equal(onThree.itemId, sliceThree?.itemId, 'kept on the slice shown');
  await page.keyboard.press('Home');
  await page.getByTestId('overlay-index').filter({ hasText: /^Im 1\/5/ }).waitFor();
  assert.equal(await page.locator(`[data-testid="measure-label"][data-id="${onThree.id}"]`).count(), 0, 'not drawn on another slice');
  await page.locator(`[data-testid="measure-row"][data-id="${onThree.id}"]`).click();
  await page.getByTestId('overlay-index').filter({ hasText: /^Im 3\/5/ }).waitFor();
  await page.locator(`[data-testid="measure-label"][data-id="${onThree.id}"]`).waitFor();

  // Escape drops a shape in progress (the angle's second arm) and keeps nothing.
  await page.keyboard.press('Shift+A');
  await drag(page, [[0.1, 0.1], [0.3, 0.3]]);
  await page.keyboard.press('Escape');
  assert.equal(await page.getByTestId('viewer').count(), 1, 'Escape dropped the shape, not the viewer');
  assert.equal(kept().length, 6);

  // Reload: everything comes back from the library.
  await page.reload();
  await openSeries(page);
  await rows(page, 6);
  for (const m of kept().filter((x) => x.itemId === first[0]?.itemId)) assert.equal((await shown(page, m)).label, measurementLines(m.kind, m.values).join('\n'));

  // Delete the angle.
  const angle = first[1] as Measurement;
  await page.locator(`[data-testid="measure-delete"][data-id="${angle.id}"]`).click();
  await rows(page, 5);
  assert.equal(await page.locator(`[data-testid="measure-label"][data-id="${angle.id}"]`).count(), 0);
  assert.ok(!kept().some((m) => m.id === angle.id));
  const audit = core.db.prepare("SELECT action FROM audit_log WHERE object_type = 'measurement' AND object_id = ?").pluck().all(String(angle.id));
  assert.deepEqual(audit, ['measurement.create', 'measurement.delete']);
  await screenshot(page, 'measurements-after-reload-delete');

  // Export as CSV from the Export screen.
  await page.keyboard.press('Escape');
  await page.keyboard.press('Alt+7');
  await page.getByTestId('export-dataset').selectOption({ label: 'Measure (5 items)' });
  await page.getByTestId('measure-export-folder').fill(join(dir, 'measure-export'));
  await page.getByTestId('measure-export-start').click();
  await page.getByTestId('measure-export-result').waitFor();
  const csv = join(dir, 'measure-export', 'measurements.csv');
  assert.ok(existsSync(csv));
  assert.equal(readFileSync(csv, 'utf8').trim().split('\r\n').length, 1 + 5);
  await screenshot(page, 'measurements-export');
  assert.deepEqual(errors, []);
  await page.close();
});

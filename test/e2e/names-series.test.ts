/**
 * Issue 19 item 9 and navigation by patient, study and series, in headless Chromium against the
 * REAL core:
 *  - the sample CT library (IM0001.dcm ... in every patient's folder) shows names in the grid that
 *    are unique and carry the patient and the series, as the store holds them; photos that share a
 *    file name show the folder that tells them apart;
 *  - the Series view (pydicom's dicomdirtests: two patients, several studies and series) shows
 *    one card per series, grouped by patient and study, with the slice counts read here from the
 *    files themselves (Series Instance UID per file);
 *  - a card opens its series in the viewer, and the viewer's series strip switches series;
 *  - a de-identified export's hold-back list names images by patient and series.
 */
import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import sharp from 'sharp';
import type { ItemPage } from '../../electron/contract/domain';
import type { Core } from '../../electron/core/composition-root';
import { parseDicom } from '../../electron/core/dicom';
import { SAMPLE_CT_DATASET } from '../../electron/core/samples/sample-library';
import { startBridge, type Bridge } from '../harness/bridge-server';
import { SHARED_TESTDATA } from '../helpers/paths';
import { tempSampleCore } from '../helpers/sample-library-cache';
import { collectPageErrors, launchBrowser, screenshot } from './browser';

const DIRTESTS = join(SHARED_TESTDATA, 'dicom', 'pydicom', 'dicomdirtests');
const PATIENT_FOLDERS = ['77654033', '98892001', '98892003'];

let browser: Browser;
let bridge: Bridge;
let core: Core;
let cleanup: () => void;
let exportDir: string;

before(async () => {
  const t = await tempSampleCore('tiny');
  core = t.core;
  cleanup = t.cleanup;
  const series = core.datasets.create('Patients', '');
  await core.importFiles({ datasetId: series.id, paths: PATIENT_FOLDERS.map((p) => join(DIRTESTS, p)) });
  // Two photos with one file name in two folders, and one alone.
  const photos = join(t.dir, 'photos');
  for (const [dir, shade] of [['left', 60], ['right', 180], ['solo', 120]] as const) {
    mkdirSync(join(photos, dir), { recursive: true });
    const png = await sharp({ create: { width: 32, height: 24, channels: 3, background: { r: shade, g: 90, b: 40 } } }).png().toBuffer();
    writeFileSync(join(photos, dir, dir === 'solo' ? 'other.png' : 'scene.png'), png);
  }
  await core.importFiles({ datasetId: core.datasets.create('Photos', '').id, paths: [photos] });
  // An ultrasound and a secondary capture without BurnedInAnnotation: a de-identified export holds them back.
  const burned = join(SHARED_TESTDATA, 'dicom');
  await core.importFiles({ datasetId: core.datasets.create('Burned-in check', '').id, paths: [join(burned, 'pydicom-data/US1_UNCR.dcm'), join(burned, 'pydicom/SC_rgb_rle.dcm')] });
  exportDir = join(t.dir, 'export');
  bridge = await startBridge(core);
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await bridge?.close();
  cleanup?.();
});

async function openBrowse(page: Page, dataset: string): Promise<void> {
  await page.goto(bridge.url);
  await page.keyboard.press('Alt+4');
  await page.getByTestId('browse-grid').waitFor();
  await page.getByTestId('browse-dataset').selectOption(String(datasetId(dataset)));
}

/** The grid's names, by item id, once `n` cells are filled. */
async function gridNames(page: Page, n: number): Promise<Map<number, string>> {
  await page.getByTestId('browse-total').filter({ hasText: new RegExp(`^${n} items$`) }).waitFor();
  await page.locator(`.cell[data-index="${n - 1}"][data-item-id]:not([data-item-id=""])`).waitFor();
  const cells = await page.locator('.cell[data-item-id]:not([data-item-id=""])').evaluateAll((els) =>
    els.map((e) => [Number(e.getAttribute('data-item-id')), e.querySelector('[data-testid="item-name"]')?.textContent ?? ''] as const),
  );
  return new Map(cells);
}

function datasetId(name: string): number {
  return core.db.prepare('SELECT id FROM datasets WHERE name = ?').pluck().get(name) as number;
}

test('the grid names sample CT slices by patient, series and instance, never "IM0001.dcm" twice', async () => {
  const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  const errors = collectPageErrors(page);
  await openBrowse(page, SAMPLE_CT_DATASET);
  const ds = datasetId(SAMPLE_CT_DATASET);
  const stored = core.db
    .prepare(
      `SELECT i.id, i.source_name AS sourceName, i.instance_number AS instance, p.patient_name AS patient, s.modality, s.series_number AS number
       FROM items i JOIN series s ON s.id = i.series_id JOIN studies st ON st.id = s.study_id JOIN patients p ON p.id = st.patient_id
       WHERE i.dataset_id = ?`,
    )
    .all(ds) as { id: number; sourceName: string; instance: number; patient: string; modality: string; number: number }[];
  assert.equal(stored.length, 12, 'tiny sample: 2 patients x 6 slices');
  // The problem this fixes: the file names repeat across patients.
  const baseNames = stored.map((r) => r.sourceName.split('/').pop());
  assert.ok(new Set(baseNames).size < stored.length, `file names should repeat in the sample: ${baseNames.join(', ')}`);

  const names = await gridNames(page, stored.length);
  await screenshot(page, 'names-series-grid');
  assert.equal(names.size, stored.length);
  assert.equal(new Set(names.values()).size, stored.length, `names must be unique: ${[...names.values()].join(' | ')}`);
  for (const r of stored) {
    const name = names.get(r.id);
    assert.ok(name, `item ${r.id} is in the grid`);
    const patient = r.patient.replace(/\^+$/, '');
    assert.ok(name.startsWith(`${patient} · ${r.modality} ${r.number}`), `${name} carries patient ${patient} and series ${r.modality} ${r.number}`);
    assert.ok(name.endsWith(` · #${r.instance}`), `${name} ends with instance #${r.instance}`);
  }
  assert.deepEqual(errors, []);
  await page.close();
});

test('photos that share a file name show the folder that tells them apart', async () => {
  const page = await browser.newPage({ viewport: { width: 1200, height: 700 } });
  const errors = collectPageErrors(page);
  await openBrowse(page, 'Photos');
  const names = [...(await gridNames(page, 3)).values()].sort();
  assert.deepEqual(names, ['left/scene.png', 'other.png', 'right/scene.png']);
  assert.deepEqual(errors, []);
  await page.close();
});

/** Slice counts per Series Instance UID, read from the files (not through the import or the store). */
function slicesFromFiles(): Map<string, number> {
  const out = new Map<string, number>();
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir)) {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) walk(path);
      else {
        const uid = parseDicom(new Uint8Array(readFileSync(path))).str('0020000E');
        if (uid) out.set(uid, (out.get(uid) ?? 0) + 1);
      }
    }
  };
  for (const p of PATIENT_FOLDERS) walk(join(DIRTESTS, p));
  return out;
}

test('the Series view shows one card per series by patient and study, with its slice count; the strip switches series', async () => {
  const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  const errors = collectPageErrors(page);
  await openBrowse(page, 'Patients');
  await page.getByTestId('view-series').click();
  const cards = page.getByTestId('series-card');
  const ds = datasetId('Patients');
  const uidOf = new Map((core.db.prepare('SELECT id, series_uid AS uid FROM series WHERE dataset_id = ?').all(ds) as { id: number; uid: string }[]).map((r) => [r.id, r.uid]));
  const fromFiles = slicesFromFiles();
  assert.equal(uidOf.size, fromFiles.size, 'the store holds every series of the files');
  await cards.nth(fromFiles.size - 1).waitFor();
  assert.equal(await cards.count(), fromFiles.size);
  await screenshot(page, 'names-series-cards');

  const shown = await cards.evaluateAll((els) => els.map((e) => ({ id: Number(e.getAttribute('data-series-id')), slices: e.querySelector('[data-testid="series-card-slices"]')?.textContent ?? '' })));
  for (const c of shown) {
    const uid = uidOf.get(c.id);
    assert.ok(uid, `card ${c.id} is a series of the dataset`);
    const n = fromFiles.get(uid);
    assert.equal(c.slices, `${n} ${n === 1 ? 'slice' : 'slices'}`, `series ${uid}`);
  }
  // Grouped: two patients (Doe^Peter's two folders are one patient), each study once.
  const patients = await page.getByTestId('series-patient').evaluateAll((els) => els.map((e) => e.getAttribute('data-patient')));
  assert.deepEqual(patients, ['Doe^Archibald', 'Doe^Peter']);
  const studies = core.db.prepare('SELECT count(*) FROM studies st JOIN patients p ON p.id = st.patient_id WHERE p.dataset_id = ?').pluck().get(ds) as number;
  assert.equal(await page.getByTestId('series-study').count(), studies);

  // Open CT 5 (5 slices) from its card with the keyboard: the viewer starts at its middle slice and names it.
  const ct5 = page.getByTestId('series-card').filter({ hasText: 'CT 5 SmartScore' });
  const ct5Id = await ct5.getAttribute('data-series-id');
  await ct5.focus();
  await page.keyboard.press('Enter');
  await page.getByTestId('viewer').waitFor();
  const title = page.getByTestId('viewer').locator('header .title');
  await page.waitForFunction(() => Number(document.querySelector('[data-testid="viewport"]')?.getAttribute('data-render-count')) > 0);
  assert.equal(await title.textContent(), 'Doe^Peter · CT 5 SmartScore - Gated 0.5 sec · #8');
  await page.locator('.pos').filter({ hasText: '3 / 5' }).waitFor();

  // The strip: Doe^Peter's series only, the open one marked.
  const strip = page.getByTestId('series-strip');
  await strip.waitFor();
  const stripIds = await strip.getByTestId('strip-series').evaluateAll((els) => els.map((e) => Number(e.getAttribute('data-series-id'))));
  const peters = core.db
    .prepare("SELECT s.id FROM series s JOIN studies st ON st.id = s.study_id JOIN patients p ON p.id = st.patient_id WHERE s.dataset_id = ? AND p.patient_name = 'Doe^Peter'")
    .pluck()
    .all(ds) as number[];
  assert.deepEqual([...stripIds].sort((a, b) => a - b), [...peters].sort((a, b) => a - b));
  assert.equal(await strip.locator('[aria-current="true"]').getAttribute('data-series-id'), ct5Id);
  await screenshot(page, 'names-series-viewer-ct5');
  // The title follows the slice shown.
  await page.keyboard.press('ArrowDown');
  await page.locator('.pos').filter({ hasText: /^[24] \/ 5$/ }).waitFor();
  assert.match((await title.textContent()) ?? '', /^Doe\^Peter · CT 5 SmartScore - Gated 0\.5 sec · #(7|9)$/);

  // Switch to MR 700 (7 slices) from the strip.
  await strip.getByTestId('strip-series').filter({ hasText: 'MR 700' }).click();
  await page.locator('.pos').filter({ hasText: '4 / 7' }).waitFor();
  assert.match((await title.textContent()) ?? '', /^Doe\^Peter · MR 700 ANGIO Projected from C · #4$/);
  const mr700 = await strip.locator('[aria-current="true"]').getAttribute('data-series-id');
  assert.equal(fromFiles.get(uidOf.get(Number(mr700)) ?? ''), 7);
  await screenshot(page, 'names-series-viewer-mr700');

  assert.deepEqual(errors, []);
  await page.close();
});

test('the hold-back list of a de-identified export names each image by patient and series, not "item 158"', async () => {
  const page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
  const errors = collectPageErrors(page);
  const ds = datasetId('Burned-in check');
  const listed = await core.dispatch('items.list', { datasetId: ds });
  assert.ok(listed.ok);
  const expected = (listed.value as ItemPage).rows.map((r) => r.displayName).sort();
  const patients = core.db
    .prepare('SELECT p.patient_name AS name, p.patient_key AS id FROM items i JOIN series s ON s.id = i.series_id JOIN studies st ON st.id = s.study_id JOIN patients p ON p.id = st.patient_id WHERE i.dataset_id = ?')
    .all(ds) as { name: string | null; id: string }[];
  assert.equal(patients.length, 2);
  await page.goto(bridge.url);
  await page.keyboard.press('Alt+7');
  await page.getByTestId('export-dataset').selectOption({ label: 'Burned-in check (2 items)' });
  await page.getByTestId('export-format').selectOption('dicom-deid');
  await page.getByTestId('export-folder').fill(exportDir);
  await page.getByTestId('export-start').click();
  const held = page.getByTestId('export-held-back');
  await held.waitFor({ timeout: 30_000 });
  const lines = await held.getByTestId('held-back-item').allTextContents();
  await screenshot(page, 'names-series-held-back');
  assert.equal(lines.length, 2);
  const shownNames = lines.map((l) => l.slice(0, l.indexOf(': '))).sort();
  assert.deepEqual(shownNames, expected);
  for (const l of lines) assert.doesNotMatch(l, /^item \d/);
  for (const p of patients) {
    const who = (p.name ?? '').replace(/\^+$/, '') || p.id;
    assert.ok(shownNames.some((n) => n.startsWith(who)), `a held-back name carries patient ${who}: ${shownNames.join(' | ')}`);
  }
  assert.deepEqual(errors, []);
  await page.close();
});

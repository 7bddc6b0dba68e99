// test-run: serial
/**
 * Data management in the real UI against the real core (issue 19): rename and delete datasets on
 * the Library home (the confirmation says what happens to training runs, and a running run refuses
 * the delete), and marking items in Browse from the keyboard and the mouse for batch status,
 * split (a patient moves whole, said plainly) and delete. `fovea check` passes after the deletes.
 * Deleting a big dataset is a job: the row goes at once, the Jobs panel shows its progress.
 */
import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import sharp from 'sharp';
import type { Core } from '../../electron/core/composition-root';
import { startBridge, type Bridge } from '../harness/bridge-server';
import { seedBigDataset } from '../helpers/big-dataset';
import { SHARED_TESTDATA } from '../helpers/paths';
import { tempCore } from '../helpers/temp-library';
import { launchBrowser, openApp, screenshot } from './browser';

let browser: Browser;
let bridge: Bridge;
let core: Core;
let cleanup: () => void;
let chest = 0;
let road = 0;
let runId = 0;

const DICOMDIR_TESTS = join(SHARED_TESTDATA, 'dicom/pydicom/dicomdirtests');

function dicomdirInstances(): string[] {
  const out: string[] = [];
  for (const patient of readdirSync(DICOMDIR_TESTS)) {
    const p = join(DICOMDIR_TESTS, patient);
    if (!statSync(p).isDirectory()) continue;
    for (const series of readdirSync(p)) for (const f of readdirSync(join(p, series))) out.push(join(p, series, f));
  }
  return out.sort();
}

async function pngs(dir: string, n: number, seed: number): Promise<string[]> {
  mkdirSync(dir, { recursive: true });
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    const f = join(dir, `photo${i}.png`);
    await sharp({ create: { width: 24, height: 24, channels: 3, background: { r: seed + 30 * i, g: 80, b: 160 } } }).png().toFile(f);
    out.push(f);
  }
  return out;
}

before(async () => {
  const t = tempCore();
  core = t.core;
  cleanup = t.cleanup;
  chest = core.datasets.create('Chest', '').id;
  road = core.datasets.create('Road', '').id;
  await core.importFiles({ datasetId: chest, paths: [...dicomdirInstances(), ...(await pngs(join(t.dir, 'c'), 3, 10))] });
  await core.importFiles({ datasetId: road, paths: await pngs(join(t.dir, 'r'), 2, 200) });
  const set = await core.dispatch('settings.set', { annotatorName: 'E2E' });
  assert.ok(set.ok);
  const cls = await core.dispatch('classes.create', { datasetId: chest, name: 'lesion' });
  assert.ok(cls.ok);
  const first = core.db.prepare('SELECT min(id) FROM items WHERE dataset_id = ?').pluck().get(chest) as number;
  const ann = await core.dispatch('annotations.create', { itemId: first, classId: (cls.value as { id: number }).id, kind: 'class' });
  assert.ok(ann.ok);
  runId = core.runs.create(chest, core.ml.defaultConfig('classification', ['a', 'b'], 1), { items: [] });
  core.db.prepare("UPDATE runs SET status = 'done', pid = NULL WHERE id = ?").run(runId);
  bridge = await startBridge(core);
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await bridge?.close();
  cleanup?.();
});

function itemIds(datasetId: number): number[] {
  return core.db.prepare('SELECT id FROM items WHERE dataset_id = ? ORDER BY id').pluck().all(datasetId) as number[];
}

async function browseTo(page: Page, label: string): Promise<void> {
  await page.keyboard.press('Alt+4');
  await page.getByTestId('browse-grid').waitFor();
  await page.getByTestId('browse-dataset').selectOption({ label });
  await page.locator('.cell[data-index="0"][data-item-id]:not([data-item-id=""])').waitFor();
  await page.getByTestId('browse-grid').focus();
}

test('Browse: mark items with the keyboard, set their status and split, a patient moves whole', async () => {
  const { page, close } = await openApp(browser, bridge.url, { viewport: { width: 1280, height: 800 } });
  await browseTo(page, `Chest (${itemIds(chest).length})`);
  const ids = itemIds(chest);

  // Space marks the selected item, the arrows move, Space marks the next one.
  await page.keyboard.press('Space');
  await page.keyboard.press('ArrowRight');
  await page.keyboard.press('Space');
  assert.equal(await page.getByTestId('batch-count').textContent(), '2 marked');
  assert.equal(await page.locator('.cell.marked').count(), 2);

  await page.getByTestId('batch-status').selectOption('needs_review');
  await page.getByTestId('batch-apply-status').click();
  await page.getByTestId('batch-notice').filter({ hasText: 'Set 2 items to needs review.' }).waitFor();
  const statuses = core.db.prepare('SELECT status, status_by FROM items WHERE id IN (?, ?) ORDER BY id').all(ids[0], ids[1]) as { status: string; status_by: string }[];
  assert.deepEqual(statuses, [{ status: 'needs_review', status_by: 'E2E' }, { status: 'needs_review', status_by: 'E2E' }]);
  await page.locator('.cell[data-index="0"] .s-needs_review').waitFor();

  // A hand split of one DICOM image takes its patient's other images along, and says so.
  await page.getByTestId('browse-grid').focus();
  await page.keyboard.press('Escape');
  assert.equal(await page.getByTestId('batch-bar').count(), 0, 'Escape clears the marks');
  await page.keyboard.press('Home');
  await page.keyboard.press('Space');
  await page.getByTestId('batch-split').selectOption('test');
  await page.getByTestId('batch-apply-split').click();
  const notice = page.getByTestId('batch-notice');
  await notice.filter({ hasText: 'a patient is never in two splits' }).waitFor();
  await screenshot(page, 'data-management-batch-split');
  const patientOf = core.db
    .prepare('SELECT st.patient_id FROM items i JOIN series s ON s.id = i.series_id JOIN studies st ON st.id = s.study_id WHERE i.id = ?')
    .pluck()
    .get(ids[0]) as number;
  const samePatient = core.db
    .prepare('SELECT i.id FROM items i JOIN series s ON s.id = i.series_id JOIN studies st ON st.id = s.study_id WHERE st.patient_id = ?')
    .pluck()
    .all(patientOf) as number[];
  assert.ok(samePatient.length > 1);
  const splitOf = core.splits.splitMap(chest);
  for (const id of samePatient) assert.equal(splitOf.get(id), 'test');
  const origins = core.db.prepare("SELECT DISTINCT origin FROM splits WHERE dataset_id = ?").pluck().all(chest);
  assert.deepEqual(origins, ['user']);
  await close();
});

test('Browse: Ctrl+click and Shift+click mark, Delete asks, Enter deletes the marked items; `fovea check` passes', async () => {
  const { page, close } = await openApp(browser, bridge.url, { viewport: { width: 1280, height: 800 } });
  const before = itemIds(chest);
  await browseTo(page, `Chest (${before.length})`);
  const last = before.length - 1;
  await page.locator(`.cell[data-index="${last}"]`).scrollIntoViewIfNeeded();
  await page.locator(`.cell[data-index="${last}"]`).click({ modifiers: ['Control'] });
  await page.locator(`.cell[data-index="${last - 2}"]`).click({ modifiers: ['Shift'] });
  assert.equal(await page.getByTestId('batch-count').textContent(), '3 marked');
  const marked = before.slice(last - 2);

  await page.getByTestId('browse-grid').focus();
  await page.keyboard.press('Delete');
  await page.getByTestId('batch-confirm').waitFor();
  assert.match(await page.getByTestId('batch-confirm').textContent() ?? '', /Delete 3 items with their labels, proposals and splits\?/);
  await screenshot(page, 'data-management-delete-items');
  // The confirm button has the focus: Enter deletes.
  await page.keyboard.press('Enter');
  await page.getByTestId('batch-notice').filter({ hasText: 'Deleted 3 items' }).waitFor();
  await page.getByTestId('browse-total').filter({ hasText: `${before.length - 3} items` }).waitFor();
  const after = itemIds(chest);
  assert.deepEqual(after, before.filter((id) => !marked.includes(id)));
  const check = core.maintenance.check();
  assert.equal(check.ok, true, JSON.stringify(check));
  assert.deepEqual(check.orphanBlobFiles, []);
  await close();
});

test('Library home: rename in place, and delete with a confirmation that says what happens to runs', async () => {
  const { page, close } = await openApp(browser, bridge.url, { viewport: { width: 1280, height: 800 } });
  await page.getByTestId('dataset-list').waitFor();

  // Rename Road; a clash with another name is refused with the backend's message; Escape cancels.
  const roadRow = page.locator(`tr[data-dataset-id="${road}"]`);
  await roadRow.getByTestId('rename-dataset').click();
  await page.keyboard.press('Control+a');
  await page.keyboard.type('chest');
  await page.keyboard.press('Enter');
  await page.getByRole('alert').filter({ hasText: 'already exists' }).waitFor();
  await page.keyboard.press('Control+a');
  await page.keyboard.type('Road scenes 2026');
  await page.keyboard.press('Enter');
  await roadRow.locator('.name', { hasText: 'Road scenes 2026' }).waitFor();
  assert.equal(core.datasets.get(road).name, 'Road scenes 2026');

  // A run training on Road refuses its delete, and the dialog says why.
  const running = core.runs.create(road, core.ml.defaultConfig('classification', ['a', 'b'], 1), { items: [] });
  await roadRow.getByTestId('delete-dataset').click();
  await page.getByTestId('delete-blocked').filter({ hasText: `Run ${running} of this dataset is training` }).waitFor();
  assert.equal(await page.getByTestId('delete-confirm').isDisabled(), true);
  await page.keyboard.press('Escape');
  await page.getByTestId('delete-dialog').waitFor({ state: 'detached' });
  core.db.prepare("UPDATE runs SET status = 'cancelled', pid = NULL WHERE id = ?").run(running);

  // Chest: the confirmation counts items, labels and runs and says runs go with the dataset.
  const chestItems = core.datasets.get(chest).counts.items;
  const chestRow = page.locator(`tr[data-dataset-id="${chest}"]`);
  await chestRow.getByTestId('delete-dataset').click();
  const dialog = page.getByTestId('delete-dialog');
  await dialog.waitFor();
  const counts = await page.getByTestId('delete-counts').textContent();
  assert.match(counts ?? '', new RegExp(`Items\\s*${chestItems}\\b`));
  assert.match(counts ?? '', /Training runs\s*1\b/);
  const summary = (await page.getByTestId('delete-summary').textContent()) ?? '';
  assert.match(summary, /Training runs of this dataset are deleted with it \(their checkpoints, curves and evaluations\); models and reports you exported to a folder stay there\./);
  assert.match(summary, /1 label/);
  assert.equal(await page.evaluate(() => document.activeElement?.getAttribute('data-testid')), 'delete-cancel', 'Cancel has the focus');
  await screenshot(page, 'data-management-delete-dataset');
  await page.getByTestId('delete-confirm').click();
  await dialog.waitFor({ state: 'detached' });
  await page.getByTestId('library-notice').filter({ hasText: 'Deleted "Chest"' }).waitFor();
  await chestRow.waitFor({ state: 'detached' });
  assert.equal(core.datasets.findByName('Chest'), null);
  assert.equal(core.db.prepare('SELECT count(*) FROM runs WHERE id = ?').pluck().get(runId), 0);
  assert.equal(core.datasets.get(road).counts.items, 2);
  const check = core.maintenance.check();
  assert.equal(check.ok, true, JSON.stringify(check));
  assert.deepEqual(check.orphanBlobFiles, []);
  await screenshot(page, 'data-management-after-delete');
  await close();
});

test('Library home: a big dataset is deleted as a job: gone from the list at once, its progress in the Jobs panel, then a notice of what went', { timeout: 180_000 }, async () => {
  const big = seedBigDataset(core, 'Big scans', 20_000).datasetId;
  const { page, close } = await openApp(browser, bridge.url, { viewport: { width: 1280, height: 800 } });
  const row = page.locator(`tr[data-dataset-id="${big}"]`);
  await row.waitFor();
  // The Jobs panel is opened first: on a quick machine the whole delete takes about a second and a half, less
  // than opening the panel after the confirmation may take under load.
  await page.getByTestId('jobs-open').click();
  await page.getByTestId('jobs-panel').waitFor();
  await row.getByTestId('delete-dataset').click();
  await page.getByTestId('delete-dialog').waitFor();
  await page.getByTestId('delete-confirm').click();

  // At once: the row goes and the notice says the delete is under way, while the job still runs.
  await row.waitFor({ state: 'detached' });
  await page.getByTestId('library-notice').filter({ hasText: 'Deleting "Big scans" (20,000 items)…' }).waitFor();
  assert.equal(core.datasets.findByName('Big scans'), null);

  const running = page.getByTestId('jobs-panel-running').and(page.locator('[data-kind="dataset-delete"]'));
  await running.filter({ hasText: /Deleting: [\d,]+ of 20,000 items/ }).waitFor();
  assert.match((await running.textContent()) ?? '', /Dataset delete/);
  await screenshot(page, 'data-management-delete-job-running');

  const finished = page.getByTestId('jobs-panel-finished').and(page.locator('[data-kind="dataset-delete"]'));
  await finished.waitFor({ timeout: 120_000 });
  assert.match((await finished.getByTestId('jobs-panel-result').textContent()) ?? '', /"Big scans" deleted: 20,000 items, 40,000 labels/);
  await page.getByTestId('library-notice').filter({ hasText: 'Deleted "Big scans": 20,000 items, 40,000 labels.' }).waitFor();
  await screenshot(page, 'data-management-delete-job-done');
  assert.equal(core.db.prepare('SELECT count(*) FROM items WHERE dataset_id = ?').pluck().get(big), 0);
  assert.equal(core.db.prepare('SELECT count(*) FROM datasets WHERE id = ?').pluck().get(big), 0);
  await page.keyboard.press('Escape');
  await close();
});

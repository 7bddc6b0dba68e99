/**
 * Data management on real libraries built through the import engine (issue 19): rename, delete a
 * dataset (runs and their checkpoints go, blobs shared with another dataset stay), delete items,
 * batch status and hand splits (whole patients), every write audited and `fovea check` clean
 * afterwards; refused while a job works on the dataset and on a read-only library.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import sharp from 'sharp';
import type { Events } from '../../../../electron/contract/api';
import type { Core } from '../../../../electron/core/composition-root';
import { createCore } from '../../../../electron/core/composition-root';
import { DB_FILE } from '../../../../electron/core/store/library-db';
import { createMlEngine } from '../../../../native-models/engine';
import { SHARED_TESTDATA } from '../../../helpers/paths';
import { tempCore } from '../../../helpers/temp-library';

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

async function writePngs(dir: string, n: number): Promise<string[]> {
  mkdirSync(dir, { recursive: true });
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    const f = join(dir, `img${i}.png`);
    await sharp({ create: { width: 16, height: 16, channels: 3, background: { r: 10 * i, g: 100, b: 200 - 10 * i } } }).png().toFile(f);
    out.push(f);
  }
  return out;
}

async function call(core: Core, name: string, input: unknown): Promise<unknown> {
  const r = await core.dispatch(name, input);
  if (!r.ok) throw new Error(`${name}: ${r.error.code} ${r.error.message}`);
  return r.value;
}

async function refused(core: Core, name: string, input: unknown): Promise<{ code: string; message: string; details?: unknown }> {
  const r = await core.dispatch(name, input);
  assert.equal(r.ok, false, `${name} should be refused`);
  return (r as { ok: false; error: { code: string; message: string; details?: unknown } }).error;
}

/** 'datasets.delete' starts a job: the result its finished event carries. */
async function deleteDataset(core: Core, id: number): Promise<{ runs: number; checkpointDirsRemoved: number; blobFilesRemoved: number; blobs: number }> {
  const ended: Events['datasets.delete.finished'][] = [];
  const off = core.on('datasets.delete.finished', (e) => ended.push(e));
  try {
    const { jobId } = (await call(core, 'datasets.delete', { id })) as { jobId: string };
    while (!ended.some((e) => e.jobId === jobId)) await new Promise((resolve) => setTimeout(resolve, 10));
    const e = ended.find((x) => x.jobId === jobId);
    assert.equal(e?.error, null);
    assert.ok(e?.result);
    return e.result;
  } finally {
    off();
  }
}

function itemIdsOf(core: Core, datasetId: number): number[] {
  return core.db.prepare('SELECT id FROM items WHERE dataset_id = ? ORDER BY id').pluck().all(datasetId) as number[];
}

function auditActions(core: Core): string[] {
  return core.db.prepare('SELECT action FROM audit_log ORDER BY id').pluck().all() as string[];
}

async function library(t: { after(fn: () => void): void }): Promise<{ core: Core; dir: string; a: number; b: number }> {
  const { core, dir, cleanup } = tempCore();
  t.after(cleanup);
  const a = core.datasets.create('Chest', '').id;
  const b = core.datasets.create('Road', '').id;
  const dicoms = dicomdirInstances();
  await core.importFiles({ datasetId: a, paths: [...dicoms, ...(await writePngs(join(dir, 'a'), 3))] });
  // Two of the same DICOM files in B too: their blobs are shared and must outlive A.
  await core.importFiles({ datasetId: b, paths: [...dicoms.slice(0, 2), ...(await writePngs(join(dir, 'b'), 2))] });
  await call(core, 'settings.set', { annotatorName: 'Tester' });
  return { core, dir, a, b };
}

test('rename: unique names (case-insensitive), unsafe characters refused, audited', async (t) => {
  const { core, a } = await library(t);
  const ds = (await call(core, 'datasets.rename', { id: a, name: '  Chest CT 2026 ' })) as { name: string; counts: { items: number } };
  assert.equal(ds.name, 'Chest CT 2026');
  assert.ok(ds.counts.items > 0);
  assert.equal((await refused(core, 'datasets.rename', { id: a, name: 'road' })).code, 'CONFLICT');
  assert.equal((await refused(core, 'datasets.rename', { id: a, name: 'bad\u202ename' })).code, 'VALIDATION');
  assert.equal((await refused(core, 'datasets.rename', { id: 999, name: 'x' })).code, 'NOT_FOUND');
  // Renaming to the same name with another case is allowed (it is the same dataset).
  assert.equal(((await call(core, 'datasets.rename', { id: a, name: 'CHEST ct 2026' })) as { name: string }).name, 'CHEST ct 2026');
  assert.deepEqual(auditActions(core).filter((x) => x === 'dataset.rename'), ['dataset.rename', 'dataset.rename']);
  // The audit row carries the id, never the name.
  const details = core.db.prepare("SELECT coalesce(details, '') || object_id FROM audit_log WHERE action = 'dataset.rename'").pluck().all() as string[];
  assert.ok(details.every((d) => !/chest/i.test(d)));
  assert.equal(core.audit.verify(), null);
});

test('batch status: one transaction and one audit row; needs an annotator; rejecting needs a comment', async (t) => {
  const { core, a, b } = await library(t);
  const ids = itemIdsOf(core, a).slice(0, 4);
  const other = itemIdsOf(core, b)[0] as number;
  const r = (await call(core, 'items.setStatusMany', { datasetId: a, itemIds: [...ids, other], status: 'needs_review' })) as { updated: number; notFound: number };
  assert.deepEqual(r, { datasetId: a, status: 'needs_review', updated: 4, notFound: 1 });
  const statuses = core.db.prepare('SELECT status, status_by FROM items WHERE id IN (?, ?, ?, ?, ?) ORDER BY id').all(...ids, other) as { status: string; status_by: string | null }[];
  assert.deepEqual(statuses.slice(0, 4).map((s) => [s.status, s.status_by]), ids.map(() => ['needs_review', 'Tester']));
  assert.equal(statuses[4]?.status, 'unlabeled', 'an item of another dataset is left alone');
  assert.equal((await refused(core, 'items.setStatusMany', { datasetId: a, itemIds: ids, status: 'rejected' })).code, 'VALIDATION');
  await call(core, 'items.setStatusMany', { datasetId: a, itemIds: ids, status: 'rejected', comment: 'redo the edges' });
  assert.equal(auditActions(core).filter((x) => x === 'items.status').length, 2);
  assert.equal((await refused(core, 'items.setStatusMany', { datasetId: a, itemIds: [], status: 'done' })).code, 'VALIDATION');
});

test('hand splits: training keeps them, a redraw never moves them, and a patient is never in two splits (said plainly)', async (t) => {
  const { core, a } = await library(t);
  // One DICOM image of a patient with several images: the patient's other images move too.
  const row = core.db
    .prepare(
      `SELECT i.id, p.id AS patient FROM items i JOIN series s ON s.id = i.series_id JOIN studies st ON st.id = s.study_id JOIN patients p ON p.id = st.patient_id
       WHERE i.dataset_id = ? ORDER BY i.id LIMIT 1`,
    )
    .get(a) as { id: number; patient: number };
  const ofPatient = core.db
    .prepare('SELECT i.id FROM items i JOIN series s ON s.id = i.series_id JOIN studies st ON st.id = s.study_id WHERE st.patient_id = ? ORDER BY i.id')
    .pluck()
    .all(row.patient) as number[];
  assert.ok(ofPatient.length > 1);
  const r = (await call(core, 'items.setSplit', { datasetId: a, itemIds: [row.id], split: 'test' })) as { written: number; addedFromPatients: number; warnings: string[] };
  assert.equal(r.written, ofPatient.length);
  assert.equal(r.addedFromPatients, ofPatient.length - 1);
  assert.match(r.warnings.join(' '), /a patient is never in two splits/);
  const splitOf = (): Map<number, string> => core.splits.splitMap(a);
  for (const id of ofPatient) assert.equal(splitOf().get(id), 'test');
  // What training uses: the plan draws the rest and keeps the hand split; a redraw does too.
  await call(core, 'splits.redraw', { datasetId: a, seed: 7 });
  await call(core, 'splits.redraw', { datasetId: a, seed: 8 });
  for (const id of ofPatient) assert.equal(splitOf().get(id), 'test');
  const origins = core.db.prepare("SELECT count(*) FROM splits WHERE dataset_id = ? AND origin = 'user'").pluck().get(a);
  assert.equal(origins, ofPatient.length);
  assert.ok(auditActions(core).includes('splits.set'));
});

test('delete items: labels and splits go, empty series go, shared blobs stay, `fovea check` passes', async (t) => {
  const { core, a, b } = await library(t);
  const cls = (await call(core, 'classes.create', { datasetId: a, name: 'lesion' })) as { id: number };
  const ids = itemIdsOf(core, a);
  const [first, second] = ids as [number, number];
  await call(core, 'annotations.create', { itemId: first, classId: cls.id, kind: 'box', geometry: { x: 1, y: 1, width: 4, height: 4 } });
  await call(core, 'items.setSplit', { datasetId: a, itemIds: [second], split: 'val' });
  const blobsBefore = core.db.prepare('SELECT count(*) FROM blobs').pluck().get() as number;
  const bBlobs = core.db.prepare('SELECT blob_sha256 FROM items WHERE dataset_id = ?').pluck().all(b) as string[];
  const pngs = core.db.prepare("SELECT id FROM items WHERE dataset_id = ? AND kind = 'image' ORDER BY id").pluck().all(a) as number[];
  // img2.png exists only in A (img0 and img1 are byte-identical in B, so their blobs are shared).
  const own = pngs[2] as number;
  const pngBlob = core.db.prepare('SELECT blob_sha256 FROM items WHERE id = ?').pluck().get(own) as string;

  const r = (await call(core, 'items.delete', { datasetId: a, itemIds: [first, own, pngs[0] as number, 99999] })) as { deleted: number; notFound: number; labels: number; blobsRemoved: number; warnings: string[] };
  assert.equal(r.deleted, 3);
  assert.equal(r.notFound, 1);
  assert.equal(r.labels, 1);
  assert.match(r.warnings.join(' '), /not in this dataset/);
  assert.equal(core.db.prepare('SELECT count(*) FROM annotations WHERE item_id = ?').pluck().get(first), 0);
  assert.equal(existsSync(core.blobs.pathOf(pngBlob)), false, "the deleted image's own file is gone");
  for (const h of bBlobs) assert.ok(existsSync(core.blobs.pathOf(h)), 'a blob another dataset uses stays (img0 too)');
  assert.ok((core.db.prepare('SELECT count(*) FROM blobs').pluck().get() as number) < blobsBefore);

  // Delete every DICOM image of A: its series, studies and patients go too.
  const dicomIds = core.db.prepare("SELECT id FROM items WHERE dataset_id = ? AND kind = 'dicom'").pluck().all(a) as number[];
  const r2 = (await call(core, 'items.delete', { datasetId: a, itemIds: dicomIds })) as { emptySeriesRemoved: number };
  assert.ok(r2.emptySeriesRemoved > 0);
  assert.equal(core.datasets.get(a).counts.series, 0);
  assert.equal(core.datasets.get(a).counts.patients, 0);
  assert.equal(core.db.prepare('SELECT count(*) FROM splits WHERE dataset_id = ?').pluck().get(a), 0);
  const check = core.maintenance.check();
  assert.equal(check.ok, true, JSON.stringify(check));
  assert.deepEqual(check.orphanBlobFiles, []);
  assert.ok(auditActions(core).includes('items.delete'));
});

test('delete a dataset: the preview says what goes (runs too); runs, checkpoints and unshared blobs go; `fovea check` passes', async (t) => {
  const { core, a, b } = await library(t);
  const cls = (await call(core, 'classes.create', { datasetId: a, name: 'lesion' })) as { id: number };
  const first = itemIdsOf(core, a)[0] as number;
  await call(core, 'annotations.create', { itemId: first, classId: cls.id, kind: 'class' });
  const config = core.ml.defaultConfig('classification', ['a', 'b'], 1);
  const runId = core.runs.create(a, config, { items: [] });
  core.db.prepare("UPDATE runs SET status = 'done', pid = NULL WHERE id = ?").run(runId);
  const ckpt = core.training.checkpointDir(runId);
  mkdirSync(join(ckpt, 'epoch-1'), { recursive: true });
  writeFileSync(join(ckpt, 'epoch-1', 'weights.bin'), 'x');
  const bItems = core.datasets.get(b).counts.items;
  const bBlobs = core.db.prepare('SELECT blob_sha256 FROM items WHERE dataset_id = ?').pluck().all(b) as string[];

  const p = (await call(core, 'datasets.deletePreview', { id: a })) as { items: number; labels: number; runs: number; runIds: number[]; blockedBy: string | null; summary: string[]; blobs: number };
  assert.equal(p.items, core.datasets.get(a).counts.items);
  assert.equal(p.labels, 1);
  assert.equal(p.runs, 1);
  assert.deepEqual(p.runIds, [runId]);
  assert.equal(p.blockedBy, null);
  assert.match(p.summary.join(' '), /Training runs of this dataset are deleted with it/);
  assert.ok(p.blobs > 0 && p.blobs < (core.db.prepare('SELECT count(*) FROM blobs').pluck().get() as number));

  const r = await deleteDataset(core, a);
  assert.equal(r.runs, 1);
  assert.equal(r.checkpointDirsRemoved, 1);
  assert.equal(r.blobFilesRemoved, r.blobs);
  assert.equal(existsSync(ckpt), false);
  assert.equal((await refused(core, 'datasets.get', { id: a })).code, 'NOT_FOUND');
  assert.equal((await refused(core, 'runs.get', { runId })).code, 'NOT_FOUND');
  for (const table of ['items', 'annotations', 'label_classes', 'splits', 'series', 'patients', 'runs']) {
    assert.equal(core.db.prepare(`SELECT count(*) FROM ${table} WHERE dataset_id = ?`).pluck().get(a), 0, table);
  }
  assert.equal(core.datasets.get(b).counts.items, bItems);
  for (const h of bBlobs) assert.ok(existsSync(core.blobs.pathOf(h)));
  const check = core.maintenance.check();
  assert.equal(check.ok, true, JSON.stringify(check));
  assert.deepEqual(check.orphanBlobFiles, []);
  assert.equal(core.audit.verify(), null);
  const row = core.db.prepare("SELECT object_id, details FROM audit_log WHERE action = 'dataset.delete'").get() as { object_id: string; details: string };
  assert.equal(row.object_id, String(a));
  assert.deepEqual((JSON.parse(row.details) as { runs: number[] }).runs, [runId]);
});

test('refused while a job or a run works on the dataset (CONFLICT), nothing removed', async (t) => {
  const { core, dir, a } = await library(t);
  const items = core.datasets.get(a).counts.items;
  // An import job into A is in flight: deleting A, or items of it, is refused until it ends.
  const finished = new Promise<void>((resolve) => core.on('import.finished', () => resolve()));
  core.startImport('Chest', await writePngs(join(dir, 'more'), 20));
  const e = await refused(core, 'datasets.delete', { id: a });
  assert.equal(e.code, 'CONFLICT');
  assert.match(e.message, /A job is working on this dataset \(import\)/);
  assert.deepEqual(e.details, { reason: 'JOB_RUNNING' });
  assert.equal((await refused(core, 'items.delete', { datasetId: a, itemIds: itemIdsOf(core, a).slice(0, 1) })).code, 'CONFLICT');
  const preview = (await call(core, 'datasets.deletePreview', { id: a })) as { blockedBy: string | null };
  assert.match(preview.blockedBy ?? '', /import/);
  await finished;
  assert.ok(core.datasets.get(a).counts.items >= items);
  // A run training in this process (fresh heartbeat) blocks deletes and hand splits too.
  const runId = core.runs.create(a, core.ml.defaultConfig('classification', ['a', 'b'], 1), { items: [] });
  assert.match((await refused(core, 'datasets.delete', { id: a })).message, new RegExp(`Run ${runId} of this dataset is training`));
  assert.equal((await refused(core, 'items.setSplit', { datasetId: a, itemIds: itemIdsOf(core, a).slice(0, 1), split: 'val' })).code, 'CONFLICT');
  core.db.prepare("UPDATE runs SET status = 'cancelled' WHERE id = ?").run(runId);
  await deleteDataset(core, a);
  assert.equal(core.maintenance.check().ok, true);
});

test('a read-only library refuses every data-management write (LIBRARY_READ_ONLY); the preview still answers', async (t) => {
  const { core, dir, cleanup } = tempCore();
  t.after(cleanup);
  const id = core.datasets.create('Existing', '').id;
  const lib = join(dir, 'library');
  core.close();
  const db = new Database(join(lib, DB_FILE));
  db.pragma('user_version = 9999');
  db.close();
  const ro = createCore({ libraryDir: lib, ml: createMlEngine() });
  t.after(() => ro.close());
  for (const [name, input] of [
    ['datasets.rename', { id, name: 'Other' }],
    ['datasets.delete', { id }],
    ['items.delete', { datasetId: id, itemIds: [1] }],
    ['items.setStatusMany', { datasetId: id, itemIds: [1], status: 'done' }],
    ['items.setSplit', { datasetId: id, itemIds: [1], split: 'train' }],
  ] as const) {
    assert.equal((await refused(ro, name, input)).code, 'LIBRARY_READ_ONLY', name);
  }
  assert.equal(((await call(ro, 'datasets.deletePreview', { id })) as { items: number }).items, 0);
});

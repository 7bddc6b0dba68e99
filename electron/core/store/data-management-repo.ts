/**
 * The SQL of data management (core/datamgmt): renaming and deleting datasets, deleting items,
 * batch status. Callers wrap these in one transaction. Blobs are shared between datasets (the
 * same file imported twice is stored once), so a blob row goes only when no item references it
 * any more: the reference count is the items table itself (blob_sha256 and thumb_sha256), the
 * same rule `fovea check` applies (maintenance.ts, unreferencedBlobRows).
 */
import { FoveaException } from '../../contract/result';
import type { DatasetContents, DatasetFootprint } from '../../contract/data-management';
import type { Db } from './library-db';

/** SQLite's default limit on bound variables is 32766; stay far below it. */
const CHUNK = 500;

function chunks<T>(list: readonly T[]): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < list.length; i += CHUNK) out.push(list.slice(i, i + CHUNK));
  return out;
}

function marks(n: number): string {
  return Array.from({ length: n }, () => '?').join(',');
}

/** Rename a dataset; CONFLICT when another dataset has the name (case-insensitively), NOT_FOUND when the id is unknown. */
export function renameDataset(db: Db, id: number, name: string): { from: string } {
  const row = db.prepare('SELECT name FROM datasets WHERE id = ?').get(id) as { name: string } | undefined;
  if (!row) throw new FoveaException('NOT_FOUND', `There is no dataset with id ${id}.`);
  const clash = db.prepare('SELECT id FROM datasets WHERE name = ? COLLATE NOCASE AND id <> ?').get(name, id);
  if (clash) throw new FoveaException('CONFLICT', `A dataset named "${name}" already exists. Pick another name.`);
  db.prepare('UPDATE datasets SET name = ?, updated_at = ? WHERE id = ?').run(name, new Date().toISOString(), id);
  return { from: row.name };
}

/** What the dataset holds, without the blobs (fast at any size: index counts). NOT_FOUND for an unknown id. */
export function datasetContents(db: Db, id: number): DatasetContents {
  const ds = db.prepare('SELECT name FROM datasets WHERE id = ?').get(id) as { name: string } | undefined;
  if (!ds) throw new FoveaException('NOT_FOUND', `There is no dataset with id ${id}.`);
  const c = db
    .prepare(
      `SELECT
        (SELECT count(*) FROM items WHERE dataset_id = @id) AS items,
        (SELECT count(*) FROM series WHERE dataset_id = @id) AS series,
        (SELECT count(*) FROM patients WHERE dataset_id = @id) AS patients,
        (SELECT count(*) FROM annotations WHERE dataset_id = @id AND status = 'active') AS labels,
        (SELECT count(*) FROM annotations WHERE dataset_id = @id AND status = 'proposed') AS proposals,
        (SELECT count(*) FROM splits WHERE dataset_id = @id) AS splits`,
    )
    .get({ id }) as { items: number; series: number; patients: number; labels: number; proposals: number; splits: number };
  const runIds = db.prepare('SELECT id FROM runs WHERE dataset_id = ? ORDER BY id').pluck().all(id) as number[];
  return { datasetId: id, name: ds.name, ...c, runs: runIds.length, runIds };
}

/** What the dataset holds, and what deleting it would remove (the blobs only it uses: a look-up per item). NOT_FOUND for an unknown id. */
export function datasetFootprint(db: Db, id: number): DatasetFootprint {
  const contents = datasetContents(db, id);
  // Two NOT EXISTS, each by its own index (items_blob, items_thumb): an OR of both walks slower.
  const own = db
    .prepare(
      `SELECT count(*) AS n, coalesce(sum(b.size), 0) AS bytes FROM blobs b
       WHERE b.sha256 IN (SELECT blob_sha256 FROM items WHERE dataset_id = @id UNION SELECT thumb_sha256 FROM items WHERE dataset_id = @id AND thumb_sha256 IS NOT NULL)
         AND NOT EXISTS (SELECT 1 FROM items o WHERE o.blob_sha256 = b.sha256 AND o.dataset_id <> @id)
         AND NOT EXISTS (SELECT 1 FROM items o WHERE o.thumb_sha256 = b.sha256 AND o.dataset_id <> @id)`,
    )
    .get({ id }) as { n: number; bytes: number };
  return { ...contents, blobs: own.n, blobBytes: own.bytes };
}

/** The blobs an item set references (candidates for removal once the items are gone). */
function blobsOfItems(db: Db, datasetId: number, itemIds: readonly number[] | null): Set<string> {
  const out = new Set<string>();
  const collect = (rows: { b: string; t: string | null }[]): void => {
    for (const r of rows) {
      out.add(r.b);
      if (r.t) out.add(r.t);
    }
  };
  if (itemIds === null) {
    collect(db.prepare('SELECT blob_sha256 AS b, thumb_sha256 AS t FROM items WHERE dataset_id = ?').all(datasetId) as { b: string; t: string | null }[]);
  } else {
    for (const part of chunks(itemIds)) {
      collect(db.prepare(`SELECT blob_sha256 AS b, thumb_sha256 AS t FROM items WHERE dataset_id = ? AND id IN (${marks(part.length)})`).all(datasetId, ...part) as { b: string; t: string | null }[]);
    }
  }
  return out;
}

/** Delete the blob rows among `candidates` that no item references any more; returns their hashes (whose files can go). */
function dropUnreferencedBlobs(db: Db, candidates: Iterable<string>): string[] {
  const stillUsed = db.prepare('SELECT 1 FROM items WHERE blob_sha256 = ? OR thumb_sha256 = ? LIMIT 1');
  const del = db.prepare('DELETE FROM blobs WHERE sha256 = ?');
  const removed: string[] = [];
  for (const h of candidates) {
    if (stillUsed.get(h, h)) continue;
    if (del.run(h).changes > 0) removed.push(h);
  }
  return removed;
}

/**
 * The name a dataset takes while it is being deleted: it frees its own name at once (a new
 * dataset may take it), and no person can type it (names refuse control characters).
 */
function deletingName(id: number): string {
  return `\u0001deleting dataset ${id}`;
}

/**
 * Mark a dataset as being deleted (the first write of a delete, with its audit row): lists leave
 * it out from now on, its name is free, and `footprint` (what it held) is kept for a delete that
 * resumes after a crash. NOT_FOUND when it is unknown or already being deleted.
 */
export function markDatasetDeleting(db: Db, id: number, footprint: DatasetContents): void {
  const info = db.prepare('UPDATE datasets SET deleting = ?, name = ?, updated_at = ? WHERE id = ? AND deleting IS NULL').run(JSON.stringify(footprint), deletingName(id), new Date().toISOString(), id);
  if (info.changes !== 1) throw new FoveaException('NOT_FOUND', `There is no dataset with id ${id}.`);
}

/** Datasets whose delete began and has not finished (a crash, or the library closed mid-way), with what they held then. */
export function datasetsBeingDeleted(db: Db): { id: number; footprint: DatasetContents }[] {
  const rows = db.prepare('SELECT id, deleting FROM datasets WHERE deleting IS NOT NULL ORDER BY id').all() as { id: number; deleting: string }[];
  return rows.map((r) => ({ id: r.id, footprint: JSON.parse(r.deleting) as DatasetContents }));
}

/** Items a dataset still holds. */
export function countItems(db: Db, datasetId: number): number {
  return db.prepare('SELECT count(*) FROM items WHERE dataset_id = ?').pluck().get(datasetId) as number;
}

/** One bounded step of a dataset delete. */
export interface DatasetDeleteStep {
  /** What the step deleted: a run's rows, items (with what hangs from them), the rest, or the dataset row (the delete is over). */
  phase: 'runs' | 'items' | 'rest' | 'done';
  /** Items deleted by this step. */
  items: number;
  /** Blobs whose rows went (no item references them any more), and their bytes: their files can go after the commit. */
  removedBlobs: string[];
  removedBytes: number;
}

/**
 * The bounded deletes of the tables that hang from a dataset, in the order they go: what a run
 * holds per item or per batch first (a run's row would take them all in one statement), then the
 * runs, then (after the items) what is left per dataset. Each deletes at most @n rows.
 */
const RUN_STEPS = [
  'DELETE FROM item_uncertainty WHERE (run_id, item_id) IN (SELECT run_id, item_id FROM item_uncertainty WHERE dataset_id = @id LIMIT @n)',
  'DELETE FROM run_batches WHERE (run_id, epoch, batch) IN (SELECT b.run_id, b.epoch, b.batch FROM run_batches b JOIN runs r ON r.id = b.run_id WHERE r.dataset_id = @id LIMIT @n)',
  'DELETE FROM run_epochs WHERE (run_id, epoch) IN (SELECT e.run_id, e.epoch FROM run_epochs e JOIN runs r ON r.id = e.run_id WHERE r.dataset_id = @id LIMIT @n)',
  // An evaluation holds its per-image results: a few at a time.
  'DELETE FROM evaluations WHERE id IN (SELECT id FROM evaluations WHERE dataset_id = @id LIMIT 5)',
  'DELETE FROM runs WHERE id IN (SELECT id FROM runs WHERE dataset_id = @id LIMIT @n)',
];
const REST_STEPS = [
  // Series-level labels (item-level ones went with their items), then classes (annotations.class_id has no cascade).
  'DELETE FROM annotations WHERE id IN (SELECT id FROM annotations WHERE dataset_id = @id LIMIT @n)',
  'DELETE FROM measurements WHERE id IN (SELECT id FROM measurements WHERE dataset_id = @id LIMIT @n)',
  'DELETE FROM splits WHERE (dataset_id, item_id) IN (SELECT dataset_id, item_id FROM splits WHERE dataset_id = @id LIMIT @n)',
  'DELETE FROM import_files WHERE rowid IN (SELECT f.rowid FROM import_files f JOIN import_jobs j ON j.id = f.job_id WHERE j.dataset_id = @id LIMIT @n)',
  'DELETE FROM import_jobs WHERE id IN (SELECT id FROM import_jobs WHERE dataset_id = @id LIMIT @n)',
  'DELETE FROM series WHERE id IN (SELECT id FROM series WHERE dataset_id = @id LIMIT @n)',
  'DELETE FROM studies WHERE id IN (SELECT s.id FROM studies s JOIN patients p ON p.id = s.patient_id WHERE p.dataset_id = @id LIMIT @n)',
  'DELETE FROM patients WHERE id IN (SELECT id FROM patients WHERE dataset_id = @id LIMIT @n)',
  'DELETE FROM label_classes WHERE id IN (SELECT id FROM label_classes WHERE dataset_id = @id LIMIT @n)',
];

/**
 * Delete a bounded part of a dataset that is being deleted (the caller wraps each step in its own
 * transaction and lets other work run between steps): first its runs' rows, at most `limits.rows`;
 * then its items, `limits.items` at a time, with what hangs from each (labels, splits, import
 * records, frames, measurements, uncertainty) and the blob rows no item references any more; then
 * the rest, `limits.rows` at a time; and last the dataset row. Every step leaves the library
 * consistent, so a delete cut short goes on from where it was.
 */
export function deleteDatasetStep(db: Db, id: number, limits: { rows: number; items: number }): DatasetDeleteStep {
  const n = Math.max(1, Math.floor(limits.rows));
  const none = { items: 0, removedBlobs: [], removedBytes: 0 };
  for (const sql of RUN_STEPS) {
    if (db.prepare(sql).run({ id, n }).changes > 0) return { phase: 'runs', ...none };
  }
  const ids = db.prepare('SELECT id FROM items WHERE dataset_id = ? ORDER BY id LIMIT ?').pluck().all(id, Math.max(1, Math.floor(limits.items))) as number[];
  if (ids.length > 0) {
    const candidates = blobsOfItems(db, id, ids);
    for (const part of chunks(ids)) {
      const list = marks(part.length);
      // By the item indexes, a chunk at a time: the items' own cascades then find nothing to walk.
      db.prepare(`DELETE FROM annotations WHERE item_id IN (${list})`).run(...part);
      db.prepare(`DELETE FROM splits WHERE item_id IN (${list})`).run(...part);
      db.prepare(`DELETE FROM import_files WHERE item_id IN (${list})`).run(...part);
      db.prepare(`DELETE FROM items WHERE dataset_id = ? AND id IN (${list})`).run(id, ...part);
    }
    const stillUsed = db.prepare('SELECT 1 FROM items WHERE blob_sha256 = ? UNION ALL SELECT 1 FROM items WHERE thumb_sha256 = ? LIMIT 1');
    const drop = db.prepare('DELETE FROM blobs WHERE sha256 = ? RETURNING size');
    const removedBlobs: string[] = [];
    let removedBytes = 0;
    for (const h of candidates) {
      if (stillUsed.get(h, h)) continue;
      const gone = drop.get(h) as { size: number } | undefined;
      if (!gone) continue;
      removedBlobs.push(h);
      removedBytes += gone.size;
    }
    return { phase: 'items', items: ids.length, removedBlobs, removedBytes };
  }
  for (const sql of REST_STEPS) {
    if (db.prepare(sql).run({ id, n }).changes > 0) return { phase: 'rest', ...none };
  }
  db.prepare('DELETE FROM datasets WHERE id = ?').run(id);
  return { phase: 'done', ...none };
}

/** Of these ids, those that are items of the dataset. */
export function itemsInDataset(db: Db, datasetId: number, itemIds: readonly number[]): number[] {
  const out: number[] = [];
  for (const part of chunks([...new Set(itemIds)])) {
    out.push(...(db.prepare(`SELECT id FROM items WHERE dataset_id = ? AND id IN (${marks(part.length)}) ORDER BY id`).pluck().all(datasetId, ...part) as number[]));
  }
  return out;
}

export interface DeletedItems {
  deleted: number;
  labels: number;
  proposals: number;
  emptySeriesRemoved: number;
  removedBlobs: string[];
}

/**
 * Delete items of a dataset (ids already checked with itemsInDataset): their frames, labels,
 * proposals, splits and uncertainty go by cascade; series, studies and patients left without any
 * image go too (with their series-level labels); then the blobs no item references.
 */
export function deleteItems(db: Db, datasetId: number, itemIds: readonly number[]): DeletedItems {
  const candidates = blobsOfItems(db, datasetId, itemIds);
  let labels = 0;
  let proposals = 0;
  let deleted = 0;
  for (const part of chunks(itemIds)) {
    const c = db
      .prepare(
        `SELECT coalesce(sum(status = 'active'), 0) AS labels, coalesce(sum(status = 'proposed'), 0) AS proposals
         FROM annotations WHERE dataset_id = ? AND item_id IN (${marks(part.length)})`,
      )
      .get(datasetId, ...part) as { labels: number; proposals: number };
    labels += c.labels;
    proposals += c.proposals;
    deleted += db.prepare(`DELETE FROM items WHERE dataset_id = ? AND id IN (${marks(part.length)})`).run(datasetId, ...part).changes;
  }
  const emptySeries = db.prepare('SELECT id FROM series s WHERE dataset_id = ? AND NOT EXISTS (SELECT 1 FROM items i WHERE i.series_id = s.id)').pluck().all(datasetId) as number[];
  for (const part of chunks(emptySeries)) {
    const c = db
      .prepare(
        `SELECT coalesce(sum(status = 'active'), 0) AS labels, coalesce(sum(status = 'proposed'), 0) AS proposals
         FROM annotations WHERE series_id IN (${marks(part.length)})`,
      )
      .get(...part) as { labels: number; proposals: number };
    labels += c.labels;
    proposals += c.proposals;
    db.prepare(`DELETE FROM series WHERE id IN (${marks(part.length)})`).run(...part);
  }
  db.prepare('DELETE FROM studies WHERE patient_id IN (SELECT id FROM patients WHERE dataset_id = ?) AND NOT EXISTS (SELECT 1 FROM series s WHERE s.study_id = studies.id)').run(datasetId);
  db.prepare('DELETE FROM patients WHERE dataset_id = ? AND NOT EXISTS (SELECT 1 FROM studies s WHERE s.patient_id = patients.id)').run(datasetId);
  db.prepare('UPDATE datasets SET updated_at = ? WHERE id = ?').run(new Date().toISOString(), datasetId);
  return { deleted, labels, proposals, emptySeriesRemoved: emptySeries.length, removedBlobs: dropUnreferencedBlobs(db, candidates) };
}

/** The status of many items at once; returns how many rows changed and the counts of the statuses they had. */
export function setItemsStatus(
  db: Db,
  datasetId: number,
  itemIds: readonly number[],
  status: string,
  by: string,
  comment: string | null,
): { updated: number; from: Record<string, number> } {
  const at = new Date().toISOString();
  const from: Record<string, number> = {};
  let updated = 0;
  for (const part of chunks(itemIds)) {
    const before = db.prepare(`SELECT status, count(*) AS n FROM items WHERE dataset_id = ? AND id IN (${marks(part.length)}) GROUP BY status`).all(datasetId, ...part) as { status: string; n: number }[];
    for (const b of before) from[b.status] = (from[b.status] ?? 0) + b.n;
    updated += db
      .prepare(`UPDATE items SET status = ?, status_comment = ?, status_by = ?, status_at = ? WHERE dataset_id = ? AND id IN (${marks(part.length)})`)
      .run(status, comment, by, at, datasetId, ...part).changes;
  }
  return { updated, from };
}

/** Runs of a dataset that are 'running' (in this process or another). */
export function runningRunIds(db: Db, datasetId: number): number[] {
  return db.prepare("SELECT id FROM runs WHERE dataset_id = ? AND status = 'running' ORDER BY id").pluck().all(datasetId) as number[];
}

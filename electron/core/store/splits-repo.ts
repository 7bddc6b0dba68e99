/**
 * Train/val/test split rows (table `splits`) and the reads the split service
 * draws from: items with their patient, labels per item.
 */
import type { SplitName } from '../../contract/ml';
import type { Db } from './library-db';

export interface SplitRow {
  item_id: number;
  split: SplitName;
  origin: 'auto' | 'user';
}

export interface ItemPatientRow {
  id: number;
  kind: 'dicom' | 'image';
  source_sha256: string;
  patient_key: string | null;
}

/**
 * (item_id, class_id) of every active label of a dataset's items, their
 * own and their series' (one row per label). Two indexed joins rather than
 * one join on "item OR series", which SQLite can only answer by scanning.
 */
const ITEM_LABELS_SQL = `
  SELECT a.item_id AS item_id, a.class_id AS class_id FROM annotations a
  WHERE a.dataset_id = @datasetId AND a.status = 'active' AND a.item_id IS NOT NULL
  UNION ALL
  SELECT i.id AS item_id, a.class_id AS class_id FROM annotations a JOIN items i ON i.series_id = a.series_id
  WHERE a.dataset_id = @datasetId AND a.status = 'active' AND a.series_id IS NOT NULL`;

/** Per item, its classes by number of labels, most first (ties: class order). */
export function itemClassesByCount(db: Db, datasetId: number): { item_id: number; name: string; n: number }[] {
  return db
    .prepare(
      `SELECT l.item_id AS item_id, c.name AS name, count(*) AS n
       FROM (${ITEM_LABELS_SQL}) l
       JOIN label_classes c ON c.id = l.class_id
       GROUP BY l.item_id, c.id
       ORDER BY l.item_id, n DESC, c.position, c.id`,
    )
    .all({ datasetId }) as { item_id: number; name: string; n: number }[];
}

/** (item, class name) once for each class an item has a label of. */
export function itemClassNames(db: Db, datasetId: number): { item_id: number; name: string }[] {
  return db
    .prepare(`SELECT DISTINCT l.item_id AS item_id, c.name AS name FROM (${ITEM_LABELS_SQL}) l JOIN label_classes c ON c.id = l.class_id`)
    .all({ datasetId }) as { item_id: number; name: string }[];
}

/** A dataset's items with the Patient ID they hang from (null for plain images), in id order. */
export function listItemPatients(db: Db, datasetId: number): ItemPatientRow[] {
  return db
    .prepare(
      `SELECT i.id, i.kind, i.source_sha256, p.patient_key
       FROM items i
       LEFT JOIN series s ON s.id = i.series_id
       LEFT JOIN studies st ON st.id = s.study_id
       LEFT JOIN patients p ON p.id = st.patient_id
       WHERE i.dataset_id = ?
       ORDER BY i.id`,
    )
    .all(datasetId) as ItemPatientRow[];
}

export function listSplitRows(db: Db, datasetId: number): SplitRow[] {
  return db.prepare('SELECT item_id, split, origin FROM splits WHERE dataset_id = ?').all(datasetId) as SplitRow[];
}

/** Inserts drawn ('auto') rows; prepared once for a whole draw. */
export function autoSplitInserter(db: Db): (datasetId: number, itemId: number, split: SplitName, seed: number, at: string) => void {
  const stmt = db.prepare("INSERT INTO splits (dataset_id, item_id, split, origin, seed, assigned_at) VALUES (?, ?, ?, 'auto', ?, ?)");
  return (datasetId, itemId, split, seed, at) => {
    stmt.run(datasetId, itemId, split, seed, at);
  };
}

/**
 * Writes a person's ('user') split, replacing any row of the item; a user row
 * has no seed (it is never redrawn). Prepared once for many items: the split
 * service and label import (a label file's split column) both use it.
 */
export function userSplitWriter(db: Db): (datasetId: number, itemId: number, split: SplitName, at: string) => void {
  const stmt = db.prepare(
    `INSERT INTO splits (dataset_id, item_id, split, origin, seed, assigned_at) VALUES (?, ?, ?, 'user', NULL, ?)
     ON CONFLICT (dataset_id, item_id) DO UPDATE SET split = excluded.split, origin = 'user', seed = NULL, assigned_at = excluded.assigned_at`,
  );
  return (datasetId, itemId, split, at) => {
    stmt.run(datasetId, itemId, split, at);
  };
}

/** Removes the drawn rows of a dataset (a redraw); returns how many. */
export function deleteAutoSplits(db: Db, datasetId: number): number {
  return db.prepare("DELETE FROM splits WHERE dataset_id = ? AND origin = 'auto'").run(datasetId).changes;
}

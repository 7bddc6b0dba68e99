/**
 * Reads of a dataset's items (images and DICOM instances) for the services
 * that walk a whole dataset: prediction, evaluation, label import.
 */
import type { Db } from './library-db';

/** What a sample loader needs to decode an item, and its review status. */
export interface ItemSourceRow {
  id: number;
  kind: 'dicom' | 'image';
  blob_sha256: string;
  rows: number;
  columns: number;
  frames: number;
  samples_per_pixel: number;
  photometric: string | null;
  status: string;
}

/** A dataset's items as sample sources, in id order. */
export function listItemSources(db: Db, datasetId: number): ItemSourceRow[] {
  return db
    .prepare('SELECT id, kind, blob_sha256, rows, columns, frames, samples_per_pixel, photometric, status FROM items WHERE dataset_id = ? ORDER BY id')
    .all(datasetId) as ItemSourceRow[];
}

/** What matching a label or a prediction file to an item looks at. */
export interface ItemRefRow {
  id: number;
  sourceName: string;
  rows: number;
  columns: number;
  frames: number;
  status: string;
  seriesId: number | null;
  sopInstanceUid: string | null;
}

/** A dataset's items for matching by name, size, SOP Instance UID or series, in id order. */
export function listItemRefs(db: Db, datasetId: number): ItemRefRow[] {
  return db
    .prepare(
      `SELECT id, source_name AS sourceName, rows, columns, frames, status, series_id AS seriesId, sop_instance_uid AS sopInstanceUid
       FROM items WHERE dataset_id = ? ORDER BY id`,
    )
    .all(datasetId) as ItemRefRow[];
}

export interface ItemGalleryRow {
  source_name: string;
  thumb_sha256: string | null;
  series_id: number | null;
}

/** A reader of items' name, thumbnail and series, prepared once for a loop over images. */
export function itemGalleryReader(db: Db): (itemId: number) => ItemGalleryRow | undefined {
  const stmt = db.prepare('SELECT source_name, thumb_sha256, series_id FROM items WHERE id = ?');
  return (itemId) => stmt.get(itemId) as ItemGalleryRow | undefined;
}

/** Marks an unlabelled item 'done' by a label import (statement prepared once per import). */
export function itemDoneMarker(db: Db): (itemId: number, by: string, at: string) => void {
  const stmt = db.prepare("UPDATE items SET status = 'done', status_by = ?, status_at = ? WHERE id = ? AND status = 'unlabeled'");
  return (itemId, by, at) => {
    stmt.run(by, at, itemId);
  };
}

/** An item's place and size, for checking a label against it. */
export interface ItemInfoRow {
  id: number;
  datasetId: number;
  seriesId: number | null;
  rows: number;
  columns: number;
  frames: number;
  status: string;
}

export function getItemInfo(db: Db, itemId: number): ItemInfoRow | undefined {
  return db.prepare('SELECT id, dataset_id AS datasetId, series_id AS seriesId, rows, columns, frames, status FROM items WHERE id = ?').get(itemId) as
    | ItemInfoRow
    | undefined;
}

export function getSeriesDataset(db: Db, seriesId: number): { id: number; datasetId: number } | undefined {
  return db.prepare('SELECT id, dataset_id AS datasetId FROM series WHERE id = ?').get(seriesId) as { id: number; datasetId: number } | undefined;
}

/** The dataset of an image or a series (undefined when it does not exist). */
export function datasetOfTarget(db: Db, target: { itemId: number } | { seriesId: number }): number | undefined {
  const row = ('itemId' in target
    ? db.prepare('SELECT dataset_id AS d FROM items WHERE id = ?').get(target.itemId)
    : db.prepare('SELECT dataset_id AS d FROM series WHERE id = ?').get(target.seriesId)) as { d: number } | undefined;
  return row?.d;
}

/** The first label moves an untouched ('unlabeled') image or series to 'in_progress'. */
export function markInProgress(db: Db, target: { itemId: number } | { seriesId: number }, by: string, at: string): void {
  if ('itemId' in target) db.prepare("UPDATE items SET status = 'in_progress', status_by = ?, status_at = ? WHERE id = ? AND status = 'unlabeled'").run(by, at, target.itemId);
  else db.prepare("UPDATE series SET status = 'in_progress', status_by = ?, status_at = ? WHERE id = ? AND status = 'unlabeled'").run(by, at, target.seriesId);
}

/** What the viewer needs to load an item. */
export interface ItemRecordRow {
  id: number;
  kind: 'dicom' | 'image';
  blobSha256: string;
  sourceName: string;
  modality: string | null;
  frames: number;
}

export function getItemRecord(db: Db, itemId: number): ItemRecordRow | undefined {
  return db.prepare('SELECT id, kind, blob_sha256 AS blobSha256, source_name AS sourceName, modality, frames FROM items WHERE id = ?').get(itemId) as
    | ItemRecordRow
    | undefined;
}

/** A sample source with its series and Patient ID (null for plain images). */
export interface TrainingItemRow extends ItemSourceRow {
  series_id: number | null;
  patient_key: string | null;
}

/** A dataset's items for training and evaluation, in id order. */
export function listTrainingItems(db: Db, datasetId: number): TrainingItemRow[] {
  return db
    .prepare(
      `SELECT i.id, i.kind, i.blob_sha256, i.rows, i.columns, i.frames, i.samples_per_pixel, i.photometric, i.series_id, p.patient_key, i.status
       FROM items i
       LEFT JOIN series s ON s.id = i.series_id
       LEFT JOIN studies st ON st.id = s.study_id
       LEFT JOIN patients p ON p.id = st.patient_id
       WHERE i.dataset_id = ?
       ORDER BY i.id`,
    )
    .all(datasetId) as TrainingItemRow[];
}

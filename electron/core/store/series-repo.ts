/** Reads of DICOM series and their instances (tables series, items, frames). */
import type { Db } from './library-db';

export interface SeriesHeaderRow {
  id: number;
  description: string | null;
  modality: string | null;
  uid: string;
  number: number | null;
}

export function getSeriesHeader(db: Db, seriesId: number): SeriesHeaderRow | undefined {
  return db.prepare('SELECT id, description, modality, series_uid AS uid, series_number AS number FROM series WHERE id = ?').get(seriesId) as SeriesHeaderRow | undefined;
}

/** The id of the series with this Series Instance UID in a dataset. */
export function findSeriesByUid(db: Db, datasetId: number, seriesUid: string): number | undefined {
  return db.prepare('SELECT id FROM series WHERE dataset_id = ? AND series_uid = ?').pluck().get(datasetId, seriesUid) as number | undefined;
}

/** A dataset's series ids in id order. */
export function listSeriesIds(db: Db, datasetId: number): number[] {
  return db.prepare('SELECT id FROM series WHERE dataset_id = ? ORDER BY id').pluck().all(datasetId) as number[];
}

export interface SeriesInstanceRow {
  itemId: number;
  frames: number;
  instanceNumber: number | null;
  slicePosition: number | null;
}

/** A series' items in display order: instance number, slice position, then id (missing values last). */
export function listSeriesInstances(db: Db, seriesId: number): SeriesInstanceRow[] {
  return db
    .prepare(
      `SELECT i.id AS itemId, i.frames, i.instance_number AS instanceNumber, i.slice_position AS slicePosition
       FROM items i WHERE i.series_id = ?
       ORDER BY i.instance_number IS NULL, i.instance_number, i.slice_position IS NULL, i.slice_position, i.id`,
    )
    .all(seriesId) as SeriesInstanceRow[];
}

export interface SeriesDicomItemRow {
  id: number;
  blobSha256: string;
  rows: number;
  columns: number;
  frames: number;
}

/** The DICOM items of a series (not plain images), in the same display order. */
export function listSeriesDicomItems(db: Db, seriesId: number): SeriesDicomItemRow[] {
  return db
    .prepare(
      `SELECT id, blob_sha256 AS blobSha256, rows, columns, frames FROM items
       WHERE series_id = ? AND kind = 'dicom'
       ORDER BY instance_number IS NULL, instance_number, slice_position IS NULL, slice_position, id`,
    )
    .all(seriesId) as SeriesDicomItemRow[];
}

/** Per-frame slice positions of a multi-frame item; prepared once for a series. */
export function framePositionsReader(db: Db): (itemId: number) => { f: number; p: number | null }[] {
  const stmt = db.prepare('SELECT frame_index AS f, slice_position AS p FROM frames WHERE item_id = ? ORDER BY frame_index');
  return (itemId) => stmt.all(itemId) as { f: number; p: number | null }[];
}

export interface SpacedDicomItemRow {
  id: number;
  blobSha256: string;
  seriesId: number | null;
  rs: number;
  cs: number;
  seriesUid: string | null;
}

/** A dataset's DICOM items with a pixel spacing (row, column), by series then id. */
export function listSpacedDicomItems(db: Db, datasetId: number): SpacedDicomItemRow[] {
  return db
    .prepare(
      `SELECT i.id, i.blob_sha256 AS blobSha256, i.series_id AS seriesId, i.pixel_spacing_row AS rs, i.pixel_spacing_col AS cs, s.series_uid AS seriesUid
       FROM items i LEFT JOIN series s ON s.id = i.series_id WHERE i.dataset_id = ? AND i.kind = 'dicom' AND i.pixel_spacing_row IS NOT NULL AND i.pixel_spacing_col IS NOT NULL
       ORDER BY i.series_id, i.id`,
    )
    .all(datasetId) as SpacedDicomItemRow[];
}

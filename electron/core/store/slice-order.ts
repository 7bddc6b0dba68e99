/**
 * Every DICOM slice (an item's frame) of some series with its position
 * along the slice normal (Image Position (Patient) projected on the normal
 * of Image Orientation (Patient), stored at import as slice_position; per
 * frame for multi-frame items), for 2.5-D neighbour lookup. One query,
 * typed rows.
 */
import type { Db } from './library-db';

export interface SeriesSliceRow {
  seriesId: number;
  itemId: number;
  frameIndex: number;
  blobSha256: string;
  /** Millimetres along the slice normal; null when the file has no position or orientation. */
  position: number | null;
  instanceNumber: number | null;
}

/** The slices of these series, unordered (slice-neighbours.ts orders them by position). */
export function listSeriesSlices(db: Db, seriesIds: readonly number[]): SeriesSliceRow[] {
  if (seriesIds.length === 0) return [];
  return db
    .prepare(
      `SELECT i.series_id AS seriesId, i.id AS itemId, COALESCE(f.frame_index, 0) AS frameIndex, i.blob_sha256 AS blobSha256,
              CASE WHEN f.item_id IS NULL THEN i.slice_position ELSE f.slice_position END AS position, i.instance_number AS instanceNumber
         FROM items i LEFT JOIN frames f ON f.item_id = i.id
        WHERE i.kind = 'dicom' AND i.series_id IN (SELECT value FROM json_each(?))
        ORDER BY i.series_id, i.id, frameIndex`,
    )
    .all(JSON.stringify([...new Set(seriesIds)])) as SeriesSliceRow[];
}

/** The series of these items (items without one are absent). */
export function seriesOfItems(db: Db, itemIds: readonly number[]): Map<number, number> {
  if (itemIds.length === 0) return new Map();
  const rows = db
    .prepare(`SELECT id, series_id AS seriesId FROM items WHERE series_id IS NOT NULL AND id IN (SELECT value FROM json_each(?))`)
    .all(JSON.stringify([...new Set(itemIds)])) as { id: number; seriesId: number }[];
  return new Map(rows.map((r) => [r.id, r.seriesId]));
}

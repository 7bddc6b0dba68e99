/**
 * What the recipe planner needs to know of items beyond their samples: the
 * DICOM modality and where a slice sits in its series (series, position,
 * in-plane spacing). One query, typed rows.
 */
import type { Db } from './library-db';

export interface ItemGeometryRow {
  id: number;
  modality: string | null;
  seriesId: number | null;
  slicePosition: number | null;
  /** Millimetres between row centres (PixelSpacing[0]); null when unknown. */
  pixelSpacing: number | null;
}

/** Rows for the given items (in id order); ids not in the library are absent. */
export function itemGeometry(db: Db, itemIds: readonly number[]): ItemGeometryRow[] {
  if (itemIds.length === 0) return [];
  const stmt = db.prepare(
    `SELECT id, modality, series_id AS seriesId, slice_position AS slicePosition, pixel_spacing_row AS pixelSpacing
       FROM items WHERE id IN (SELECT value FROM json_each(?)) ORDER BY id`,
  );
  return stmt.all(JSON.stringify([...new Set(itemIds)])) as ItemGeometryRow[];
}

/**
 * Read-only queries of annotation shapes that evaluation needs beyond the training samples:
 * the flags (crowd, difficult) and areas of every active shape, and the regions to ignore.
 * Kept in store/ so the SQL lives with the schema.
 */
import type { Db } from './library-db';

export interface ActiveShapeRow {
  id: number;
  itemId: number;
  frameIndex: number | null;
  kind: 'box' | 'polygon' | 'mask';
  geometry: string | null;
  className: string;
}

/** Every active box, polygon and mask of a dataset's images (not series), in id order. */
export function activeShapeRows(db: Db, datasetId: number): ActiveShapeRow[] {
  return db
    .prepare(
      `SELECT a.id, a.item_id AS itemId, a.frame_index AS frameIndex, a.kind, a.geometry, c.name AS className
         FROM annotations a JOIN label_classes c ON c.id = a.class_id
        WHERE a.dataset_id = ? AND a.status = 'active' AND a.item_id IS NOT NULL AND a.kind IN ('box','polygon','mask')
        ORDER BY a.id`,
    )
    .all(datasetId) as ActiveShapeRow[];
}

/** The reads an export takes from the library (read-only, a few SELECTs per export). */
import type { Db } from './library-db';

export interface ExportItemRow {
  id: number;
  kind: 'dicom' | 'image';
  sourceName: string;
  rows: number;
  columns: number;
  frames: number;
  samplesPerPixel: number;
  blobSha256: string;
  split: 'train' | 'val' | 'test' | null;
}

/** A dataset's items with their split (only those of `split` when given), by name then id. */
export function listExportItems(db: Db, datasetId: number, split?: string): ExportItemRow[] {
  return db
    .prepare(
      `SELECT i.id, i.kind, i.source_name AS sourceName, i.rows, i.columns, i.frames, i.samples_per_pixel AS samplesPerPixel,
              i.blob_sha256 AS blobSha256, s.split AS split
         FROM items i LEFT JOIN splits s ON s.dataset_id = i.dataset_id AND s.item_id = i.id
        WHERE i.dataset_id = ? ${split ? 'AND s.split = ?' : ''}
        ORDER BY i.source_name, i.id`,
    )
    .all(...(split ? [datasetId, split] : [datasetId])) as ExportItemRow[];
}

export interface ExportAnnotationRow {
  id: number;
  itemId: number;
  frameIndex: number | null;
  classId: number;
  kind: 'class' | 'box' | 'polygon' | 'mask';
  geometry: string | null;
  score: number | null;
  source: 'human' | 'imported' | 'model';
  status: string;
  runId: number | null;
}

/** Image-level annotations with one of these statuses: active ones first, then by id. */
export function listExportAnnotations(db: Db, datasetId: number, statuses: readonly ('active' | 'proposed')[]): ExportAnnotationRow[] {
  return db
    .prepare(
      `SELECT id, item_id AS itemId, frame_index AS frameIndex, class_id AS classId, kind, geometry, score, source, status, run_id AS runId
         FROM annotations WHERE dataset_id = ? AND item_id IS NOT NULL AND status IN (${statuses.map(() => '?').join(', ')}) ORDER BY status = 'active', id`,
    )
    .all(datasetId, ...statuses) as ExportAnnotationRow[];
}

/** Active series-level annotations (2-D formats cannot hold them). */
export function countActiveSeriesLabels(db: Db, datasetId: number): number {
  return (db.prepare("SELECT count(*) AS n FROM annotations WHERE dataset_id = ? AND series_id IS NOT NULL AND status = 'active'").get(datasetId) as { n: number }).n;
}

export interface VolumeRegionRow {
  id: number;
  itemId: number;
  frameIndex: number | null;
  classId: number;
  kind: 'mask' | 'polygon';
  geometry: string | null;
  source: 'human' | 'imported' | 'model';
  seriesId: number;
}

/** A series is in a split when any of its instances is: volumes are whole series. */
function splitClause(split: string | undefined, seriesExpr: string): string {
  return split ? ` AND EXISTS (SELECT 1 FROM splits s JOIN items si ON si.id = s.item_id WHERE si.series_id = ${seriesExpr} AND s.dataset_id = a.dataset_id AND s.split = @split)` : '';
}

/** Active masks and polygons on DICOM instances of a series (of series in `split`), by series then id. */
export function listVolumeRegions(db: Db, datasetId: number, split?: string): VolumeRegionRow[] {
  return db
    .prepare(
      `SELECT a.id, a.item_id AS itemId, a.frame_index AS frameIndex, a.class_id AS classId, a.kind, a.geometry, a.source, i.series_id AS seriesId
       FROM annotations a JOIN items i ON i.id = a.item_id
       WHERE a.dataset_id = @dataset AND a.status = 'active' AND a.kind IN ('mask', 'polygon')
         AND i.kind = 'dicom' AND i.series_id IS NOT NULL${splitClause(split, 'i.series_id')}
       ORDER BY i.series_id, a.id`,
    )
    .all({ dataset: datasetId, ...(split ? { split } : {}) }) as VolumeRegionRow[];
}

/** Active box and class labels on DICOM images or series (of series in `split`), counted per kind. */
export function countDicomNonRegionLabels(db: Db, datasetId: number, split?: string): { kind: string; n: number }[] {
  return db
    .prepare(
      `SELECT a.kind, count(*) AS n FROM annotations a LEFT JOIN items i ON i.id = a.item_id
       WHERE a.dataset_id = @dataset AND a.status = 'active' AND a.kind IN ('box', 'class')
         AND (a.series_id IS NOT NULL OR i.kind = 'dicom')${splitClause(split, 'COALESCE(i.series_id, a.series_id)')}
       GROUP BY a.kind ORDER BY a.kind`,
    )
    .all({ dataset: datasetId, ...(split ? { split } : {}) }) as { kind: string; n: number }[];
}

export interface ExportBlobRow {
  id: number;
  kind: 'dicom' | 'image';
  blob: string;
}

/** A dataset's items (those in `split` when given) with their stored file, in id order. */
export function listExportBlobs(db: Db, datasetId: number, split?: string): ExportBlobRow[] {
  if (split) {
    return db
      .prepare(
        `SELECT i.id AS id, i.kind AS kind, i.blob_sha256 AS blob FROM items i
           JOIN splits s ON s.item_id = i.id AND s.dataset_id = i.dataset_id
          WHERE i.dataset_id = ? AND s.split = ? ORDER BY i.id`,
      )
      .all(datasetId, split) as ExportBlobRow[];
  }
  return db.prepare('SELECT id, kind, blob_sha256 AS blob FROM items WHERE dataset_id = ? ORDER BY id').all(datasetId) as ExportBlobRow[];
}

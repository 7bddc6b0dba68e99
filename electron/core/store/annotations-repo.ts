/**
 * Annotation reads and writes that are not the AnnotationStore's per-row API:
 * the duplicate check of label import, and reads for export and training.
 */
import type { AnnotationKind } from './annotation-store';
import type { Db } from './library-db';

/**
 * Whether the same imported label (item, frame, class, kind, geometry JSON or '')
 * is already in the library; prepared once for a whole import.
 */
export function importedLabelChecker(db: Db): (itemId: number, frameIndex: number | null, classId: number, kind: string, geometryJson: string) => boolean {
  const stmt = db.prepare(
    "SELECT 1 FROM annotations WHERE item_id = ? AND frame_index IS ? AND class_id = ? AND kind = ? AND coalesce(geometry, '') = ? AND source = 'imported' AND status <> 'deleted' LIMIT 1",
  );
  return (itemId, frameIndex, classId, kind, geometryJson) => stmt.get(itemId, frameIndex, classId, kind, geometryJson) !== undefined;
}

export interface ImageLabelRow {
  kind: string;
  geometry: string | null;
  frame_index: number | null;
  score: number | null;
  /** The class's name. */
  name: string;
}

/**
 * The active labels of one image (item, frame): its own, the whole item's
 * (frame NULL) and its series' class labels, in id order; prepared once for
 * a loop over images.
 */
export function activeLabelsOfImageReader(db: Db): (itemId: number, seriesId: number | null, frame: number) => ImageLabelRow[] {
  const stmt = db.prepare(
    `SELECT a.kind, a.geometry, a.frame_index, a.score, c.name FROM annotations a JOIN label_classes c ON c.id = a.class_id
     WHERE (a.item_id = @item OR a.series_id = @series) AND a.status = 'active' AND (a.frame_index IS NULL OR a.frame_index = @frame) ORDER BY a.id`,
  );
  return (itemId, seriesId, frame) => stmt.all({ item: itemId, series: seriesId ?? -1, frame }) as ImageLabelRow[];
}

/**
 * The active class labels at one level: an image's frame (or the whole image,
 * frame null), or a series; `exceptId` leaves out the annotation being edited.
 */
export function activeClassLabelsAt(
  db: Db,
  at: { itemId: number; frame: number | null } | { seriesId: number },
  exceptId = 0,
): { classId: number; name: string }[] {
  const byItem = 'itemId' in at;
  return db
    .prepare(
      `SELECT a.class_id AS classId, c.name FROM annotations a JOIN label_classes c ON c.id = a.class_id
       WHERE a.kind = 'class' AND a.status = 'active' AND a.id <> ?
         AND ${byItem ? 'a.item_id = ? AND a.frame_index IS ?' : 'a.series_id = ? AND ? IS NULL'}`,
    )
    .all(exceptId, byItem ? at.itemId : at.seriesId, byItem ? at.frame : null) as { classId: number; name: string }[];
}

/** Whether a series has an active class label. */
export function seriesHasClassLabel(db: Db, seriesId: number): boolean {
  return db.prepare("SELECT 1 FROM annotations WHERE series_id = ? AND kind = 'class' AND status = 'active' LIMIT 1").get(seriesId) !== undefined;
}

export interface ActiveAnnotationRow {
  id: number;
  version: number;
  item_id: number | null;
  series_id: number | null;
  frame_index: number | null;
  class_id: number;
  kind: AnnotationKind;
  geometry: string | null;
}

/** A dataset's active annotations of these kinds, in id order, read lazily (a dataset can hold millions). */
export function iterateActiveAnnotations(db: Db, datasetId: number, kinds: readonly AnnotationKind[]): IterableIterator<ActiveAnnotationRow> {
  return db
    .prepare(
      `SELECT id, version, item_id, series_id, frame_index, class_id, kind, geometry FROM annotations
       WHERE dataset_id = ? AND status = 'active' AND kind IN (${kinds.map(() => '?').join(', ')})
       ORDER BY id`,
    )
    .iterate(datasetId, ...kinds) as IterableIterator<ActiveAnnotationRow>;
}

/** Reads an annotation's geometry JSON if it is still active at `version`; prepared once for many masks. */
export function activeGeometryReader(db: Db): (id: number, version: number) => string | null | undefined {
  const stmt = db.prepare("SELECT geometry FROM annotations WHERE id = ? AND version = ? AND status = 'active'");
  return (id, version) => (stmt.get(id, version) as { geometry: string | null } | undefined)?.geometry;
}

/**
 * The rows behind a series' segmentation volume (core/volume): the active mask and polygon
 * annotations of the series' images, read per series, and written back slice by slice.
 *
 * A write is ONE transaction for a whole edit (a brush stroke, an applied effect, an undo): the
 * edit is on disk when it returns, or nothing of it is (a crash loses at most that edit). Rows
 * change with optimistic concurrency on annotations.version, as the 2-D labeling does: a row
 * changed meanwhile (another window) makes the edit CONFLICT and roll back. Each edit appends one
 * audit row naming the series, the operation and the annotation ids created, updated and deleted.
 */
import type { CocoRle } from '../labels';
import { FoveaException } from '../../contract/result';
import type { AnnotationStore } from './annotation-store';
import type { AuditLog } from './audit-log';
import { listClasses } from './classes-repo';
import type { Db } from './library-db';

export interface SeriesRow {
  id: number;
  datasetId: number;
  modality: string | null;
  description: string | null;
}

/** An active mask or polygon on one of the series' images. */
export interface RegionRow {
  id: number;
  itemId: number;
  /** As stored: null for single-frame images. */
  frameIndex: number | null;
  classId: number;
  kind: 'mask' | 'polygon';
  geometry: unknown;
  version: number;
}

/** A row backing one (segment, slice) and the version the volume last saw. */
export interface RowRef {
  id: number;
  version: number;
  kind: 'mask' | 'polygon';
}

/** The new state of one segment on one image (frame). */
export interface SliceWrite {
  itemId: number;
  /** As stored: null for a single-frame image. */
  frameIndex: number | null;
  classId: number;
  /** The rows that hold the segment there now (from the last read). */
  rows: RowRef[];
  /** The new mask, or null when the segment has no voxel left there. */
  rle: CocoRle | null;
}

export interface SliceWriteResult {
  /** The rows that hold the segment there after the write. */
  rows: RowRef[];
}

export interface EditAudit {
  operation: string;
  classIds: number[];
}

export class SegmentationStore {
  readonly #db: Db;
  readonly #annotations: AnnotationStore;
  readonly #audit: AuditLog;

  constructor(db: Db, annotations: AnnotationStore, audit: AuditLog) {
    this.#db = db;
    this.#annotations = annotations;
    this.#audit = audit;
  }

  series(seriesId: number): SeriesRow {
    const row = this.#db.prepare('SELECT id, dataset_id AS datasetId, modality, description FROM series WHERE id = ?').get(seriesId) as SeriesRow | undefined;
    if (!row) throw new FoveaException('NOT_FOUND', `There is no series ${seriesId}.`);
    return row;
  }

  /** The series of an item (the CLI names items). */
  seriesOfItem(itemId: number): number {
    const row = this.#db.prepare('SELECT series_id AS seriesId, kind FROM items WHERE id = ?').get(itemId) as { seriesId: number | null; kind: string } | undefined;
    if (!row) throw new FoveaException('NOT_FOUND', `There is no item ${itemId}.`);
    if (row.seriesId === null || row.kind !== 'dicom') throw new FoveaException('UNSUPPORTED', `Item ${itemId} is not part of a DICOM series.`);
    return row.seriesId;
  }

  /** The dataset's classes, in the schema's order. */
  classes(datasetId: number): { id: number; name: string; color: string }[] {
    return listClasses(this.#db, datasetId).map(({ id, name, color }) => ({ id, name, color }));
  }

  /** Active masks and polygons of the series' images. */
  regions(seriesId: number): RegionRow[] {
    const rows = this.#db
      .prepare(
        `SELECT a.id, a.item_id AS itemId, a.frame_index AS frameIndex, a.class_id AS classId, a.kind, a.geometry, a.version
         FROM annotations a JOIN items i ON i.id = a.item_id
         WHERE i.series_id = ? AND a.status = 'active' AND a.kind IN ('mask', 'polygon') ORDER BY a.id`,
      )
      .all(seriesId) as (Omit<RegionRow, 'geometry'> & { geometry: string | null })[];
    return rows.map((r) => ({ ...r, geometry: r.geometry === null ? null : (JSON.parse(r.geometry) as unknown) }));
  }

  /**
   * A cheap summary that changes whenever any mask or polygon row of the series is created or
   * changed (every change bumps a version): the volume reloads when it differs.
   */
  fingerprint(seriesId: number): string {
    const r = this.#db
      .prepare(
        `SELECT count(*) AS n, coalesce(sum(a.version), 0) AS v, coalesce(max(a.id), 0) AS m
         FROM annotations a JOIN items i ON i.id = a.item_id
         WHERE i.series_id = ? AND a.kind IN ('mask', 'polygon')`,
      )
      .get(seriesId) as { n: number; v: number; m: number };
    return `${r.n}:${r.v}:${r.m}`;
  }

  /**
   * Write the new masks of an edit in one transaction: per (image, segment) the first mask row is
   * updated (or one is created), other rows of that segment there are deleted (polygons become part
   * of the mask); an empty result deletes them all. Throws CONFLICT (nothing written) when a row is
   * no longer at the version the volume read.
   */
  writeSlices(p: { datasetId: number; seriesId: number; author: string; audit: EditAudit; writes: readonly SliceWrite[] }): SliceWriteResult[] {
    return this.#db
      .transaction(() => {
        const created: number[] = [];
        const updated: number[] = [];
        const deleted: number[] = [];
        const results: SliceWriteResult[] = [];
        const now = new Date().toISOString();
        const started = this.#db.prepare("UPDATE items SET status = 'in_progress', status_by = ?, status_at = ? WHERE id = ? AND status = 'unlabeled'");
        for (const w of p.writes) {
          const keep = w.rle ? w.rows.find((r) => r.kind === 'mask') : undefined;
          const out: RowRef[] = [];
          for (const r of w.rows) {
            if (r === keep) continue;
            const next = this.#annotations.updateVersioned(r.id, r.version, { status: 'deleted', author: p.author });
            if (!next) throw stale(r.id);
            deleted.push(r.id);
          }
          if (w.rle) {
            const geometry = { rle: w.rle };
            if (keep) {
              const next = this.#annotations.updateVersioned(keep.id, keep.version, { geometry, author: p.author });
              if (!next) throw stale(keep.id);
              updated.push(keep.id);
              out.push({ id: keep.id, version: next.version, kind: 'mask' });
            } else {
              const id = this.#annotations.create({
                datasetId: p.datasetId,
                itemId: w.itemId,
                frameIndex: w.frameIndex,
                classId: w.classId,
                kind: 'mask',
                geometry,
                source: 'human',
                status: 'active',
                author: p.author,
              });
              created.push(id);
              out.push({ id, version: 1, kind: 'mask' });
              started.run(p.author, now, w.itemId);
            }
          }
          results.push({ rows: out });
        }
        this.#audit.append({
          action: 'segmentation.edit',
          objectType: 'series',
          objectId: p.seriesId,
          actor: p.author,
          details: { datasetId: p.datasetId, operation: p.audit.operation, classIds: p.audit.classIds, slices: p.writes.length, created, updated, deleted },
        });
        return results;
      })
      .immediate();
  }
}

function stale(id: number): FoveaException {
  return new FoveaException(
    'CONFLICT',
    `Annotation ${id} of this series was changed meanwhile (in another window or by another user); nothing was saved. The volume has been reloaded: do the edit again.`,
  );
}

/**
 * The rows model help reads and writes (electron/core/assist): an item's pixel source, the stack
 * an image belongs to, and replacing a model's earlier proposals. Model proposals themselves are
 * written through AnnotationStore.create (source 'model', status 'proposed').
 */
import type { Db } from './library-db';

export interface AssistItemRow {
  id: number;
  datasetId: number;
  kind: 'dicom' | 'image';
  blobSha256: string;
  rows: number;
  columns: number;
  frames: number;
  samplesPerPixel: number;
  photometric: string | null;
  seriesId: number | null;
  status: string;
}

export class AssistStore {
  readonly #db: Db;

  constructor(db: Db) {
    this.#db = db;
  }

  item(itemId: number): AssistItemRow | null {
    return (
      (this.#db
        .prepare(
          `SELECT id, dataset_id AS datasetId, kind, blob_sha256 AS blobSha256, rows, columns, frames, samples_per_pixel AS samplesPerPixel,
                  photometric, series_id AS seriesId, status FROM items WHERE id = ?`,
        )
        .get(itemId) as AssistItemRow | undefined) ?? null
    );
  }

  /**
   * Deletes the proposals `author` made earlier of this class on one image (frame null: a
   * single-frame image), before a new pass writes its own. Never touches accepted, rejected or
   * human rows. Returns how many went.
   */
  deleteProposals(p: { datasetId: number; itemId: number; frameIndex: number | null; classId: number; author: string }): number {
    return this.#db
      .prepare(
        `DELETE FROM annotations WHERE dataset_id = ? AND item_id = ? AND frame_index IS ? AND class_id = ? AND author = ?
           AND source = 'model' AND status = 'proposed'`,
      )
      .run(p.datasetId, p.itemId, p.frameIndex, p.classId, p.author).changes;
  }

  /**
   * Deletes `author`'s proposals in a dataset on items other than `keepItems` (a completed predict
   * pass removes what it did not rewrite). By item, not by id: SQLite reuses the ids of deleted
   * rows, so "older than the pass's first id" would catch rows the pass itself wrote.
   */
  deleteProposalsExcept(datasetId: number, author: string, keepItems: readonly number[]): number {
    return this.#db
      .prepare(
        `DELETE FROM annotations WHERE dataset_id = ? AND author = ? AND source = 'model' AND status = 'proposed'
           AND item_id NOT IN (SELECT value FROM json_each(?))`,
      )
      .run(datasetId, author, JSON.stringify(keepItems)).changes;
  }

  /** Deletes one item's proposals by `author` (a predict pass about to rewrite that item). */
  deleteItemProposals(datasetId: number, itemId: number, author: string): number {
    return this.#db
      .prepare("DELETE FROM annotations WHERE dataset_id = ? AND item_id = ? AND author = ? AND source = 'model' AND status = 'proposed'")
      .run(datasetId, itemId, author).changes;
  }
}

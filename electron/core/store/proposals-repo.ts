/**
 * A prediction pass's writes: model proposals (annotations with source
 * 'model', status 'proposed') and item_uncertainty rows. Old proposals are
 * chosen by run, dataset and item, never by id order: annotations has no
 * AUTOINCREMENT, so SQLite gives a deleted row's id to the next insert when
 * that row held the highest id, and "older than the highest id at the start"
 * would take this pass's new rows with it.
 */
import type { Db } from './library-db';

export interface ProposalPassWriter {
  /** Deletes the run's proposals of one item in the dataset (before its new ones are written). */
  deleteItemProposals(runId: number, datasetId: number, itemId: number): number;
  /** One item's uncertainty for this pass (`computedAt` = the pass); within a pass the highest score of its frames. */
  upsertUncertainty(runId: number, itemId: number, datasetId: number, score: number, method: string, computedAt: string): void;
}

/** Statements prepared once per pass (they run once per predicted item). */
export function proposalPassWriter(db: Db): ProposalPassWriter {
  const delItem = db.prepare("DELETE FROM annotations WHERE run_id = ? AND dataset_id = ? AND item_id = ? AND source = 'model' AND status = 'proposed'");
  const upsert = db.prepare(
    `INSERT INTO item_uncertainty (run_id, item_id, dataset_id, score, method, computed_at) VALUES (?, ?, ?, ?, ?, ?)
     ON CONFLICT (run_id, item_id) DO UPDATE SET
       score = CASE WHEN item_uncertainty.computed_at = excluded.computed_at THEN max(item_uncertainty.score, excluded.score) ELSE excluded.score END,
       dataset_id = excluded.dataset_id, method = excluded.method, computed_at = excluded.computed_at`,
  );
  return {
    deleteItemProposals: (runId, datasetId, itemId) => delItem.run(runId, datasetId, itemId).changes,
    upsertUncertainty: (runId, itemId, datasetId, score, method, computedAt) => {
      upsert.run(runId, itemId, datasetId, score, method, computedAt);
    },
  };
}

/**
 * A completed pass: the run's proposals in the dataset on items the pass did
 * not write (and series-level ones) go, with uncertainty rows older than the
 * pass. Returns the proposals deleted.
 */
export function finishProposalPass(db: Db, p: { runId: number; datasetId: number; writtenItemIds: Iterable<number>; passAt: string }): number {
  return db
    .transaction(() => {
      const removed = db
        .prepare(
          `DELETE FROM annotations WHERE run_id = ? AND dataset_id = ? AND source = 'model' AND status = 'proposed'
           AND (item_id IS NULL OR item_id NOT IN (SELECT value FROM json_each(?)))`,
        )
        .run(p.runId, p.datasetId, JSON.stringify([...p.writtenItemIds])).changes;
      db.prepare('DELETE FROM item_uncertainty WHERE run_id = ? AND dataset_id = ? AND computed_at < ?').run(p.runId, p.datasetId, p.passAt);
      return removed;
    })
    .immediate();
}

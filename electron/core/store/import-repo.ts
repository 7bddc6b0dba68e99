/** An import's bookkeeping: the job row (table import_jobs) and one outcome row per file (import_files). */
import type { Db } from './library-db';

/** A running import job; returns its id. */
export function startImportJob(db: Db, datasetId: number, at: string): number {
  return Number(db.prepare("INSERT INTO import_jobs (dataset_id, started_at, status) VALUES (?, ?, 'running')").run(datasetId, at).lastInsertRowid);
}

/** Records files' outcomes (the last one per path wins); prepared once for a batch of files. */
export function importOutcomeWriter(db: Db): (jobId: number, path: string, outcome: string, reason: string | null, itemId: number | null) => void {
  const stmt = db.prepare('INSERT OR REPLACE INTO import_files (job_id, path, outcome, reason, item_id) VALUES (?, ?, ?, ?, ?)');
  return (jobId, path, outcome, reason, itemId) => {
    stmt.run(jobId, path, outcome, reason, itemId);
  };
}

/** Closes the job with its summary and marks the dataset changed. */
export function finishImportJob(db: Db, p: { jobId: number; datasetId: number; status: 'done' | 'cancelled'; summary: unknown; at: string }): void {
  db.prepare('UPDATE import_jobs SET finished_at = ?, status = ?, summary = ? WHERE id = ?').run(p.at, p.status, JSON.stringify(p.summary), p.jobId);
  db.prepare('UPDATE datasets SET updated_at = ? WHERE id = ?').run(p.at, p.datasetId);
}

/**
 * Stored evaluations in the library (table `evaluations`, migration 3): the
 * latest evaluation of a run on a split of a dataset, its metrics and its
 * per-image results as JSON. evaluate-run.ts also keeps the JSON file in the
 * run's folder (scripts read it); the database copy is what the UI lists
 * and what `backup` carries.
 */
import type { EvaluationReport, EvaluationSplit, EvaluationSummary } from '../../contract/evaluation';
import type { Db } from './library-db';

interface Row {
  run_id: number;
  dataset_id: number;
  split: EvaluationSplit;
  task: EvaluationReport['task'];
  created_at: string;
  metrics: string;
  per_image: string;
}

/** The headline number of a report: accuracy, mAP@0.5 or Dice. */
export function headlineOf(r: { task: EvaluationReport['task'] }): { name: string; value: number | null } {
  const report = r as { task: EvaluationReport['task'] } & Record<string, unknown>;
  if (report.task === 'classification') return { name: 'accuracy', value: (report['accuracy'] as number | null) ?? null };
  if (report.task === 'detection') {
    const v = report['mAP50'] as number;
    return { name: 'mAP50', value: v === -1 ? null : v };
  }
  return { name: 'dice', value: (report['dice'] as number | null) ?? null };
}

export function saveEvaluation(db: Db, report: EvaluationReport): void {
  const { images, ...metrics } = report;
  db.prepare(
    `INSERT INTO evaluations (run_id, dataset_id, split, task, created_at, metrics, per_image) VALUES (?, ?, ?, ?, ?, ?, ?)
     ON CONFLICT (run_id, dataset_id, split) DO UPDATE SET task = excluded.task, created_at = excluded.created_at, metrics = excluded.metrics, per_image = excluded.per_image`,
  ).run(report.source.runId, report.source.datasetId, report.source.split, report.task, report.source.evaluatedAt, JSON.stringify(metrics), JSON.stringify(images));
}

export function loadEvaluation(db: Db, runId: number, datasetId: number, split: EvaluationSplit): EvaluationReport | null {
  const row = db.prepare('SELECT * FROM evaluations WHERE run_id = ? AND dataset_id = ? AND split = ?').get(runId, datasetId, split) as Row | undefined;
  if (!row) return null;
  return { ...(JSON.parse(row.metrics) as Omit<EvaluationReport, 'images'>), images: JSON.parse(row.per_image) } as EvaluationReport;
}

/** A run's stored evaluations, newest first. */
export function listEvaluations(db: Db, runId: number): EvaluationSummary[] {
  const rows = db.prepare('SELECT run_id, dataset_id, split, task, created_at, metrics FROM evaluations WHERE run_id = ? ORDER BY created_at DESC, id DESC').all(runId) as Omit<Row, 'per_image'>[];
  return rows.map((r) => {
    const m = JSON.parse(r.metrics) as Record<string, unknown> & { task: EvaluationReport['task']; n: number };
    return { runId: r.run_id, datasetId: r.dataset_id, split: r.split, task: r.task, createdAt: r.created_at, n: m.n, headline: headlineOf(m) };
  });
}

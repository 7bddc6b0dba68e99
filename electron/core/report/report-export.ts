/**
 * Writing a run's evaluation report: `fovea report` and the 'reports.export'
 * request.
 *
 * 1. The run's stored evaluation on the split (readStoredEvaluation: the
 *    library's table, else the JSON in the run's folder); when there is
 *    none, the run is evaluated first (evaluateRun, which stores it; on a
 *    read-only library it is computed and not stored).
 * 2. The report model (report-model.ts): the run's name; no patient data, images by series
 *    description and instance number (store/report-item-names.ts), else by item id.
 * 3. report.html (always) and report.pdf (when asked) through one
 *    ExportWriter (confined, atomic, no silent overwrite), then the manifest
 *    with every file's SHA-256.
 * 4. One audit row: 'export.report' on the run, with the split, the folder,
 *    the files and the manifest's hash (or the failure). On a read-only
 *    library the audit log cannot be written: the export still happens and
 *    the result says it was not audited.
 * A failed export removes the files it wrote.
 */
import { createHash } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import type { EvaluationReport } from '../../contract/evaluation';
import { planDecisions } from '../../contract/recipe';
import { describeWarmStart } from '../../contract/runs';
import { FoveaException } from '../../contract/result';
import { foveaVersion } from '../app/versions';
import type { CoreParts } from '../core-parts';
import { evaluateRun, readStoredEvaluation, type EvaluationSplit } from '../evaluation/evaluate-run';
import { auditExport, ExportWriter, type WrittenFile } from '../export/safe-output';
import { renderHtmlReport } from './html-report';
import { renderPdfReport } from './pdf-report';
import { reportItemNames } from '../store/report-item-names';
import { buildReportModel, type ReportModel, type RunFacts } from './report-model';

export interface ReportExportRequest {
  runId: number;
  /** Default 'test'. */
  split?: EvaluationSplit | undefined;
  /** Absolute path of the folder to write into (created when missing). */
  outDir: string;
  /** Also write report.pdf. */
  pdf?: boolean | undefined;
  /** Replace report files that already exist (the user confirmed it). */
  overwrite?: boolean | undefined;
}

export interface ReportExportResult {
  runId: number;
  split: EvaluationSplit;
  task: EvaluationReport['task'];
  /** The export folder (real path). */
  root: string;
  /** Absolute path of fovea-manifest.json. */
  manifest: string;
  files: WrittenFile[];
  bytes: number;
  /** The run had no stored evaluation on this split: it was evaluated now. */
  evaluatedNow: boolean;
  /** The headline metrics as shown in the report. */
  metrics: { label: string; value: string }[];
  /** False on a read-only library (the audit log cannot be written). */
  audited: boolean;
}

export type ReportCore = Pick<CoreParts, 'db' | 'blobs' | 'ml' | 'runs' | 'splits' | 'training' | 'datasets' | 'library' | 'audit'>;

/** The report model of a run's evaluation on a split, evaluating first if it was never evaluated there. */
export async function runReportModel(
  core: ReportCore,
  runId: number,
  split: EvaluationSplit = 'test',
  options: { signal?: AbortSignal; onProgress?: (done: number, total: number) => void } = {},
): Promise<{ model: ReportModel; evaluation: EvaluationReport; evaluatedNow: boolean }> {
  const run = core.runs.get(runId); // NOT_FOUND first
  let evaluation: EvaluationReport | null = readStoredEvaluation(core, runId, split);
  let evaluatedNow = false;
  if (!evaluation) {
    evaluation = await evaluateRun(core, runId, { split, ...(core.library.readOnly ? { store: false } : {}), ...options });
    evaluatedNow = true;
  }
  const epochs = core.runs.epochs(runId);
  const facts: RunFacts = {
    name: run.name,
    itemNames: reportItemNames(core.db, [...evaluation.images.map((i) => i.itemId), ...evaluation.source.failures.map((f) => f.itemId)].filter((id): id is number => id !== undefined)),
    status: run.status,
    backend: run.backend,
    epochs: run.config.epochs,
    epochsCompleted: run.epochsCompleted,
    bestEpoch: run.bestEpoch,
    batchSize: run.config.batchSize,
    channels: run.config.channels,
    createdAt: run.createdAt,
    epochCurve: epochs.map((e) => ({ epoch: e.epoch, trainLoss: e.trainLoss, valLoss: e.valLoss })),
    ...(run.config.plan ? { plan: planDecisions(run.config.plan) } : {}),
    ...(run.config.warmStart ? { warmStart: describeWarmStart(run.config.warmStart) } : {}),
  };
  return { model: buildReportModel(evaluation, facts), evaluation, evaluatedNow };
}

/** Writes report.html (and report.pdf) of a run's evaluation into `outDir`. See the module comment. */
export async function exportReport(
  core: ReportCore,
  request: ReportExportRequest,
  options: { signal?: AbortSignal; onProgress?: (done: number, total: number) => void } = {},
): Promise<ReportExportResult> {
  const split = request.split ?? 'test';
  const { runId } = request;
  const audited = !core.library.readOnly;
  const audit = (outcome: 'ok' | 'failed' | 'cancelled', details: Record<string, unknown>): void => {
    if (audited) auditExport(core.audit, { action: 'export.report', objectType: 'run', objectId: runId, outcome, details: { split, pdf: request.pdf === true, ...details } });
  };

  core.runs.get(runId); // NOT_FOUND before anything is done (not audited: there is no such run)
  const { model, evaluation, evaluatedNow } = await runReportModel(core, runId, split, options).catch((e: unknown) => {
    audit(e instanceof FoveaException && e.code === 'CANCELLED' ? 'cancelled' : 'failed', { error: e instanceof FoveaException ? e.code : 'INTERNAL', stage: 'evaluation' });
    throw e;
  });

  let writer: ExportWriter;
  try {
    writer = await ExportWriter.open(request.outDir, { overwrite: request.overwrite === true });
  } catch (e) {
    audit('failed', { error: e instanceof FoveaException ? e.code : 'INTERNAL' });
    throw e;
  }
  try {
    await writer.write('report.html', renderHtmlReport(model));
    if (request.pdf) await writer.write('report.pdf', await renderPdfReport(model));
    const summary = await writer.finish({
      kind: 'evaluation-report',
      runId,
      task: evaluation.task,
      split,
      images: evaluation.n,
      evaluatedAt: evaluation.source.evaluatedAt,
      fovea: foveaVersion(),
    });
    const manifestSha256 = createHash('sha256').update(await fsp.readFile(summary.manifest)).digest('hex');
    audit('ok', { outDir: summary.root, files: summary.files.length, bytes: summary.bytes, evaluatedNow, manifestSha256 });
    return {
      runId,
      split,
      task: evaluation.task,
      root: summary.root,
      manifest: summary.manifest,
      files: summary.files,
      bytes: summary.bytes,
      evaluatedNow,
      metrics: model.metrics.map((m) => ({ label: m.label, value: m.value })),
      audited,
    };
  } catch (e) {
    await writer.discard();
    audit('failed', { error: e instanceof FoveaException ? e.code : 'INTERNAL', filesRemoved: writer.files.length });
    throw e;
  }
}

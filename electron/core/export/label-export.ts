/**
 * The export dispatcher: one entry point for every dataset export format (COCO, YOLO, VOC, CSV,
 * PNG masks, NIfTI, DICOM SEG, de-identified DICOM), used by the `fovea export` command and the
 * 'export.start' request.
 *
 * For each export it
 * 1. enforces the enterprise policy (`allowedExportFormats`): a refused format is FORBIDDEN and
 *    the refusal is audited;
 * 2. opens an ExportWriter on the chosen folder (confined, atomic, no silent overwrite);
 * 3. runs the format's handler, which writes every file through that writer;
 * 4. writes the manifest (every file with its SHA-256, plus the format, the dataset's name, counts
 *    and Fovea's version: no patient data);
 * 5. records the export in the audit log: success, failure, cancellation or refusal.
 * When the handler fails or is cancelled, the files this export wrote are removed again, so a
 * failed export leaves no half-made package behind (files that were there before are untouched,
 * except those the user chose to overwrite).
 *
 * Handlers are loaded lazily (`await import`) so a CLI command or a request loads only the format
 * it uses (dcmjs and the de-identification tables are not small).
 */
import { promises as fsp } from 'node:fs';
import { FoveaException } from '../../contract/result';
import { foveaVersion } from '../app/versions';
import type { AuditLog } from '../store/audit-log';
import { DATASET_EXPORT_FORMATS, isDatasetExportFormat, type DatasetExportFormat } from '../../contract/export-formats';
import type { ExportFormatHandler, ExportFormatResult, ExportSources } from './export-types';
import { auditExport, ExportWriter, type WrittenFile } from './safe-output';

export interface LabelExportSources extends ExportSources {
  audit: AuditLog;
  /** The policy's allowedExportFormats (core.policy.policy.allowedExportFormats); undefined: all. */
  allowedFormats?: readonly string[] | undefined;
  /** Recorded as the audit entry's actor (the annotator name, if any). */
  actor?: string | null;
}

export interface LabelExportRequest {
  datasetId: number;
  format: DatasetExportFormat;
  /** Absolute path of the folder to write into (created when missing). */
  outDir: string;
  split?: 'train' | 'val' | 'test' | undefined;
  /** Replace files that already exist (the user confirmed it). */
  overwrite?: boolean | undefined;
  /** Format options: withImages (coco/yolo/voc/csv/masks), task 'detect'|'segment' (yolo), ... */
  options?: Record<string, unknown> | undefined;
}

export interface LabelExportResult extends ExportFormatResult {
  /** The export folder (real path). */
  root: string;
  /** Absolute path of fovea-manifest.json. */
  manifest: string;
  files: WrittenFile[];
  bytes: number;
  seconds: number;
}

const LOADERS: Record<DatasetExportFormat, () => Promise<ExportFormatHandler>> = {
  coco: async () => (await import('./coco-export')).exportCoco,
  yolo: async () => (await import('./yolo-export')).exportYolo,
  voc: async () => (await import('./voc-export')).exportVoc,
  csv: async () => (await import('./csv-export')).exportCsv,
  masks: async () => (await import('./masks-export')).exportMasks,
  nifti: async () => (await import('./nifti-export')).exportNifti,
  'dicom-seg': async () => (await import('./dicom-seg-export')).exportDicomSeg,
  'dicom-deid': async () => (await import('../deid/deid-export')).exportDeidentified,
};

/** Remove what a failed export wrote (only files it created or replaced), then empty folders it leaves. */
/**
 * Checks what can be checked before any file is written: a known format, an existing dataset, and
 * the IT policy (a refusal is audited and throws FORBIDDEN). Returns the dataset. The UI's request
 * calls it first so a refusal is its answer, not a later event.
 */
export function assertExportAllowed(sources: LabelExportSources, datasetId: number, format: unknown): { name: string } {
  if (!isDatasetExportFormat(format)) throw new FoveaException('VALIDATION', `Unknown export format "${String(format)}" (known: ${DATASET_EXPORT_FORMATS.join(', ')}).`);
  const dataset = sources.datasets.get(datasetId); // NOT_FOUND before anything is written
  if (sources.allowedFormats && !sources.allowedFormats.includes(format)) {
    auditExport(sources.audit, {
      action: 'export.labels',
      objectType: 'dataset',
      objectId: datasetId,
      outcome: 'refused',
      actor: sources.actor ?? null,
      details: { format, reason: 'policy allowedExportFormats' },
    });
    const allowed = sources.allowedFormats.filter(isDatasetExportFormat);
    throw new FoveaException(
      'FORBIDDEN',
      `Your IT policy does not allow exporting as ${format} (policy key allowedExportFormats). ` +
        (allowed.length ? `Allowed here: ${allowed.join(', ')}.` : 'No dataset export format is allowed here.'),
    );
  }
  return dataset;
}

/** Export a dataset's labels (or images) in one format into `outDir`. See the module comment. */
export async function exportLabels(
  sources: LabelExportSources,
  request: LabelExportRequest,
  signal?: AbortSignal,
  onProgress?: (done: number, total: number) => void,
): Promise<LabelExportResult> {
  const started = performance.now();
  const { datasetId, format } = request;
  const audit = (outcome: 'ok' | 'failed' | 'refused' | 'cancelled', details: Record<string, unknown>): void =>
    auditExport(sources.audit, { action: 'export.labels', objectType: 'dataset', objectId: datasetId, outcome, actor: sources.actor ?? null, details: { format, ...details } });

  const dataset = assertExportAllowed(sources, datasetId, format);

  let writer: ExportWriter;
  try {
    writer = await ExportWriter.open(request.outDir, { overwrite: request.overwrite === true });
  } catch (e) {
    audit('failed', { error: e instanceof FoveaException ? e.code : 'INTERNAL' });
    throw e;
  }
  try {
    const handler = await LOADERS[format]();
    const result = await handler({
      sources,
      datasetId,
      ...(request.split ? { split: request.split } : {}),
      writer,
      ...(signal ? { signal } : {}),
      ...(onProgress ? { onProgress } : {}),
      options: request.options ?? {},
    });
    if (signal?.aborted) throw new FoveaException('CANCELLED', 'The export was cancelled.');
    // A de-identified export names nothing of the source: a dataset may be named after a patient.
    const deid = format === 'dicom-deid';
    const summary = await writer.finish({
      format,
      ...(deid ? (await import('../deid/deid-export')).deidManifestMeta(request.options ?? {}) : { dataset: dataset.name }),
      split: request.split ?? null,
      items: result.items,
      annotations: result.annotations,
      heldBack: result.heldBack.length,
      warnings: result.warnings.length,
      fovea: foveaVersion(),
    });
    const manifestSha = (await import('node:crypto')).createHash('sha256').update(await fsp.readFile(summary.manifest)).digest('hex');
    audit('ok', {
      split: request.split ?? null,
      outDir: summary.root,
      files: summary.files.length,
      bytes: summary.bytes,
      items: result.items,
      annotations: result.annotations,
      heldBack: result.heldBack.length,
      manifestSha256: manifestSha,
    });
    return { ...result, root: summary.root, manifest: summary.manifest, files: summary.files, bytes: summary.bytes, seconds: (performance.now() - started) / 1000 };
  } catch (e) {
    const removed = await writer.discard();
    const code = e instanceof FoveaException ? e.code : 'INTERNAL';
    audit(code === 'CANCELLED' ? 'cancelled' : 'failed', { error: code, filesRemoved: removed });
    throw e;
  }
}

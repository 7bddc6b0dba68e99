/**
 * A dataset's measurements as CSV or JSON, written through the one ExportWriter (confined to the
 * chosen folder, atomic, no silent overwrite, SHA-256 manifest) and recorded in the audit log.
 * Each row names its image by file name, instance number and frame (no patient data) and says its
 * units: lengths and areas in mm / mm² (or px / px² without a pixel spacing), angles in degrees,
 * statistics in the image's value unit (HU for CT); SD is the sample SD (n - 1).
 */
import { writeFileSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import type { MeasurementExportFormat } from '../../contract/export-formats';
import type { Measurement, MeasurementExportResult } from '../../contract/measure';
import { FoveaException } from '../../contract/result';
import { csvCell } from '../export/csv-export';
import { auditExport, ExportWriter } from '../export/safe-output';
import type { AuditLog } from '../store/audit-log';

export interface MeasureExportDeps {
  audit: AuditLog;
  /** The dataset's name (NOT_FOUND when there is none). */
  datasetName(datasetId: number): string;
  list(datasetId: number): Measurement[];
  /** The IT policy's allowedExportFormats, or undefined when it sets none. */
  allowedFormats: readonly string[] | undefined;
  actor: string | null;
}

export const MEASUREMENT_CSV_COLUMNS = [
  'id', 'dataset', 'item_id', 'source_name', 'instance_number', 'frame', 'series_id', 'kind',
  'length', 'length_unit', 'spacing_source', 'angle_deg', 'area', 'area_unit', 'pixels', 'mean', 'sd_sample', 'min', 'max', 'value_unit',
  'note', 'author', 'created_at', 'updated_at', 'points_json',
] as const;

function cell(v: string | number | null): string {
  if (v === null) return '';
  if (typeof v === 'number') return Number.isFinite(v) ? String(v) : '';
  return csvCell(v).text;
}

/** The CSV text (header and one line per measurement, CRLF as RFC 4180). */
export function measurementsCsv(datasetName: string, rows: readonly Measurement[]): string {
  const lines = [MEASUREMENT_CSV_COLUMNS.join(',')];
  for (const m of rows) {
    const v = m.values;
    const region = v.area !== null;
    lines.push(
      [
        m.id, datasetName, m.itemId, m.item.sourceName, m.item.instanceNumber, m.frame, m.seriesId, m.kind,
        v.length, v.length !== null ? v.unit : null, v.spacingSource, v.angle, v.area, region ? `${v.unit}2` : null, v.pixels, v.mean, v.sd, v.min, v.max, v.valueUnit,
        m.note, m.author, m.createdAt, m.updatedAt, JSON.stringify(m.points),
      ].map(cell).join(','),
    );
  }
  return `${lines.join('\r\n')}\r\n`;
}

/** The JSON document: the conventions once, then every measurement as the contract has it. */
export function measurementsJson(dataset: { id: number; name: string }, rows: readonly Measurement[]): string {
  return `${JSON.stringify(
    {
      format: 'fovea-measurements',
      version: 1,
      dataset,
      conventions: {
        coordinates: 'image pixels; pixel (column c, row r) covers [c, c+1) x [r, r+1), centre (c+0.5, r+0.5)',
        inclusion: 'a pixel is in a region when its centre lies inside the shape (boundary inside for rectangle and ellipse; even-odd rule for freehand)',
        units: { length: 'values.unit (mm, or px without a pixel spacing)', area: 'values.unit squared', angle: 'degrees', statistics: 'values.valueUnit (HU for CT)' },
        sd: 'sample standard deviation (n - 1)',
        area: 'geometric area of the drawn shape',
      },
      measurements: rows,
    },
    null,
    2,
  )}\n`;
}

function assertAllowed(deps: MeasureExportDeps, datasetId: number, format: MeasurementExportFormat): void {
  if (deps.allowedFormats && !deps.allowedFormats.includes('measurements')) {
    auditExport(deps.audit, { action: 'export.measurements', objectType: 'dataset', objectId: datasetId, outcome: 'refused', actor: deps.actor, details: { format, reason: 'policy allowedExportFormats' } });
    throw new FoveaException('FORBIDDEN', "Your IT policy does not allow exporting measurements (policy key allowedExportFormats does not list 'measurements').");
  }
}

function render(format: MeasurementExportFormat, dataset: { id: number; name: string }, rows: readonly Measurement[]): string {
  return format === 'csv' ? measurementsCsv(dataset.name, rows) : measurementsJson(dataset, rows);
}

/**
 * `fovea measurements --csv FILE`: one file the user named (absolute), no manifest beside it.
 * An existing file is a CONFLICT unless `overwrite`. Audited like the folder export.
 */
export function writeMeasurementsFile(deps: MeasureExportDeps, p: { datasetId: number; format: MeasurementExportFormat; file: string; overwrite?: boolean | undefined }): { file: string; measurements: number } {
  if (!isAbsolute(p.file)) throw new FoveaException('BAD_INPUT', `The file must be an absolute path (got "${p.file}").`);
  const name = deps.datasetName(p.datasetId);
  assertAllowed(deps, p.datasetId, p.format);
  const rows = deps.list(p.datasetId);
  try {
    writeFileSync(p.file, render(p.format, { id: p.datasetId, name }, rows), { flag: p.overwrite ? 'w' : 'wx' });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') throw new FoveaException('CONFLICT', `${p.file} already exists (overwrite to replace it).`);
    throw new FoveaException('IO', `Cannot write ${p.file}: ${(e as Error).message}`);
  }
  auditExport(deps.audit, { action: 'export.measurements', objectType: 'dataset', objectId: p.datasetId, actor: deps.actor, details: { format: p.format, measurements: rows.length, file: p.file } });
  return { file: p.file, measurements: rows.length };
}

export async function exportMeasurements(
  deps: MeasureExportDeps,
  p: { datasetId: number; format: MeasurementExportFormat; outDir: string; overwrite?: boolean | undefined },
): Promise<MeasurementExportResult> {
  const name = deps.datasetName(p.datasetId);
  assertAllowed(deps, p.datasetId, p.format);
  const rows = deps.list(p.datasetId);
  const writer = await ExportWriter.open(p.outDir, { overwrite: p.overwrite ?? false });
  const fileName = `measurements.${p.format}`;
  await writer.write(fileName, render(p.format, { id: p.datasetId, name }, rows));
  const summary = await writer.finish({ kind: 'measurements', format: p.format, datasetId: p.datasetId, measurements: rows.length });
  const file = summary.files.find((f) => f.path === fileName);
  auditExport(deps.audit, {
    action: 'export.measurements',
    objectType: 'dataset',
    objectId: p.datasetId,
    actor: deps.actor,
    details: { format: p.format, measurements: rows.length, root: summary.root, sha256: file?.sha256 ?? null },
  });
  return { datasetId: p.datasetId, format: p.format, root: summary.root, file: join(summary.root, fileName), manifest: summary.manifest, measurements: rows.length };
}

/**
 * `fovea export --dataset NAME --format coco|yolo|voc|csv|masks|nifti|dicom-seg|dicom-deid
 *  --out DIR [--split train|val|test] [--overwrite] [--with-images] [--task detect|segment]
 *  [--confirm-burned-in] [--json]`: a dataset's labels (or de-identified DICOM) as files in DIR,
 * with fovea-manifest.json (SHA-256 of every file). Exit 0 when everything was exported, 1 when
 * items were held back or the export failed, 2 for bad usage (or a format the IT policy refuses).
 */
import { resolve } from 'node:path';
import { DATASET_EXPORT_FORMATS, EXPORT_LABELS, isDatasetExportFormat, isLabelExportFormat, LABEL_EXPORT_FORMATS } from '../../contract/export-formats';
import { withItemNames } from '../../core/store/item-names';
import type { CliContext } from '../cli-context';
import { EXIT_OK, EXIT_PARTIAL, UsageError } from '../cli-context';
import { interruptible } from '../interrupt';

export const exportHelp = [
  `fovea export --dataset NAME --format ${DATASET_EXPORT_FORMATS.join('|')} --out DIR [--split S] [--labels ${EXPORT_LABELS.join('|')}] [--overwrite] [--with-images] [--task detect|segment] [--confirm-burned-in] [--option K=V] [--json]   labels as files`,
  '      --labels human       the labels (drawn, imported, accepted proposals): the default',
  '      --labels proposals   a model\'s predictions not yet reviewed (`fovea predict`), with their scores: COCO "score" (as a results file), YOLO conf at the line end',
  '      --labels all         both; COCO marks each with "source" and "proposed" (coco, yolo, voc, csv, masks)',
].join('\n');
export const exportOptions = {
  dataset: { type: 'string' },
  format: { type: 'string' },
  out: { type: 'string' },
  split: { type: 'string' },
  overwrite: { type: 'boolean', default: false },
  'with-images': { type: 'boolean', default: false },
  task: { type: 'string' },
  'confirm-burned-in': { type: 'boolean', default: false },
  /** human (default) | proposals | all: which annotations a label format takes. */
  labels: { type: 'string' },
  /** Any format option as KEY=VALUE (repeatable), e.g. --option retainLongitudinalDates=modified. */
  option: { type: 'string', multiple: true },
} as const;

/** "a, b and c" */
function orList(items: readonly string[], last: 'and' | 'or'): string {
  return items.length > 1 ? `${items.slice(0, -1).join(', ')} ${last} ${items.at(-1)}` : (items[0] ?? '');
}

/** --option KEY=VALUE pairs; 'true'/'false' become booleans. */
export function parseFormatOptions(pairs: readonly string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const p of pairs) {
    const eq = p.indexOf('=');
    if (eq <= 0) throw new UsageError(`--option needs KEY=VALUE (got "${p}")`);
    const key = p.slice(0, eq);
    if (key === '__proto__' || key === 'constructor' || key === 'prototype') throw new UsageError(`--option ${key} is not an option`);
    const value = p.slice(eq + 1);
    out[key] = value === 'true' ? true : value === 'false' ? false : value;
  }
  return out;
}

export async function runExport(ctx: CliContext, positionals: string[], values: Record<string, unknown>): Promise<number> {
  if (positionals.length > 0) throw new UsageError(`unexpected argument "${positionals[0]}"`);
  const format = values['format'] as string | undefined;
  if (!isDatasetExportFormat(format)) throw new UsageError(`--format must be one of ${DATASET_EXPORT_FORMATS.join(', ')}`);
  const name = values['dataset'] as string | undefined;
  if (!name) throw new UsageError('--dataset NAME is required');
  const out = values['out'] as string | undefined;
  if (!out) throw new UsageError('--out DIR is required (the folder to write into)');
  const split = values['split'] as string | undefined;
  if (split !== undefined && !['train', 'val', 'test'].includes(split)) throw new UsageError('--split must be train, val or test');
  const task = values['task'] as string | undefined;
  if (task !== undefined && !['detect', 'segment'].includes(task)) throw new UsageError('--task must be detect or segment');
  const core = ctx.core();
  const dataset = core.datasets.findByName(name);
  if (!dataset) throw new UsageError(`there is no dataset named "${name}" (see \`fovea datasets\`)`);

  const options = parseFormatOptions((values['option'] as string[] | undefined) ?? []);
  if (values['with-images']) {
    if (!isLabelExportFormat(format)) throw new UsageError(`--with-images applies to ${orList(LABEL_EXPORT_FORMATS, 'and')}`);
    options['withImages'] = true;
  }
  if (task) {
    if (format !== 'yolo') throw new UsageError('--task applies to --format yolo');
    options['task'] = task;
  }
  const labels = values['labels'] as string | undefined;
  if (labels !== undefined) {
    if (!(EXPORT_LABELS as readonly string[]).includes(labels)) throw new UsageError(`--labels must be ${orList(EXPORT_LABELS, 'or')}`);
    if (!isLabelExportFormat(format)) throw new UsageError(`--labels applies to ${orList(LABEL_EXPORT_FORMATS, 'and')}`);
    options['labels'] = labels;
  }
  if (values['confirm-burned-in']) {
    if (format !== 'dicom-deid') throw new UsageError('--confirm-burned-in applies to --format dicom-deid');
    options['confirmBurnedIn'] = true;
  }
  const stop = interruptible(ctx, 'Stopping the export');
  let lastShown = 0;
  try {
    const result = await core.exportDataset(
      { datasetId: dataset.id, format, outDir: resolve(out), split: split as 'train' | 'val' | 'test' | undefined, overwrite: values['overwrite'] === true, options },
      stop.signal,
      (done, total) => {
        const now = Date.now();
        if (ctx.json || !ctx.isTty || (now - lastShown < 200 && done < total)) return;
        lastShown = now;
        process.stderr.write(`\r${done} / ${total} images`);
      },
    );
    if (!ctx.json && ctx.isTty) process.stderr.write('\n');
    if (ctx.json) {
      ctx.jsonLine({
        format: result.format,
        root: result.root,
        manifest: result.manifest,
        items: result.items,
        annotations: result.annotations,
        files: result.files.length,
        bytes: result.bytes,
        warnings: result.warnings,
        heldBack: result.heldBack,
        seconds: result.seconds,
      });
    } else {
      ctx.out(`Exported ${result.annotations} annotations on ${result.items} images of "${dataset.name}" as ${result.format}: ${result.files.length} files in ${result.root}`);
      ctx.out(`Manifest (SHA-256 of every file): ${result.manifest}`);
      for (const w of result.warnings) ctx.out(`  warning: ${w}`);
      if (result.heldBack.length) {
        ctx.out(`${result.heldBack.length} item(s) held back:`);
        for (const h of withItemNames(core.db, result.heldBack.slice(0, 20))) ctx.out(`  ${h.name} (item ${h.itemId}): ${h.reason}`);
      }
    }
    return result.heldBack.length ? EXIT_PARTIAL : EXIT_OK;
  } finally {
    stop.release();
  }
}

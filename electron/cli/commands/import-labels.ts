/**
 * `fovea import-labels FILE --format coco|yolo|voc|csv|masks|nifti|dicom-seg --dataset NAME
 *  [--classes a,b,c] [--author NAME] [--json]`: labels made in other tools,
 * applied to the dataset's images. Images or classes the dataset does not
 * know are reported (exit code 1 when label entries match no image).
 */
import { userInfo } from 'node:os';
import { resolve } from 'node:path';
import { LABEL_FORMATS, type LabelFormat } from '../../core/labels';
import type { CliContext } from '../cli-context';
import { EXIT_OK, EXIT_PARTIAL, UsageError } from '../cli-context';

export const importLabelsHelp = `fovea import-labels FILE --format ${LABEL_FORMATS.join('|')} --dataset NAME [--classes a,b,...] [--json]   labels from other tools`;
export const importLabelsOptions = {
  format: { type: 'string' },
  dataset: { type: 'string' },
  classes: { type: 'string' },
  author: { type: 'string' },
} as const;

export async function runImportLabels(ctx: CliContext, positionals: string[], values: Record<string, unknown>): Promise<number> {
  const [file] = positionals;
  if (!file || positionals.length > 1) throw new UsageError('give exactly one label file or folder');
  const format = values['format'] as string | undefined;
  if (!format || !(LABEL_FORMATS as readonly string[]).includes(format)) throw new UsageError(`--format must be one of ${LABEL_FORMATS.join(', ')}`);
  const name = values['dataset'] as string | undefined;
  if (!name) throw new UsageError('--dataset NAME is required');
  const core = ctx.core();
  const dataset = core.datasets.findByName(name);
  if (!dataset) throw new UsageError(`there is no dataset named "${name}"; import its images first with \`fovea import\``);
  const classes = (values['classes'] as string | undefined)?.split(',').map((c) => c.trim());
  const author = (values['author'] as string | undefined) ?? userInfo().username;
  const report = await core.importLabels(dataset.id, resolve(file), format as LabelFormat, author, classes ? { classes } : {});
  if (ctx.json) ctx.jsonLine(report);
  else {
    ctx.out(
      `${report.annotationsCreated} annotations on ${report.matchedImages} of ${report.imagesInFile} images` +
        (report.annotationsSkipped ? ` (${report.annotationsSkipped} already present, skipped)` : '') +
        (report.splitsAssigned ? `; ${report.splitsAssigned} split assignments` : '') + '.',
    );
    if (report.classesCreated.length) ctx.out(`New classes in "${dataset.name}": ${report.classesCreated.join(', ')}`);
    if (report.unmatchedImages.length) {
      ctx.out(`${report.unmatchedImages.length} label entries name images that are not in the dataset:`);
      for (const u of report.unmatchedImages.slice(0, 20)) ctx.out(`  ${u}`);
      if (report.unmatchedImages.length > 20) ctx.out(`  ... and ${report.unmatchedImages.length - 20} more (--json lists all)`);
    }
    for (const a of report.ambiguousImages.slice(0, 20)) ctx.out(`  ambiguous: ${a}`);
    for (const w of report.warnings.slice(0, 20)) ctx.out(`  warning: ${w}`);
    if (report.warnings.length > 20) ctx.out(`  ... and ${report.warnings.length - 20} more warnings (--json lists all)`);
  }
  return report.unmatchedImages.length || report.ambiguousImages.length ? EXIT_PARTIAL : EXIT_OK;
}

/**
 * Classification labels as CSV: labels.csv, one row per image that has at least one image-level
 * class label.
 *
 *   filename,label,<class 1>,<class 2>,...
 *   a.png,cat,1,0
 *   b.png,cat;dog,1,1
 *
 * - `filename` is the image name of export-data.ts, `label` the image's classes joined by ";"
 *   (what parse-csv.ts reads, multi-label included), then one 0/1 column per class of the
 *   dataset (the multi-hot layout most training code wants).
 * - RFC 4180: a cell with a comma, quote or line break is quoted, quotes doubled; CRLF line ends;
 *   UTF-8 without a byte-order mark.
 * - Spreadsheet formula injection: a cell that would start with = or @ (or a tab / carriage
 *   return) is written with a leading apostrophe, as OWASP advises, and warned about. Names
 *   starting with + or - are left alone: they are common class names ("-1") and a spreadsheet
 *   shows them as numbers or text, it does not run them.
 * - A class name containing ";" cannot be told apart from two labels in the `label` cell: such
 *   images are warned about (the 0/1 columns still hold them exactly).
 * Images with only boxes, polygons or masks are not classification labels: counted in a warning.
 */
import { collectExportData, commonWarnings, maybeCopyImage, throwIfCancelled } from './export-data';
import type { ExportFormatHandler } from './export-types';

export const CSV_FILE = 'labels.csv';

/** One CSV cell: formula-guarded and quoted when needed. Returns whether it was guarded. */
export function csvCell(value: string): { text: string; guarded: boolean } {
  const guarded = /^[=@\t\r]/u.test(value);
  const v = guarded ? `'${value}` : value;
  return { text: /[",\r\n]/u.test(v) ? `"${v.replace(/"/gu, '""')}"` : v, guarded };
}

export const exportCsv: ExportFormatHandler = async (job) => {
  const withImages = job.options['withImages'] === true;
  const data = collectExportData(job, { withImages });
  const warnings = commonWarnings(data, 'CSV', withImages);
  let guardedCells = 0;
  let semicolonNames = 0;
  let notClassification = 0;
  let written = 0;
  let done = 0;
  const copied = new Set<number>();
  const cell = (s: string): string => {
    const c = csvCell(s);
    if (c.guarded) guardedCells++;
    return c.text;
  };
  const rows: string[] = [['filename', 'label', ...data.classes.map((c) => c.name)].map(cell).join(',')];
  const items = new Set<number>();
  for (const img of data.images) {
    throwIfCancelled(job.signal);
    const classes = [...new Set(img.annotations.filter((a) => a.geometry.kind === 'class').map((a) => a.classIndex))].sort((a, b) => a - b);
    if (classes.length === 0) {
      if (img.annotations.length > 0) notClassification++;
      job.onProgress?.(++done, data.images.length);
      continue;
    }
    const names = classes.map((i) => data.classes[i]?.name ?? String(i));
    if (names.some((n) => n.includes(';'))) semicolonNames++;
    const hot = data.classes.map((c) => (classes.includes(c.index) ? '1' : '0'));
    rows.push([cell(img.name), cell(names.join(';')), ...hot].join(','));
    written += classes.length;
    items.add(img.itemId);
    await maybeCopyImage(job, img, 'images', withImages, copied);
    job.onProgress?.(++done, data.images.length);
  }
  await job.writer.write(CSV_FILE, `${rows.join('\r\n')}\r\n`);
  if (notClassification) warnings.push(`${notClassification} image(s) with boxes, polygons or masks but no image-level class were left out (CSV holds classification labels).`);
  if (semicolonNames) warnings.push(`${semicolonNames} row(s) have a class whose name contains ";", which the label column also uses between labels; the 0/1 class columns hold them exactly.`);
  if (guardedCells) warnings.push(`${guardedCells} cell(s) started with = or @ and were prefixed with ' so spreadsheets do not run them as formulas.`);
  if (rows.length === 1) warnings.push('No image in this selection has an image-level class label: the CSV has its header only.');
  return { format: 'csv', items: items.size, annotations: written, warnings, heldBack: [] };
};

/**
 * Classification labels from a CSV file to the intermediate form.
 *
 * - A header row is required: one column naming the image (filename, file,
 *   file_name, image, image_name, image_path, path; any case) and one naming
 *   the label (label, labels, class, classes, category, target). Other
 *   columns are ignored with one warning naming them.
 * - RFC 4180 (read with csv-parse): fields may be quoted with ", quotes
 *   inside doubled (""), quoted fields may hold commas and line breaks; CRLF,
 *   LF or CR line ends; a UTF-8 byte-order mark is dropped. A header with tabs and no commas is
 *   read as tab-separated.
 * - Several labels in one cell are separated by ";" (multi-label). An empty
 *   label cell is an image with no label (a warning says so: it is kept as
 *   an image without labels, which for classification is usually a mistake).
 * - A file named on several rows gets the union of their labels (warned).
 * - Rows with too few cells, or an empty file name, are skipped with a
 *   warning; a quote that never closes is BAD_INPUT (it would swallow the
 *   rest of the file).
 */
import { parse as parseCsvSync } from 'csv-parse/sync';
import { FoveaException } from '../../contract/result';
import {
  readTextBounded,
  WarningSink,
  type ParsedImageLabels,
  type ParsedLabelFile,
  type ParseLabelOptions,
} from './label-types';

const FILE_COLUMNS = ['filename', 'file', 'file_name', 'image', 'image_name', 'image_path', 'path', 'image_id', 'img'];
const LABEL_COLUMNS = ['label', 'labels', 'class', 'classes', 'category', 'target', 'class_name'];

export async function parseCsv(path: string, _options: ParseLabelOptions = {}): Promise<ParsedLabelFile> {
  return parseCsvText(await readTextBounded(path), path);
}

/** Parses CSV text (exported for tests and for callers holding the text). */
export function parseCsvText(text: string, where = 'the CSV file'): ParsedLabelFile {
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  const firstLine = text.slice(0, Math.max(0, text.search(/\r|\n/)) || text.length);
  const sep = !firstLine.includes(',') && firstLine.includes('\t') ? '\t' : ',';
  const warn = new WarningSink();
  const rows = readCsvRows(text, sep, where);
  const header = rows.shift();
  if (!header || header.cells.every((c) => c.trim() === '')) throw new FoveaException('BAD_INPUT', `${where} is empty: it needs a header row like "filename,label".`);
  const names = header.cells.map((c) => c.trim().toLowerCase());
  const fileCol = names.findIndex((n) => FILE_COLUMNS.includes(n));
  const labelCol = names.findIndex((n) => LABEL_COLUMNS.includes(n));
  if (fileCol < 0 || labelCol < 0) {
    throw new FoveaException(
      'BAD_INPUT',
      `${where} needs a header row with a file column (filename) and a label column (label); its first row is ${JSON.stringify(header.cells.slice(0, 6).join(sep))}.`,
    );
  }
  const extra = header.cells.filter((_, i) => i !== fileCol && i !== labelCol);
  if (extra.length > 0) warn.add(`${where}: column(s) ${extra.map((c) => `"${c}"`).join(', ')} are not read.`);

  const classes: string[] = [];
  const seenClass = new Set<string>();
  const byFile = new Map<string, { entry: ParsedImageLabels; names: Set<string>; line: number }>();
  const images: ParsedImageLabels[] = [];
  const need = Math.max(fileCol, labelCol) + 1;
  for (const row of rows) {
    const at = `${where} line ${row.line}`;
    if (row.cells.length === 1 && row.cells[0]?.trim() === '') continue; // blank line
    if (row.cells.length < need) {
      warn.add(`${at}: ${row.cells.length} cell(s), the header has ${header.cells.length}; skipped.`);
      continue;
    }
    const file = (row.cells[fileCol] as string).trim();
    if (!file) {
      warn.add(`${at}: no file name; skipped.`);
      continue;
    }
    const labelNames = (row.cells[labelCol] as string)
      .split(';')
      .map((s) => s.trim())
      .filter((s) => s !== '');
    let rec = byFile.get(file);
    if (rec) {
      warn.add(`${at}: "${file}" is also on line ${rec.line}; its labels are added together.`);
    } else {
      rec = { entry: { fileName: file, match: 'path', labels: [] }, names: new Set(), line: row.line };
      byFile.set(file, rec);
      images.push(rec.entry);
    }
    if (labelNames.length === 0) warn.add(`${at}: "${file}" has an empty label; it is read as an image with no label.`);
    for (const n of labelNames) {
      if (rec.names.has(n)) continue;
      rec.names.add(n);
      rec.entry.labels.push({ className: n, geometry: { kind: 'class' } });
      if (!seenClass.has(n)) {
        seenClass.add(n);
        classes.push(n);
      }
    }
  }
  if (images.length === 0) warn.add(`${where}: no image rows under the header.`);
  return { format: 'csv', classes, images, warnings: warn.done() };
}

interface CsvRow {
  /** 1-based line where the row starts. */
  line: number;
  cells: string[];
}

/**
 * RFC 4180 rows, read by csv-parse (a kept, widely used reader) rather than by hand: quoted cells
 * with doubled quotes and line breaks, CRLF / LF / CR line ends, rows of any length (reported by
 * the callers). `line` is the 1-based line where the row starts (csv-parse counts the line where it
 * ends; the line breaks inside the row are subtracted). A quote that never closes is BAD_INPUT,
 * naming the line where its row starts. Text after a closing quote ("a"b) keeps its quotes, as
 * csv-parse's relax_quotes reads it.
 */
export function readCsvRows(text: string, sep = ',', where = 'the CSV file'): CsvRow[] {
  const breaks = (raw: string): number => (raw.match(/\r\n|\n|\r/gu) ?? []).length;
  // Lines are counted here from each row's raw text (csv-parse's own counter counts a CRLF inside
  // quotes as two lines).
  let nextLine = 1;
  const rows: CsvRow[] = [];
  const options = {
    delimiter: sep,
    bom: true,
    relax_column_count: true,
    relax_quotes: true,
    skip_empty_lines: false,
    raw: true,
    on_record: (r: unknown): null => {
      const { record, raw } = r as { record: string[]; raw: string };
      rows.push({ line: nextLine, cells: record });
      nextLine += breaks(raw);
      return null;
    },
  };
  try {
    // on_record returns null (rows are kept here), which the overloads of parse() do not describe.
    (parseCsvSync as (input: string, options: Record<string, unknown>) => unknown)(text, options);
  } catch (e) {
    const code = (e as { code?: string }).code;
    if (code === 'CSV_QUOTE_NOT_CLOSED') throw new FoveaException('BAD_INPUT', `${where}: a quoted cell opened on line ${nextLine} never closes.`);
    throw new FoveaException('BAD_INPUT', `${where} cannot be read as CSV: ${(e as Error).message}`);
  }
  return rows;
}

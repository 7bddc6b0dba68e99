/**
 * Entry point for reading label files made by other tools:
 * parseLabelFile(path, format) -> ParsedLabelFile (see label-types.ts for
 * the intermediate form and its coordinate conventions), and a best-effort
 * detectLabelFormat(path) to pre-select the format in the import dialog.
 *
 * `path` may be a file or a folder for every format; for COCO and CSV a
 * folder must hold exactly one candidate file (else BAD_INPUT asks the user
 * to pick it).
 */
import { open, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { FoveaException } from '../../contract/result';
import {
  extensionOf,
  isDirectory,
  LABEL_FORMATS,
  walkFiles,
  type LabelFormat,
  type ParsedLabelFile,
  type ParseLabelOptions,
} from './label-types';
import { parseCoco } from './parse-coco';
import { parseCsv } from './parse-csv';
import { parseDicomSeg } from './parse-dicom-seg';
import { parseMasks, readLabelImage } from './parse-masks';
import { isNiftiName, parseNifti } from './parse-nifti';
import { parseVoc } from './parse-voc';
import { parseYolo } from './parse-yolo';
import { renameParsedClasses } from './rename-classes';

export type { CocoRle, LabelFormat, LabelGeometry, LabelTarget, ParsedImageLabels, ParsedLabel, ParsedLabelFile, ParsedLabelVolume, ParseLabelOptions } from './label-types';
export { IMAGE_SUFFIXES, LABEL_FORMATS, LABEL_LIMITS, labelStem, MASK_SUFFIXES, scaleNormalizedLabels } from './label-types';
export { parseRenameList } from './rename-classes';

const CLASS_MAP_FILES = new Set(['classes.json', 'class_map.json', 'labelmap.json', 'label_map.json']);

/**
 * Reads a label file or folder in the given format, then applies `options.renameClasses` (any
 * format). Throws FoveaException (BAD_INPUT, NOT_FOUND, IO, TOO_LARGE, CANCELLED).
 */
export async function parseLabelFile(path: string, format: LabelFormat, options: ParseLabelOptions = {}): Promise<ParsedLabelFile> {
  const parsed = await parseByFormat(path, format, options);
  return options.renameClasses && Object.keys(options.renameClasses).length ? renameParsedClasses(parsed, options.renameClasses) : parsed;
}

async function parseByFormat(path: string, format: LabelFormat, options: ParseLabelOptions): Promise<ParsedLabelFile> {
  switch (format) {
    case 'coco':
      return parseCoco(await singleFile(path, ['.json'], 'COCO JSON', (n) => !CLASS_MAP_FILES.has(n.toLowerCase())), options);
    case 'csv':
      return parseCsv(await singleFile(path, ['.csv', '.tsv'], 'CSV'), options);
    case 'yolo':
      return parseYolo(path, options);
    case 'voc':
      return parseVoc(path, options);
    case 'masks':
      return parseMasks(path, options);
    case 'nifti':
      return parseNifti(path, options);
    case 'dicom-seg':
      return parseDicomSeg(path, options);
    default:
      throw new FoveaException('UNSUPPORTED', `"${String(format)}" is not a label format Fovea reads (${LABEL_FORMATS.join(', ')}).`);
  }
}

/** The path itself when it is a file, else the one file in the folder with one of `exts`. */
async function singleFile(path: string, exts: string[], what: string, keep: (name: string) => boolean = () => true): Promise<string> {
  if (!(await isDirectory(path))) return path;
  const files = (await readdir(path)).filter((n) => exts.includes(extensionOf(n)) && keep(n)).sort();
  if (files.length === 1) return join(path, files[0] as string);
  if (files.length === 0) throw new FoveaException('BAD_INPUT', `No ${what} file in ${path}.`);
  throw new FoveaException('BAD_INPUT', `${path} holds ${files.length} ${what} files (${files.slice(0, 3).join(', ')}...): choose one.`);
}

const YOLO_LINE = /^\s*\d+(\s+-?\d*\.?\d+(e-?\d+)?){4,}\s*$/i;

/**
 * Guesses the format of a label file or folder from names and a peek at
 * contents. Returns null when it cannot tell; never throws for content (only
 * NOT_FOUND / IO for a path that cannot be read).
 */
export async function detectLabelFormat(path: string): Promise<LabelFormat | null> {
  if (!(await isDirectory(path))) return detectFile(path);
  const files = (await walkFiles(path, () => true, { recursive: true })).slice(0, 50_000);
  const lower = files.map((f) => f.toLowerCase());
  const ext = (e: string): string[] => files.filter((_, i) => (lower[i] as string).endsWith(e));
  if (lower.some((f) => /(^|\/)(data|dataset)\.ya?ml$/.test(f))) return 'yolo';
  const xml = ext('.xml');
  for (const f of xml.slice(0, 5)) if ((await peek(join(path, f))).includes('<annotation')) return 'voc';
  const txt = ext('.txt').filter((f) => !/(^|\/)(classes|readme|labels|train|val|test)\.txt$/i.test(f));
  for (const f of txt.slice(0, 5)) {
    const head = await peek(join(path, f));
    if (/PASCAL Annotation|Bounding box for object/.test(head)) return 'voc';
  }
  const json = ext('.json').filter((f) => !CLASS_MAP_FILES.has(f.split('/').pop()?.toLowerCase() ?? ''));
  if (json.length === 1 && (await detectFile(join(path, json[0] as string))) === 'coco') return 'coco';
  for (const f of txt.slice(0, 5)) {
    const lines = (await peek(join(path, f))).split(/\r?\n/).filter((l) => l.trim() !== '');
    if (lines.length > 0 && lines.slice(0, 5).every((l) => YOLO_LINE.test(l))) return 'yolo';
  }
  const csv = ext('.csv');
  if (csv.length === 1) return 'csv';
  const images = files.filter((_, i) => /\.(png|gif|tiff?)$/.test(lower[i] as string));
  for (const f of images.slice(0, 3)) if ((await detectFile(join(path, f))) === 'masks') return 'masks';
  return null;
}

/** The first 64 KiB of a file as text ('' when unreadable): enough to recognise a format, whatever the file's size. */
async function peek(path: string): Promise<string> {
  let fh;
  try {
    fh = await open(path, 'r');
    const buf = Buffer.alloc(64 * 1024);
    const { bytesRead } = await fh.read(buf, 0, buf.length, 0);
    return buf.subarray(0, bytesRead).toString('utf8').replace(/^\uFEFF/, '');
  } catch {
    return '';
  } finally {
    await fh?.close();
  }
}

async function detectFile(path: string): Promise<LabelFormat | null> {
  if (isNiftiName(path)) return 'nifti';
  const e = extensionOf(path);
  if (e === '.xml') return 'voc';
  if (e === '.csv' || e === '.tsv') return 'csv';
  if (e === '.yaml' || e === '.yml') return 'yolo';
  if (e === '.json') {
    const head = await peek(path);
    return /"(images|annotations|image_id)"\s*:/.test(head) ? 'coco' : null;
  }
  if (e === '.txt') {
    const head = await peek(path);
    if (/PASCAL Annotation|Bounding box for object/.test(head)) return 'voc';
    const lines = head.split(/\r?\n/).filter((l) => l.trim() !== '');
    return lines.length > 0 && lines.slice(0, 5).every((l) => YOLO_LINE.test(l)) ? 'yolo' : null;
  }
  if (e === '.png' || e === '.gif' || e === '.tif' || e === '.tiff') {
    // A label map has one value per pixel: decoding says so, and a photo
    // fails on its first colour pixel.
    try {
      await readLabelImage(path);
      return 'masks';
    } catch {
      return null;
    }
  }
  return null;
}

/**
 * Pascal VOC annotations to the intermediate form: the XML format (LabelImg,
 * CVAT, VOC devkit) and the older "PASCAL Annotation Version 1.00" text
 * format that the Penn-Fudan pedestrian dataset ships. Each file is detected
 * by its content.
 *
 * `path` is one file or a folder; a folder is walked (bounded depth) for
 * .xml files and for .txt files that are PASCAL text annotations (other .txt
 * files, e.g. ImageSets lists, are counted in one warning).
 *
 * Coordinates: VOC stores 1-based, inclusive pixel indices (the top-left
 * pixel is (1,1); a box over pixel columns 1..10 has xmin=1, xmax=10). The
 * intermediate form is continuous with the origin at the top-left corner of
 * pixel (0,0), so x = xmin - 1, width = xmax - xmin + 1 (same for y). A box
 * then covers exactly the pixels VOC names. Boxes reaching outside the
 * declared <size> are clipped to it with a warning.
 *
 * XML is read with fast-xml-parser (parseXml in ../xml/read-xml.ts, shared
 * with the policy plist reader), accepting what annotation files use:
 * elements, attributes, text, CDATA, comments, processing instructions, the five predefined entities and numeric
 * character references. A DOCTYPE or ENTITY declaration is refused outright
 * (FoveaException 'BAD_INPUT') before the library sees the text, so external
 * entities (XXE) and entity expansion bombs cannot happen.
 */
import { basename, join } from 'node:path';
import { FoveaException } from '../../contract/result';
import { parseXml, type XmlElement } from '../xml/read-xml';
import {
  clipBox,
  extensionOf,
  fileStem,
  isDirectory,
  readTextBounded,
  splitFromPath,
  throwIfAborted,
  walkFiles,
  WarningSink,
  type LabelGeometry,
  type ParsedImageLabels,
  type ParsedLabel,
  type ParsedLabelFile,
  type ParseLabelOptions,
} from './label-types';

export async function parseVoc(path: string, options: ParseLabelOptions = {}): Promise<ParsedLabelFile> {
  const warn = new WarningSink();
  const classes: string[] = [];
  const images: ParsedImageLabels[] = [];
  const addClass = (n: string): void => {
    if (!classes.includes(n)) classes.push(n);
  };
  if (!(await isDirectory(path))) {
    const text = await readTextBounded(path);
    const img = parseVocText(text, path, warn);
    if (!img) throw new FoveaException('BAD_INPUT', `${path} is neither a Pascal VOC XML file nor a PASCAL text annotation.`);
    img.labels.forEach((l) => addClass(l.className));
    return { format: 'voc', classes, images: [img], warnings: warn.done() };
  }
  const files = await walkFiles(path, (n) => extensionOf(n) === '.xml' || extensionOf(n) === '.txt', {
    recursive: true,
    signal: options.signal,
  });
  let notAnnotations = 0;
  let done = 0;
  for (const rel of files) {
    throwIfAborted(options.signal);
    const text = await readTextBounded(join(path, rel));
    let img: ParsedImageLabels | null | undefined;
    try {
      img = parseVocText(text, rel, warn);
    } catch (e) {
      // One broken file does not stop the folder; a refused DOCTYPE is reported the same way.
      if (!(e instanceof FoveaException) || e.code !== 'BAD_INPUT') throw e;
      warn.add(`${rel}: ${e.message} Skipped.`);
      img = undefined;
    }
    options.onProgress?.(++done, files.length);
    if (!img) {
      if (img === null) notAnnotations++; // undefined: broken, already warned
      continue;
    }
    img.source = rel;
    const split = splitFromPath(rel, basename(path));
    if (split) img.split = split;
    img.labels.forEach((l) => addClass(l.className));
    images.push(img);
  }
  if (notAnnotations > 0) warn.add(`${notAnnotations} .xml/.txt file(s) in ${path} are not VOC annotations; ignored.`);
  if (images.length === 0) warn.add(`No Pascal VOC annotation files found in ${path}.`);
  return { format: 'voc', classes, images, warnings: warn.done() };
}

/**
 * One annotation file's text (XML or PASCAL text) to an image entry, or null
 * when the text is neither. `where` names the file in warnings.
 */
export function parseVocText(text: string, where: string, warn: WarningSink): ParsedImageLabels | null {
  const head = text.trimStart();
  if (head.startsWith('<')) {
    const root = parseXml(text);
    if (root.name !== 'annotation') return null;
    return vocFromXml(root, where, warn);
  }
  if (/PASCAL Annotation|Bounding box for object \d+/.test(text)) return vocFromPascalText(text, where, warn);
  return null;
}

// ---------------------------------------------------------------------------
// VOC XML

function child(el: XmlElement, name: string): XmlElement | undefined {
  return el.children.find((c) => c.name === name);
}

function childText(el: XmlElement, name: string): string | undefined {
  const c = child(el, name);
  return c ? c.text.trim() : undefined;
}

function positiveInt(s: string | undefined): number | undefined {
  if (s === undefined || !/^\s*\d+(\.0*)?\s*$/.test(s)) return undefined;
  const n = Number(s);
  return n >= 1 && n <= 1 << 20 ? n : undefined;
}

function vocFromXml(root: XmlElement, where: string, warn: WarningSink): ParsedImageLabels {
  const fileName = childText(root, 'filename') || baseOfPath(childText(root, 'path'));
  const entry: ParsedImageLabels = fileName
    ? { fileName, match: 'path', labels: [] }
    : { fileName: fileStem(where), match: 'stem', labels: [] };
  if (!fileName) warn.add(`${where}: no <filename>; matched to images by the annotation file's own name.`);
  const size = child(root, 'size');
  const width = positiveInt(size && childText(size, 'width'));
  const height = positiveInt(size && childText(size, 'height'));
  if (width !== undefined && height !== undefined) {
    entry.width = width;
    entry.height = height;
  } else if (size) {
    warn.add(`${where}: <size> is not a usable width and height; boxes are kept unclipped.`);
  }
  let k = 0;
  for (const obj of root.children) {
    if (obj.name !== 'object') continue;
    k++;
    const at = `${where} object ${k}`;
    const name = childText(obj, 'name');
    if (!name) {
      warn.add(`${at}: no <name>; skipped.`);
      continue;
    }
    const label: ParsedLabel = { className: name, geometry: { kind: 'class' } };
    const diff = childText(obj, 'difficult');
    if (diff === '1' || diff?.toLowerCase() === 'true') label.difficult = true;
    const bb = child(obj, 'bndbox');
    if (bb) {
      const nums = ['xmin', 'ymin', 'xmax', 'ymax'].map((n) => {
        const t = childText(bb, n);
        return t === undefined || t === '' ? NaN : Number(t);
      });
      const g = vocBox(nums as [number, number, number, number], entry, at, warn);
      if (!g) continue;
      label.geometry = g;
    }
    // An object without <bndbox> is an image-level label (VOC classification).
    entry.labels.push(label);
  }
  return entry;
}

function baseOfPath(p: string | undefined): string {
  if (!p) return '';
  return p.slice(Math.max(p.lastIndexOf('/'), p.lastIndexOf('\\')) + 1);
}

/** 1-based inclusive [xmin, ymin, xmax, ymax] to a continuous box, clipped to the image. */
function vocBox(
  [xmin, ymin, xmax, ymax]: [number, number, number, number],
  img: ParsedImageLabels,
  at: string,
  warn: WarningSink,
): LabelGeometry | null {
  if (![xmin, ymin, xmax, ymax].every(Number.isFinite)) {
    warn.add(`${at}: <bndbox> needs four numbers xmin, ymin, xmax, ymax; skipped.`);
    return null;
  }
  if (xmax < xmin || ymax < ymin) {
    warn.add(`${at}: <bndbox> has xmax < xmin or ymax < ymin (${xmin},${ymin})-(${xmax},${ymax}); skipped.`);
    return null;
  }
  const box = { x: xmin - 1, y: ymin - 1, width: xmax - xmin + 1, height: ymax - ymin + 1 };
  if (img.width === undefined || img.height === undefined) {
    if (Math.max(Math.abs(box.x), Math.abs(box.y), box.width, box.height) > 1 << 21) {
      warn.add(`${at}: box (${xmin},${ymin})-(${xmax},${ymax}) is far outside any image; skipped.`);
      return null;
    }
    return { kind: 'box', ...box };
  }
  const c = clipBox(box, img.width, img.height);
  if (!c) {
    warn.add(`${at}: box (${xmin},${ymin})-(${xmax},${ymax}) lies outside the ${img.width}x${img.height} image; skipped.`);
    return null;
  }
  if (c.clipped) {
    warn.add(`${at}: box (${xmin},${ymin})-(${xmax},${ymax}) reaches outside the ${img.width}x${img.height} image (VOC pixels run 1..${img.width}); clipped to it.`);
  }
  return { kind: 'box', ...c.box };
}

// ---------------------------------------------------------------------------
// PASCAL Annotation Version 1.00 text (Penn-Fudan, VOC 2005)

const NUM = '(-?\\d+(?:\\.\\d+)?)';
const RE_FILE = /^Image filename\s*:\s*"([^"]*)"/;
const RE_SIZE = /^Image size \(X x Y x C\)\s*:\s*(\d+)\s*x\s*(\d+)/;
const RE_COUNT = /^Objects with ground truth\s*:\s*(\d+)/;
const RE_BOX = new RegExp(
  `^Bounding box for object (\\d+) "([^"]*)" \\(Xmin, Ymin\\) - \\(Xmax, Ymax\\)\\s*:\\s*\\(\\s*${NUM}\\s*,\\s*${NUM}\\s*\\)\\s*-\\s*\\(\\s*${NUM}\\s*,\\s*${NUM}\\s*\\)`,
);

function vocFromPascalText(text: string, where: string, warn: WarningSink): ParsedImageLabels {
  const entry: ParsedImageLabels = { fileName: '', match: 'path', labels: [] };
  let declared: number | undefined;
  let found = 0;
  for (const raw of text.split(/\r\n|\n|\r/)) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    let m: RegExpExecArray | null;
    if ((m = RE_FILE.exec(line))) entry.fileName = m[1] ?? '';
    else if ((m = RE_SIZE.exec(line))) {
      const w = positiveInt(m[1]);
      const h = positiveInt(m[2]);
      if (w !== undefined && h !== undefined) {
        entry.width = w;
        entry.height = h;
      } else warn.add(`${where}: image size "${line}" is not usable; boxes are kept unclipped.`);
    } else if ((m = RE_COUNT.exec(line))) declared = Number(m[1]);
    else if ((m = RE_BOX.exec(line))) {
      found++;
      const name = (m[2] ?? '').trim();
      const at = `${where} object ${m[1]}`;
      if (!name) {
        warn.add(`${at}: no class name; skipped.`);
        continue;
      }
      const g = vocBox([Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6])], entry, at, warn);
      if (g) entry.labels.push({ className: name, geometry: g });
    } else if (line.startsWith('Bounding box for object')) {
      found++;
      warn.add(`${where}: cannot read "${line.slice(0, 80)}"; skipped.`);
    }
  }
  if (!entry.fileName) {
    entry.fileName = fileStem(where);
    entry.match = 'stem';
    warn.add(`${where}: no "Image filename"; matched to images by the annotation file's own name.`);
  }
  if (declared !== undefined && declared !== found) {
    warn.add(`${where}: says ${declared} objects but lists ${found} bounding boxes.`);
  }
  return entry;
}

// The reader now lives in core/xml (shared with the policy plist reader); kept exported here for callers.
export { parseXml, type XmlElement };

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
 * XML is read by a small reader that accepts only what annotation files
 * use: elements, attributes, text, CDATA, comments, processing instructions,
 * the five predefined entities and numeric character references. A DOCTYPE
 * or ENTITY declaration is refused outright (FoveaException 'BAD_INPUT'),
 * so external entities (XXE) and entity expansion bombs cannot happen.
 */
import { basename, join } from 'node:path';
import { FoveaException } from '../../contract/result';
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

// ---------------------------------------------------------------------------
// A small, safe XML reader for annotation files.

export interface XmlElement {
  name: string;
  attrs: Record<string, string>;
  children: XmlElement[];
  /** The element's own text (direct text and CDATA, entities decoded), not its children's. */
  text: string;
}

const MAX_XML_DEPTH = 256;
const NAME_RE = /[A-Za-z_:][-A-Za-z0-9_:.]*/y;
const PREDEFINED: Record<string, string> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" };

function xmlError(message: string, at: number, src: string): FoveaException {
  const line = src.slice(0, at).split('\n').length;
  return new FoveaException('BAD_INPUT', `Malformed XML (line ${line}): ${message}`);
}

function decodeEntities(s: string, at: number, src: string): string {
  if (!s.includes('&')) return s;
  return s.replace(/&([^;&\s]{0,12});?/g, (whole, ent: string) => {
    if (!whole.endsWith(';')) throw xmlError('a bare "&" (write &amp;)', at, src);
    const pre = PREDEFINED[ent];
    if (pre !== undefined) return pre;
    const num = /^#(?:x([0-9a-fA-F]{1,6})|([0-9]{1,7}))$/.exec(ent);
    if (num) {
      const code = num[1] !== undefined ? parseInt(num[1], 16) : Number(num[2]);
      if (code === 0 || code > 0x10ffff || (code >= 0xd800 && code <= 0xdfff)) throw xmlError(`character reference &${ent}; is not a character`, at, src);
      return String.fromCodePoint(code);
    }
    throw xmlError(`unknown entity &${ent}; (only &lt; &gt; &amp; &quot; &apos; and numeric references are read)`, at, src);
  });
}

/** Parses an XML document into its root element. Throws BAD_INPUT on anything malformed or unsafe. */
export function parseXml(src: string): XmlElement {
  let i = src.charCodeAt(0) === 0xfeff ? 1 : 0;
  const stack: XmlElement[] = [];
  let root: XmlElement | null = null;
  const n = src.length;
  while (i < n) {
    const lt = src.indexOf('<', i);
    const textEnd = lt < 0 ? n : lt;
    if (textEnd > i) {
      const text = src.slice(i, textEnd);
      const top = stack[stack.length - 1];
      if (top) top.text += decodeEntities(text, i, src);
      else if (text.trim() !== '') throw xmlError('text outside the root element', i, src);
    }
    if (lt < 0) break;
    i = lt;
    if (src.startsWith('<!--', i)) {
      const end = src.indexOf('-->', i + 4);
      if (end < 0) throw xmlError('an unclosed comment', i, src);
      i = end + 3;
    } else if (src.startsWith('<![CDATA[', i)) {
      const end = src.indexOf(']]>', i + 9);
      if (end < 0) throw xmlError('an unclosed CDATA section', i, src);
      const top = stack[stack.length - 1];
      if (!top) throw xmlError('CDATA outside the root element', i, src);
      top.text += src.slice(i + 9, end);
      i = end + 3;
    } else if (src.startsWith('<!', i)) {
      const decl = src.slice(i, i + 10);
      const what = /^<!DOCTYPE/i.test(decl) ? 'DOCTYPE' : /^<!ENTITY/i.test(decl) ? 'ENTITY' : 'markup';
      throw new FoveaException(
        'BAD_INPUT',
        `XML with a ${what} declaration is refused: annotation files do not need one, and it can pull in outside files or expand without bound.`,
      );
    } else if (src.startsWith('<?', i)) {
      const end = src.indexOf('?>', i + 2);
      if (end < 0) throw xmlError('an unclosed processing instruction', i, src);
      i = end + 2;
    } else if (src.startsWith('</', i)) {
      NAME_RE.lastIndex = i + 2;
      const m = NAME_RE.exec(src);
      if (!m) throw xmlError('a closing tag without a name', i, src);
      const top = stack.pop();
      if (!top || top.name !== m[0]) throw xmlError(`</${m[0]}> does not close <${top?.name ?? '(nothing)'}>`, i, src);
      let j = i + 2 + m[0].length;
      while (j < n && /\s/.test(src[j] as string)) j++;
      if (src[j] !== '>') throw xmlError(`</${m[0]} is not closed with ">"`, i, src);
      i = j + 1;
    } else {
      NAME_RE.lastIndex = i + 1;
      const m = NAME_RE.exec(src);
      if (!m) throw xmlError('a "<" that starts no tag (write &lt;)', i, src);
      const el: XmlElement = { name: m[0], attrs: {}, children: [], text: '' };
      let j = i + 1 + m[0].length;
      let selfClosing = false;
      for (;;) {
        while (j < n && /\s/.test(src[j] as string)) j++;
        if (j >= n) throw xmlError(`<${el.name}> is not closed`, i, src);
        if (src[j] === '>') {
          j++;
          break;
        }
        if (src.startsWith('/>', j)) {
          selfClosing = true;
          j += 2;
          break;
        }
        NAME_RE.lastIndex = j;
        const an = NAME_RE.exec(src);
        if (!an) throw xmlError(`a malformed attribute in <${el.name}>`, j, src);
        j += an[0].length;
        while (j < n && /\s/.test(src[j] as string)) j++;
        if (src[j] !== '=') throw xmlError(`attribute ${an[0]} has no value`, j, src);
        j++;
        while (j < n && /\s/.test(src[j] as string)) j++;
        const q = src[j];
        if (q !== '"' && q !== "'") throw xmlError(`attribute ${an[0]}'s value is not quoted`, j, src);
        const end = src.indexOf(q, j + 1);
        if (end < 0) throw xmlError(`attribute ${an[0]}'s value is not closed`, j, src);
        const val = src.slice(j + 1, end);
        if (val.includes('<')) throw xmlError(`attribute ${an[0]} contains "<"`, j, src);
        el.attrs[an[0]] = decodeEntities(val, j, src);
        j = end + 1;
      }
      const parent = stack[stack.length - 1];
      if (parent) parent.children.push(el);
      else if (root) throw xmlError('a second root element', i, src);
      else root = el;
      if (!selfClosing) {
        if (stack.length >= MAX_XML_DEPTH) throw xmlError(`elements nested deeper than ${MAX_XML_DEPTH}`, i, src);
        stack.push(el);
      }
      i = j;
    }
  }
  if (stack.length > 0) throw xmlError(`<${(stack[stack.length - 1] as XmlElement).name}> is never closed`, n, src);
  if (!root) throw new FoveaException('BAD_INPUT', 'Malformed XML: no root element.');
  return root;
}

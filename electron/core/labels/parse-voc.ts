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
 * XML is read with fast-xml-parser (parseXml below), accepting what
 * annotation files use: elements, attributes, text, CDATA, comments,
 * processing instructions, the five predefined entities and numeric
 * character references. A DOCTYPE or ENTITY declaration is refused outright
 * (FoveaException 'BAD_INPUT') before the library sees the text, so external
 * entities (XXE) and entity expansion bombs cannot happen.
 */
import { basename, join } from 'node:path';
import { XMLParser, XMLValidator } from 'fast-xml-parser';
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
// XML through fast-xml-parser (a kept, widely used reader) with the safety rules annotation files
// allow: no DOCTYPE or ENTITY declaration at all (refused before parsing, so external entities
// and expansion bombs cannot happen: the library would otherwise read internal DTD entities),
// entity references limited to the five predefined ones and numeric character references
// (decoded here; the library is told to leave entities alone), nesting bounded, and the
// library's own well-formedness check (XMLValidator) before the tree is built.

export interface XmlElement {
  name: string;
  attrs: Record<string, string>;
  children: XmlElement[];
  /** The element's own text (direct text and CDATA, entities decoded), not its children's. */
  text: string;
}

const MAX_XML_DEPTH = 256;
const PREDEFINED: Record<string, string> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" };

function xmlError(message: string, line?: number): FoveaException {
  return new FoveaException('BAD_INPUT', `Malformed XML${line !== undefined ? ` (line ${line})` : ''}: ${message}`);
}

function lineAt(src: string, at: number): number {
  return src.slice(0, at).split('\n').length;
}

/** Decodes the predefined entities and numeric references; anything else is refused. */
function decodeEntities(s: string, line?: number): string {
  if (!s.includes('&')) return s;
  return s.replace(/&([^;&\s]{0,12});?/g, (whole, ent: string) => {
    if (!whole.endsWith(';')) throw xmlError('a bare "&" (write &amp;)', line);
    const pre = PREDEFINED[ent];
    if (pre !== undefined) return pre;
    const num = /^#(?:x([0-9a-fA-F]{1,6})|([0-9]{1,7}))$/.exec(ent);
    if (num) {
      const code = num[1] !== undefined ? parseInt(num[1], 16) : Number(num[2]);
      if (code === 0 || code > 0x10ffff || (code >= 0xd800 && code <= 0xdfff)) throw xmlError(`character reference &${ent}; is not a character`, line);
      return String.fromCodePoint(code);
    }
    throw xmlError(`unknown entity &${ent}; (only &lt; &gt; &amp; &quot; &apos; and numeric references are read)`, line);
  });
}

/**
 * Refuses declarations, unclosed comments, CDATA sections and processing instructions (the
 * library's validator reports those as an unclosed element), and nesting deeper than
 * MAX_XML_DEPTH, in one linear scan before the library sees the text: its validator slows down
 * with depth (5.5 s for a million open tags measured here), so depth must be bounded first.
 * Anything else malformed is left to the validator.
 */
function checkMarkup(src: string): void {
  const decl = /<!(DOCTYPE|ENTITY)/i.exec(src);
  if (decl) {
    throw new FoveaException(
      'BAD_INPUT',
      `XML with a ${(decl[1] as string).toUpperCase()} declaration is refused: annotation files do not need one, and it can pull in outside files or expand without bound.`,
    );
  }
  let depth = 0;
  for (let at = src.indexOf('<'); at >= 0; at = src.indexOf('<', at + 1)) {
    const skipTo = (open: string, close: string, what: string): boolean => {
      if (!src.startsWith(open, at)) return false;
      const end = src.indexOf(close, at + open.length);
      if (end < 0) throw xmlError(what, lineAt(src, at));
      at = end + close.length - 1;
      return true;
    };
    if (skipTo('<!--', '-->', 'an unclosed comment') || skipTo('<![CDATA[', ']]>', 'an unclosed CDATA section') || skipTo('<?', '?>', 'an unclosed processing instruction')) continue;
    if (src.startsWith('<!', at)) throw new FoveaException('BAD_INPUT', 'XML with a markup declaration is refused: annotation files do not need one.');
    if (src[at + 1] === '/') {
      depth--;
      continue;
    }
    // The tag's end, outside quoted attribute values; a tag left open is the validator's to report.
    let q = '';
    let j = at + 1;
    for (; j < src.length; j++) {
      const c = src[j] as string;
      if (q) {
        if (c === q) q = '';
      } else if (c === '"' || c === "'") q = c;
      else if (c === '>' || c === '<') break;
    }
    if (src[j] !== '>') continue;
    if (src[j - 1] !== '/' && ++depth > MAX_XML_DEPTH) throw xmlError(`elements nested deeper than ${MAX_XML_DEPTH}`, lineAt(src, at));
    at = j;
  }
}

/** The validator's finding in this reader's words (the hostile-input tests name them). */
function validatorError(err: { code: string; msg: string; line?: number }): FoveaException {
  const { msg, line } = err;
  let m: RegExpExecArray | null;
  if ((m = /^Expected closing tag '([^']*)' .* instead of closing tag '([^']*)'/.exec(msg))) return xmlError(`</${m[2]}> does not close <${m[1]}>`, line);
  if ((m = /^Closing tag '([^']*)' doesn't have proper opening tag/.exec(msg))) return xmlError(`</${m[1]}> does not close <(nothing)>`, line);
  if ((m = /^Attribute '([^']*)' is without value/.exec(msg))) return xmlError(`attribute ${m[1]}'s value is not quoted`, line);
  if ((m = /^Unclosed tag '([^']*)'/.exec(msg))) return xmlError(`<${m[1]}> is never closed`, line);
  if (/^Multiple possible root nodes/.test(msg)) return xmlError('a second root element', line);
  if (/^Start tag expected/.test(msg)) return xmlError('no root element');
  return xmlError(msg.replace(/\.$/u, ''), line);
}

const XML_PARSER = new XMLParser({
  preserveOrder: true,
  ignoreAttributes: false,
  attributeNamePrefix: '',
  parseTagValue: false,
  parseAttributeValue: false,
  trimValues: false,
  processEntities: false,
  htmlEntities: false,
  cdataPropName: '#cdata',
  maxNestedTags: MAX_XML_DEPTH,
});

type OrderedNode = Record<string, unknown> & { ':@'?: Record<string, string> };

/** Parses an XML document into its root element. Throws BAD_INPUT on anything malformed or unsafe. */
export function parseXml(text: string): XmlElement {
  const src = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  checkMarkup(src);
  if (src.trim() === '') throw new FoveaException('BAD_INPUT', 'Malformed XML: no root element.');
  // Entity references first (outside comments and CDATA): the library's own message for a bare
  // "&" says less, and unknown entities it would let through.
  const outsideRaw = src.replace(/<!--[\s\S]*?-->|<!\[CDATA\[[\s\S]*?\]\]>/g, (m) => m.replace(/[^\n]/g, ' '));
  for (const m of outsideRaw.matchAll(/&[^<>\s]{0,13}/g)) decodeEntities(m[0].includes(';') ? m[0].slice(0, m[0].indexOf(';') + 1) : m[0], lineAt(src, m.index ?? 0));
  const valid = XMLValidator.validate(src);
  if (valid !== true) throw validatorError(valid.err);
  let nodes: OrderedNode[];
  try {
    nodes = XML_PARSER.parse(src) as OrderedNode[];
  } catch (e) {
    if (/nested tags/i.test((e as Error).message)) throw xmlError(`elements nested deeper than ${MAX_XML_DEPTH}`);
    throw xmlError((e as Error).message);
  }
  const elements = nodes.filter((n) => !Object.keys(n).some((k) => k.startsWith('?')) && !('#text' in n));
  if (elements.length === 0) throw new FoveaException('BAD_INPUT', 'Malformed XML: no root element.');
  if (elements.length > 1) throw xmlError('a second root element');
  // Iterative conversion: nesting is bounded, but no recursion is needed either.
  const convert = (node: OrderedNode): XmlElement => {
    const name = Object.keys(node).find((k) => k !== ':@') as string;
    const attrs: Record<string, string> = {};
    for (const [k, v] of Object.entries(node[':@'] ?? {})) attrs[k] = decodeEntities(String(v));
    return { name, attrs, children: [], text: '' };
  };
  const root = convert(elements[0] as OrderedNode);
  const stack: { el: XmlElement; node: OrderedNode }[] = [{ el: root, node: elements[0] as OrderedNode }];
  while (stack.length > 0) {
    const { el, node } = stack.pop() as { el: XmlElement; node: OrderedNode };
    for (const child of (node[el.name] as OrderedNode[] | undefined) ?? []) {
      if ('#text' in child) el.text += decodeEntities(String(child['#text']));
      else if ('#cdata' in child) el.text += ((child['#cdata'] as { '#text'?: unknown }[]) ?? []).map((c) => String(c['#text'] ?? '')).join('');
      else if (!Object.keys(child).some((k) => k.startsWith('?'))) {
        const c = convert(child);
        el.children.push(c);
        stack.push({ el: c, node: child });
      }
    }
  }
  return root;
}

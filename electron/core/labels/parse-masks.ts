/**
 * A folder of label-map images (pixel value = class index) to the
 * intermediate form: one 'mask' label (COCO RLE) per class present per image.
 *
 * Pixels:
 * - PNG is decoded here (decodeLabelPng), not by sharp, because a label map
 *   needs the stored sample values untouched: sharp turns palette PNGs into
 *   RGB (the palette index, which IS the class in VOC-style masks, is lost),
 *   turns 16-bit grey into 8-bit unless asked, and may colour-manage a PNG
 *   with an ICC profile. Grey 1/2/4/8/16-bit, palette (the index is the
 *   value), and RGB/RGBA/grey+alpha whose colour channels are equal (grey
 *   saved as RGB) are read; interlaced PNGs too. A PNG whose colours differ
 *   per channel is a colour-coded mask: refused for that file (warning).
 * - GIF and TIFF masks (DRIVE ships GIF) are read with sharp: 16-bit grey
 *   through its grey16 colourspace, 8-bit as its first channel when all
 *   colour channels are equal. GIF palette indices are not recoverable
 *   through sharp: the grey level is the value.
 * - JPEG and other lossy files are not masks (compression invents values).
 *
 * Class map, first found wins: options.classes; `classes.json` /
 * `class_map.json` / `labelmap.json` ({"0": "background", ...},
 * {"background": 0, ...} or ["background", ...]); `classes.txt` /
 * `labelmap.txt` (one name per line = index, or "N name" lines), looked for
 * in the folder and up to two folders above it. Without one, classes are
 * named by their value ("1", "2", ...) with a warning.
 *
 * Skipped values (no label): 0 unless the class map gives 0 a name
 * (CamVid's 0 is Sky); any value whose class has a background name
 * (background, bg, none: class-names.ts); and options.ignoreValues
 * (default: 255 when a class map is present and does not name 255, as in
 * VOC and Cityscapes train ids; nothing without a class map, so a 0/255
 * binary mask gives class "255"). Values present in the image but not in a
 * given class map are skipped with a warning naming their pixel count.
 * Every skipped non-zero value is also summed up in `unusedContent`, so an
 * import that made nothing of a mask folder can say why.
 *
 * Ignore regions: a value whose class is named void / ignore / unlabelled /
 * DontCare (class-names.ts) is KEPT, as a mask of that class: training and
 * evaluation leave its pixels out (CamVid's 11 Unlabelled; DRIVE's field of
 * view mask read with {0: void, 255: background}).
 *
 * Instance mode (options.maskMode = 'instance', e.g. Penn-Fudan PedMasks):
 * every non-zero, non-ignored value is one object of options.instanceClass.
 * With options.classes as well, values are class-coded as in Cityscapes'
 * *_instanceIds.png: a value v >= 1000 is one instance of class
 * floor(v / 1000) (named by the class map); a value below 1000 is a region of
 * class v without instance ids, imported as one mask, flagged crowd when the
 * same image has instances of that class (Cityscapes' groups of people or
 * cars), else a plain region (road, sky).
 *
 * Matching: fileName is the mask's stem with options.maskSuffix (only files
 * with it are read) or the longest of options.maskSuffixes (MASK_SUFFIXES)
 * removed, `match: 'stem'`; the importer compares it with labelStem() of the
 * image names (IMAGE_SUFFIXES strips Cityscapes' _leftImg8bit and the like).
 */
import { readdir } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { crc32, inflateSync } from 'node:zlib';
import sharp from 'sharp';
import { FoveaException } from '../../contract/result';
import {
  extensionOf,
  fileStem,
  isDirectory,
  LABEL_LIMITS,
  labelStem,
  MASK_SUFFIXES,
  readFileBounded,
  readTextBounded,
  splitFromPath,
  throwIfAborted,
  walkFiles,
  WarningSink,
  type ParsedImageLabels,
  type ParsedLabelFile,
  type ParseLabelOptions,
} from './label-types';
import { isBackgroundName } from './class-names';
import { rlesFromLabelMap } from './rle';

const MASK_EXTENSIONS = new Set(['.png', '.gif', '.tif', '.tiff']);
const CLASS_MAP_JSON = ['classes.json', 'class_map.json', 'labelmap.json', 'label_map.json'];
const CLASS_MAP_TXT = ['classes.txt', 'labelmap.txt', 'label_map.txt'];
/** Mask files hold at most this many bytes (a 16k x 16k PNG compresses far below). */
const MAX_MASK_FILE_BYTES = 512 * 1024 * 1024;
/** Decompressed PNG rows at most (an RGBA 16-bit image of maxMaskPixels would need 2 GiB). */
const MAX_PNG_RAW_BYTES = 1024 * 1024 * 1024;

/** A decoded label map: one value per pixel, row-major. */
export interface LabelImage {
  width: number;
  height: number;
  values: Uint8Array | Uint16Array;
}

export async function parseMasks(path: string, options: ParseLabelOptions = {}): Promise<ParsedLabelFile> {
  const warn = new WarningSink();
  const dir = (await isDirectory(path)) ? path : dirname(path);
  const suffix = options.maskSuffix;
  const accept = (n: string): boolean => MASK_EXTENSIONS.has(extensionOf(n)) && (!suffix || fileStem(n).endsWith(suffix));
  const files = dir === path ? await walkFiles(dir, accept, { recursive: true, signal: options.signal }) : [path.slice(dir.length + 1)];

  const instance = options.maskMode === 'instance';
  // Class-coded instances (Cityscapes instanceIds): instance mode with an explicit class map.
  const coded = instance && options.classes !== undefined;
  const classMap = options.classes ? classMapFromOption(options.classes) : await findClassMap(dir, warn);
  const ignore = new Set<number>(options.ignoreValues ?? (classMap && !classMap.has(255) && !coded ? [255] : []));
  const classValue = (v: number): number => (coded && v >= 1000 ? Math.floor(v / 1000) : v);
  const skip = (v: number): boolean => {
    if (ignore.has(v)) return true;
    if (instance && !coded) return v === 0;
    if (coded) v = classValue(v);
    const name = classMap?.get(v);
    if (name === undefined) return v === 0;
    return isBackgroundName(name);
  };

  const classes: string[] = [];
  if (instance && !coded) classes.push(options.instanceClass ?? 'object');
  else if (classMap) for (const [v, n] of [...classMap].sort((a, b) => a[0] - b[0])) if (!skip(v) && !classes.includes(n)) classes.push(n);
  const seenValuesWithoutName = new Set<number>();
  // Non-zero values read but not imported: value -> pixels and files, for `unusedContent`.
  const unused = new Map<number, { pixels: number; files: number; why: 'ignored' | 'unnamed' }>();
  const tallyUnused = (value: number, pixels: number, why: 'ignored' | 'unnamed'): void => {
    const u = unused.get(value) ?? { pixels: 0, files: 0, why };
    u.pixels += pixels;
    u.files++;
    unused.set(value, u);
  };

  const images: ParsedImageLabels[] = [];
  const byStem = new Map<string, string>();
  let done = 0;
  const readOne = async (rel: string): Promise<void> => {
    const full = dir === path ? join(dir, rel) : path;
    const stem = suffix ? fileStem(rel).slice(0, -suffix.length) : labelStem(rel, options.maskSuffixes ?? MASK_SUFFIXES);
    // One mask per image: two kinds of mask for one image sit in one folder (x_mask.png and
    // x_labelIds.png); the same stem in another folder (IM0001 of every series) is another image.
    const splitKey = `${splitFromPath(rel) ?? ''}/${dirname(rel)}/${stem}`;
    const other = byStem.get(splitKey);
    if (other) {
      warn.add(`${rel}: ${other} is already the mask for image "${stem}"; skipped (set the mask suffix to choose one kind).`);
      return;
    }
    let img: LabelImage;
    try {
      img = await readLabelImage(full, rel);
    } catch (e) {
      if (!(e instanceof FoveaException) || !['BAD_INPUT', 'UNSUPPORTED', 'TOO_LARGE'].includes(e.code)) throw e;
      warn.add(`${e.message} Skipped.`);
      return;
    }
    byStem.set(splitKey, rel);
    const entry: ParsedImageLabels = { fileName: stem, match: 'stem', source: rel, width: img.width, height: img.height, labels: [] };
    const split = splitFromPath(rel, basename(dir));
    if (split) entry.split = split;
    const runs = rlesFromLabelMap(img.values, img.height, img.width, skip);
    if (ignore.size > 0) {
      const counts = new Map<number, number>();
      for (const v of img.values) if (v !== 0 && ignore.has(v)) counts.set(v, (counts.get(v) ?? 0) + 1);
      for (const [v, n] of counts) tallyUnused(v, n, 'ignored');
      if (counts.size > 0) entry.hasUnreadContent = true;
    }
    const withInstances = new Set<number>();
    if (coded) for (const v of runs.keys()) if (v >= 1000) withInstances.add(classValue(v));
    for (const [value, { rle, pixels }] of runs) {
      let className: string;
      if (instance && !coded) className = options.instanceClass ?? 'object';
      else if (classMap) {
        const n = classMap.get(classValue(value));
        if (n === undefined) {
          warn.add(`${rel}: value ${value} (${pixels} pixels) is not in the class map; skipped.`);
          tallyUnused(value, pixels, 'unnamed');
          entry.hasUnreadContent = true;
          continue;
        }
        className = n;
      } else {
        className = String(value);
        seenValuesWithoutName.add(value);
      }
      const crowd = coded && value < 1000 && withInstances.has(value);
      entry.labels.push({ className, geometry: { kind: 'mask', rle }, ...(crowd ? { crowd: true } : {}) });
    }
    images.push(entry);
  };
  for (const rel of files) {
    throwIfAborted(options.signal);
    await readOne(rel);
    options.onProgress?.(++done, files.length);
  }
  if (!instance && !classMap) {
    for (const v of [...seenValuesWithoutName].sort((a, b) => a - b)) classes.push(String(v));
    if (seenValuesWithoutName.size > 0) warn.add('No class map found (classes.json, class_map.json or classes.txt): classes are named by their pixel value.');
  }
  if (files.length === 0) warn.add(`No mask images (.png, .gif, .tif) found in ${path}${suffix ? ` ending in "${suffix}"` : ''}.`);
  const mapText = classMap ? [...classMap].sort((a, b) => a[0] - b[0]).map(([v, n]) => `${v}=${n}`).join(', ') : '';
  const unusedContent = [...unused].sort((a, b) => a[0] - b[0]).map(([v, u]) =>
    u.why === 'unnamed'
      ? `value ${v} (${u.pixels} pixels in ${u.files} mask(s)) is not in the class map (${mapText}); its pixels were skipped.`
      : `value ${v} (${u.pixels} pixels in ${u.files} mask(s)) was read as "not labelled" (ignore values ${[...ignore].join(', ')}` +
        (classMap && options.ignoreValues === undefined ? `: the class map ${mapText} does not name it` : '') +
        ').',
  );
  return { format: 'masks', classes, images, warnings: warn.done(), ...(unusedContent.length ? { unusedContent } : {}) };
}

// ---------------------------------------------------------------------------
// Class maps

/** options.classes as value -> name. */
export function classMapFromOption(classes: string[] | Record<string, string>): Map<number, string> {
  const map = new Map<number, string>();
  if (Array.isArray(classes)) classes.forEach((n, i) => map.set(i, n));
  else {
    for (const [k, n] of Object.entries(classes)) {
      const v = Number(k);
      if (!Number.isInteger(v) || v < 0 || v > 65535) throw new FoveaException('VALIDATION', `Class value "${k}" is not a whole number 0..65535.`);
      map.set(v, n);
    }
  }
  return map;
}

/** Reads a class map's text (JSON or one-per-line). Throws BAD_INPUT when it is neither. */
export function parseClassMap(text: string, fileName: string): Map<number, string> {
  const map = new Map<number, string>();
  if (fileName.toLowerCase().endsWith('.json')) {
    let data: unknown;
    try {
      data = JSON.parse(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text);
    } catch (e) {
      throw new FoveaException('BAD_INPUT', `${fileName} is not valid JSON: ${(e as Error).message}`);
    }
    if (Array.isArray(data)) {
      data.forEach((n, i) => {
        if (typeof n === 'string') map.set(i, n);
      });
    } else if (data && typeof data === 'object') {
      for (const [k, val] of Object.entries(data as Record<string, unknown>)) {
        // {"0": "sky"} or the inverse {"sky": 0}.
        if (typeof val === 'string' && /^\d+$/.test(k)) map.set(Number(k), val);
        else if (typeof val === 'number' && Number.isInteger(val) && val >= 0) map.set(val, k);
      }
    }
    if (map.size === 0) throw new FoveaException('BAD_INPUT', `${fileName} holds no class names ({"0": "background", ...} or ["background", ...]).`);
  } else {
    const lines = text.split(/\r\n|\n|\r/).map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#'));
    const numbered = lines.length > 0 && lines.every((l) => /^\d+\s*[:,\s]\s*\S/.test(l));
    lines.forEach((l, i) => {
      if (numbered) {
        const m = /^(\d+)\s*[:,\s]\s*(.+)$/.exec(l);
        if (m) map.set(Number(m[1]), (m[2] ?? '').trim());
      } else map.set(i, l);
    });
  }
  for (const v of map.keys()) if (v > 65535) throw new FoveaException('BAD_INPUT', `${fileName}: class value ${v} is above 65535.`);
  return map;
}

/**
 * The first class map (classes.json, class_map.json, labelmap.json, label_map.json, classes.txt,
 * labelmap.txt, label_map.txt) in `dir` or up to two folders above it; an unreadable one is warned
 * and the search goes on. Shared by the mask and NIfTI readers.
 */
export async function findClassMap(dir: string, warn: WarningSink): Promise<Map<number, string> | null> {
  for (let d = dir, up = 0; up < 3; up++, d = dirname(d)) {
    let names: string[];
    try {
      names = await readdir(d);
    } catch {
      names = [];
    }
    const lower = new Map(names.map((n) => [n.toLowerCase(), n]));
    for (const want of [...CLASS_MAP_JSON, ...CLASS_MAP_TXT]) {
      const actual = lower.get(want);
      if (!actual) continue;
      try {
        return parseClassMap(await readTextBounded(join(d, actual)), actual);
      } catch (e) {
        if (!(e instanceof FoveaException)) throw e;
        warn.add(`${actual}: ${e.message}`);
      }
    }
    if (dirname(d) === d) break;
  }
  return null;
}

// ---------------------------------------------------------------------------
// Pixels

/**
 * Decodes one label-map image to its raw values; `name` is how messages
 * call it. Throws BAD_INPUT / UNSUPPORTED / TOO_LARGE.
 */
export async function readLabelImage(path: string, name: string = path): Promise<LabelImage> {
  const ext = extensionOf(path);
  if (ext === '.png') return decodeLabelPng(await readFileBounded(path, MAX_MASK_FILE_BYTES), name);
  if (ext === '.jpg' || ext === '.jpeg' || ext === '.webp') {
    throw new FoveaException('UNSUPPORTED', `${name} is a lossy image: its compression changes pixel values, so it cannot hold class indices. Save masks as PNG.`);
  }
  return readWithSharp(path, name);
}

async function readWithSharp(path: string, name: string): Promise<LabelImage> {
  let meta;
  try {
    meta = await sharp(path, { pages: 1, limitInputPixels: LABEL_LIMITS.maxMaskPixels }).metadata();
  } catch (e) {
    throw new FoveaException('BAD_INPUT', `${name} cannot be read as an image (${(e as Error).message}).`);
  }
  const { width = 0, height = 0 } = meta;
  if (width * height > LABEL_LIMITS.maxMaskPixels) throw new FoveaException('TOO_LARGE', `${name} is ${width}x${height}, larger than Fovea reads as a mask.`);
  try {
    const colour = (meta.channels ?? 1) - (meta.hasAlpha ? 1 : 0);
    if ((meta.depth === 'ushort' || meta.depth === 'short') && colour === 1) {
      const { data, info } = await sharp(path, { pages: 1 }).toColourspace('grey16').raw({ depth: 'ushort' }).toBuffer({ resolveWithObject: true });
      const all = new Uint16Array(data.buffer, data.byteOffset, data.length / 2);
      const values = new Uint16Array(info.width * info.height);
      for (let i = 0; i < values.length; i++) values[i] = all[i * info.channels] as number;
      return { width: info.width, height: info.height, values };
    }
    const { data, info } = await sharp(path, { pages: 1 }).raw().toBuffer({ resolveWithObject: true });
    const ch = info.channels;
    const colours = ch - (info.hasAlpha ? 1 : 0);
    const values = new Uint8Array(info.width * info.height);
    for (let i = 0, p = 0; i < values.length; i++, p += ch) {
      const v = data[p] as number;
      for (let c = 1; c < colours; c++) if (data[p + c] !== v) throw colourMaskError(name);
      values[i] = v;
    }
    return { width: info.width, height: info.height, values };
  } catch (e) {
    if (e instanceof FoveaException) throw e;
    throw new FoveaException('BAD_INPUT', `${name} cannot be decoded (${(e as Error).message}).`);
  }
}

function colourMaskError(path: string): FoveaException {
  return new FoveaException(
    'UNSUPPORTED',
    `${path} is a colour image: a label map needs one value per pixel (grey or palette PNG, pixel value = class index). Colour-coded masks are not read.`,
  );
}

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
const CHANNELS: Record<number, number> = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 };
const DEPTHS: Record<number, number[]> = { 0: [1, 2, 4, 8, 16], 2: [8, 16], 3: [1, 2, 4, 8], 4: [8, 16], 6: [8, 16] };
const ADAM7 = [
  [0, 0, 8, 8],
  [4, 0, 8, 8],
  [0, 4, 4, 8],
  [2, 0, 4, 4],
  [0, 2, 2, 4],
  [1, 0, 2, 2],
  [0, 1, 1, 2],
] as const;

/**
 * Decodes a PNG to its stored sample values: grey level, palette index, or
 * (for RGB/RGBA/grey+alpha) the first colour channel, refusing an image
 * whose colour channels differ. Checks chunk CRCs and bounds every
 * allocation by the declared size. `where` names the file in errors.
 */
export function decodeLabelPng(buf: Uint8Array, where = 'The PNG'): LabelImage {
  const bad = (m: string): FoveaException => new FoveaException('BAD_INPUT', `${where} is not a valid PNG: ${m}.`);
  if (buf.length < 8 || PNG_SIGNATURE.some((b, i) => buf[i] !== b)) throw bad('wrong signature');
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  let off = 8;
  let width = 0;
  let height = 0;
  let depth = 0;
  let colorType = -1;
  let interlace = 0;
  const idat: Uint8Array[] = [];
  let sawEnd = false;
  while (off + 12 <= buf.length) {
    const len = dv.getUint32(off);
    const type = String.fromCharCode(buf[off + 4] as number, buf[off + 5] as number, buf[off + 6] as number, buf[off + 7] as number);
    if (len > buf.length - off - 12) throw bad(`chunk ${type} runs past the end of the file`);
    const data = buf.subarray(off + 8, off + 8 + len);
    const critical = ((buf[off + 4] as number) & 0x20) === 0;
    if (critical && crc32(buf.subarray(off + 4, off + 8 + len)) !== dv.getUint32(off + 8 + len)) throw bad(`chunk ${type} is corrupt (CRC mismatch)`);
    off += 12 + len;
    if (type === 'IHDR') {
      if (len !== 13) throw bad('IHDR has the wrong length');
      const h = new DataView(data.buffer, data.byteOffset, 13);
      width = h.getUint32(0);
      height = h.getUint32(4);
      depth = data[8] as number;
      colorType = data[9] as number;
      interlace = data[12] as number;
      if (width === 0 || height === 0) throw bad('zero width or height');
      if (!(DEPTHS[colorType] ?? []).includes(depth)) throw bad(`colour type ${colorType} with bit depth ${depth} does not exist`);
      if (data[10] !== 0 || data[11] !== 0 || interlace > 1) throw bad('unknown compression, filter or interlace method');
      if (width * height > LABEL_LIMITS.maxMaskPixels) {
        throw new FoveaException('TOO_LARGE', `${where} is ${width}x${height}, larger than Fovea reads as a mask (${LABEL_LIMITS.maxMaskPixels} pixels).`);
      }
    } else if (type === 'IDAT') {
      if (colorType < 0) throw bad('IDAT before IHDR');
      idat.push(data);
    } else if (type === 'IEND') {
      sawEnd = true;
      break;
    }
  }
  if (colorType < 0) throw bad('no IHDR');
  if (idat.length === 0) throw bad('no image data');
  if (!sawEnd) throw bad('the file is truncated (no IEND)');

  const channels = CHANNELS[colorType] as number;
  const bitsPP = channels * depth;
  const bpp = Math.max(1, bitsPP >> 3);
  const passes = interlace
    ? ADAM7.map(([x0, y0, dx, dy]) => ({ x0, y0, dx, dy, w: Math.ceil((width - x0) / dx), h: Math.ceil((height - y0) / dy) })).filter((p) => p.w > 0 && p.h > 0)
    : [{ x0: 0, y0: 0, dx: 1, dy: 1, w: width, h: height }];
  let expected = 0;
  for (const p of passes) expected += p.h * (1 + Math.ceil((p.w * bitsPP) / 8));
  if (expected > MAX_PNG_RAW_BYTES) {
    throw new FoveaException('TOO_LARGE', `${where} would take ${Math.round(expected / 2 ** 20)} MiB to decode; masks over ${MAX_PNG_RAW_BYTES / 2 ** 20} MiB are not read.`);
  }
  let raw: Buffer;
  try {
    // Bounded output: a small file cannot inflate into gigabytes (zip bomb).
    raw = inflateSync(Buffer.concat(idat), { maxOutputLength: expected + 4096 });
  } catch (e) {
    throw bad(`its image data cannot be decompressed (${(e as Error).message})`);
  }
  if (raw.length < expected) throw bad('its image data is truncated');

  const values = depth === 16 ? new Uint16Array(width * height) : new Uint8Array(width * height);
  const colours = colorType === 4 || colorType === 6 ? channels - 1 : channels;
  let pos = 0;
  for (const p of passes) {
    const stride = Math.ceil((p.w * bitsPP) / 8);
    let prev = new Uint8Array(stride);
    let cur = new Uint8Array(stride);
    for (let y = 0; y < p.h; y++) {
      const filter = raw[pos] as number;
      const line = raw.subarray(pos + 1, pos + 1 + stride);
      pos += 1 + stride;
      unfilter(filter, line, prev, cur, bpp, where);
      const row = (p.y0 + y * p.dy) * width;
      for (let x = 0; x < p.w; x++) {
        let v: number;
        if (depth < 8) {
          const bit = x * depth;
          v = ((cur[bit >> 3] as number) >> (8 - depth - (bit & 7))) & ((1 << depth) - 1);
        } else if (depth === 8) {
          const b = x * channels;
          v = cur[b] as number;
          for (let c = 1; c < colours; c++) if (cur[b + c] !== v) throw colourMaskError(where);
        } else {
          const b = x * channels * 2;
          v = ((cur[b] as number) << 8) | (cur[b + 1] as number);
          for (let c = 1; c < colours; c++) if ((((cur[b + 2 * c] as number) << 8) | (cur[b + 2 * c + 1] as number)) !== v) throw colourMaskError(where);
        }
        values[row + p.x0 + x * p.dx] = v;
      }
      [prev, cur] = [cur, prev];
    }
  }
  return { width, height, values };
}

function unfilter(filter: number, line: Uint8Array, prev: Uint8Array, out: Uint8Array, bpp: number, where: string): void {
  const n = line.length;
  switch (filter) {
    case 0:
      out.set(line);
      return;
    case 1:
      for (let i = 0; i < n; i++) out[i] = ((line[i] as number) + (i >= bpp ? (out[i - bpp] as number) : 0)) & 0xff;
      return;
    case 2:
      for (let i = 0; i < n; i++) out[i] = ((line[i] as number) + (prev[i] as number)) & 0xff;
      return;
    case 3:
      for (let i = 0; i < n; i++) out[i] = ((line[i] as number) + (((i >= bpp ? (out[i - bpp] as number) : 0) + (prev[i] as number)) >> 1)) & 0xff;
      return;
    case 4:
      for (let i = 0; i < n; i++) {
        const a = i >= bpp ? (out[i - bpp] as number) : 0;
        const b = prev[i] as number;
        const c = i >= bpp ? (prev[i - bpp] as number) : 0;
        const pa = Math.abs(b - c);
        const pb = Math.abs(a - c);
        const pc = Math.abs(a + b - 2 * c);
        const pred = pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
        out[i] = ((line[i] as number) + pred) & 0xff;
      }
      return;
    default:
      throw new FoveaException('BAD_INPUT', `${where} is not a valid PNG: unknown row filter ${filter}.`);
  }
}

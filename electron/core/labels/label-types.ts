/**
 * The one intermediate form every label-file parser produces, and the small
 * geometry helpers that keep it valid (clipping, scaling, stem matching).
 *
 * The parsers only read and validate; the importer turns this form into
 * library rows (annotations.kind / geometry JSON in migrations.ts). So the
 * geometry here is exactly what that table stores, in IMAGE PIXELS:
 *
 * - Continuous coordinates, origin at the top-left corner of the top-left
 *   pixel; pixel (col, row) covers [col, col+1) x [row, row+1). A box that
 *   covers pixel columns 0..9 is { x: 0, width: 10 }.
 * - A mask is COCO RLE with uncompressed counts, COLUMN-MAJOR (pycocotools'
 *   order), size = [height, width], counts starting with a run of zeros.
 * - When a format stores coordinates relative to the image size (YOLO) and
 *   the size is not known to the parser, the image carries
 *   `normalized: true` and every box / polygon coordinate is in [0, 1]; the
 *   importer scales it with `scaleNormalizedLabels` once it knows the size.
 *
 * No problem in a label file is dropped silently: each skipped or altered
 * entry adds a line to `warnings`.
 *
 * This module also holds the bounded file access the parsers share (size
 * limits, folder walk, cancellation) so each parser stays about its format.
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { FoveaException } from '../../contract/result';

export const LABEL_FORMATS = ['coco', 'yolo', 'voc', 'csv', 'masks', 'nifti', 'dicom-seg'] as const;
export type LabelFormat = (typeof LABEL_FORMATS)[number];

/** COCO run-length encoding, uncompressed, column-major (as pycocotools). */
export interface CocoRle {
  /** [height, width] in pixels. */
  size: [number, number];
  /** Alternating run lengths, zeros first (the first run may be 0). Sums to height*width. */
  counts: number[];
}

export type LabelGeometry =
  | { kind: 'class' }
  | { kind: 'box'; x: number; y: number; width: number; height: number }
  | { kind: 'polygon'; points: [number, number][] }
  | { kind: 'mask'; rle: CocoRle };

export interface ParsedLabel {
  className: string;
  geometry: LabelGeometry;
  /** A model's confidence (COCO results files, YOLO `save_conf` lines), 0..1 as given. */
  score?: number;
  /**
   * COCO `iscrowd: 1`: the region covers a crowd of objects; evaluation treats
   * it as "ignore", not as one instance.
   */
  crowd?: boolean;
  /** Pascal VOC `<difficult>1</difficult>`: evaluation ignores it. */
  difficult?: boolean;
}

/** Splits a path component can name (Ultralytics, Roboflow, CamVid, DRIVE layouts). */
export type LabelSplit = 'train' | 'val' | 'test';

export interface ParsedImageLabels {
  /**
   * The image as the label file names it. With `match: 'path'` it is the
   * relative path or base name written in the file (COCO file_name, VOC
   * filename, CSV filename): match its trailing path components against
   * the image's relative path. With `match: 'stem'` it is a file name
   * without extension (YOLO .txt, mask PNGs): match it against image stems
   * after `labelStem()` strips known suffixes on both sides.
   */
  fileName: string;
  match: 'path' | 'stem';
  /** The label file this entry came from, relative to the parsed root (for messages). */
  source?: string;
  width?: number;
  height?: number;
  /** YOLO: box and polygon coordinates are fractions of the image size. */
  normalized?: boolean;
  /** A split named by the folder layout (images/train, trainannot, ...), if any. */
  split?: LabelSplit;
  /** May be empty: an image listed with no labels is a negative example, not noise. */
  labels: ParsedLabel[];
  /**
   * The source holds content for this image that was not turned into labels (mask values
   * outside the class map or read as "not labelled"): an empty `labels` then does NOT say the
   * image has no objects, and the importer does not mark it labelled.
   */
  hasUnreadContent?: boolean;
  /**
   * DICOM label objects (DICOM SEG, NIfTI volumes) name their image directly rather than by
   * file name; when set, the importer matches by it and `fileName` only names the entry in
   * messages. `frameIndex` (0-based) picks the frame of a multi-frame instance.
   */
  target?: LabelTarget;
}

/** How an entry names its image without a file name. */
export type LabelTarget =
  | { kind: 'sop'; sopInstanceUid: string; frameIndex?: number }
  | { kind: 'item'; itemId: number; frameIndex?: number };

/**
 * A label volume placed in the patient (NIfTI; SEG frames that name no source image): the
 * importer finds the DICOM frames whose pixel centres fall on its voxel centres and reads their
 * labels from it (see core/import/volume-label-matcher.ts).
 */
export interface ParsedLabelVolume {
  /** The file (and part) it came from, for messages. */
  fileName: string;
  /** [nx, ny, nz]; values are stored x fastest: index = i + nx * (j + ny * k). */
  dims: [number, number, number];
  values: Uint8Array | Uint16Array;
  /** Voxel (i, j, k) -> DICOM patient coordinates (LPS, mm), 4x4 row-major. */
  voxelToLps: number[][];
  /** Value -> class name; values not listed (and 0) are not labels. */
  classes: Map<number, string>;
  /**
   * 'sha256:' + hex SHA-256 of the SeriesInstanceUID the volume was made from, when a sidecar
   * says so (Fovea's volumes.json): limits matching to that series, since series of different
   * patients often share the same geometry.
   */
  seriesKey?: string;
}

export interface ParsedLabelFile {
  format: LabelFormat;
  /** Class names, de-duplicated, in the source's order (index order where the source has indices). */
  classes: string[];
  images: ParsedImageLabels[];
  /** Label volumes still to be matched to images by position (NIfTI). */
  volumes?: ParsedLabelVolume[];
  /** Per-entry problems: each names where it is and what was done (skipped, clipped, ...). */
  warnings: string[];
  /**
   * Label content the parser read but did not turn into labels (mask values outside the class
   * map or read as "not labelled"), summed over the source: what an import that created nothing
   * says to explain itself.
   */
  unusedContent?: string[];
}

export interface ParseLabelOptions {
  /**
   * Class names by index, overriding or standing in for the file's own
   * class list (YOLO without names, masks without a class map):
   * ['background', 'road', ...] or { 0: 'background', 255: 'vessel' }.
   */
  classes?: string[] | Record<string, string>;
  /** COCO: which geometry to read when an annotation has both (default 'segmentation'). */
  cocoGeometry?: 'segmentation' | 'box';
  /** COCO results file (a bare array of detections): the instances file it was made against. */
  cocoGroundTruth?: string;
  /** Masks: 'semantic' (value = class index, default) or 'instance' (value = instance id). */
  maskMode?: 'semantic' | 'instance';
  /** Masks in instance mode: the class of every instance (default 'object'). */
  instanceClass?: string;
  /**
   * Masks: take only files whose stem ends with this suffix (e.g.
   * '_gtFine_labelIds' in a Cityscapes folder that also holds colour and
   * instance maps). The suffix is stripped from fileName.
   */
  maskSuffix?: string;
  /** Masks: suffixes stripped from mask stems when maskSuffix is not set (default MASK_SUFFIXES). */
  maskSuffixes?: readonly string[];
  /**
   * Masks: pixel values that mean "not labelled". Default: [255] when a
   * class map is given and does not name 255 (VOC borders, Cityscapes train
   * ids); none without a class map (a 0/255 binary mask keeps its 255s).
   */
  ignoreValues?: readonly number[];
  /**
   * Renames classes after reading, for every format: source name -> library name. Several names
   * mapping to one merge those classes (Penn-Fudan's PASpersonWalking and PASpersonStanding ->
   * pedestrian); a name mapped to void / ignore / DontCare becomes a region to ignore.
   */
  renameClasses?: Record<string, string>;
  /** Called after each file of a folder; lets the UI show progress. */
  onProgress?: (done: number, total: number) => void;
  /** Cancels a long folder parse between files (FoveaException 'CANCELLED'). */
  signal?: AbortSignal;
}

/**
 * Limits that keep hostile or broken input from exhausting memory or time.
 * Beyond them a parser throws FoveaException('TOO_LARGE') or warns and skips
 * the entry, never allocates blindly.
 */
export const LABEL_LIMITS = {
  /** One JSON file (COCO). Node strings top out near 512 MiB anyway. */
  maxJsonBytes: 400 * 1024 * 1024,
  /** One text file (YOLO .txt, VOC .xml, CSV, class lists). */
  maxTextBytes: 64 * 1024 * 1024,
  /** Image side in pixels that a label file may declare. */
  maxImageSide: 1 << 20,
  /** Pixels in one mask (decode buffers are allocated from this). */
  maxMaskPixels: 1 << 28,
  /**
   * Largest |coordinate| (pixels) a polygon or box may have: far beyond any
   * image, small enough that clipping and rasterising stay exact in doubles.
   */
  maxCoordinate: 1e9,
  /** Vertices in one polygon. */
  maxPolygonPoints: 1_000_000,
  /** Files considered in one folder walk. */
  maxFiles: 2_000_000,
  /** Folder depth of a walk (symlinked folders are never followed). */
  maxDepth: 8,
  /** Warning lines kept; the rest are counted in a closing line. */
  maxWarnings: 2000,
} as const;

/** Suffixes that mask files commonly add to their image's stem. Longest first matters: see labelStem. */
export const MASK_SUFFIXES: readonly string[] = [
  '_gtFine_labelTrainIds',
  '_gtFine_labelIds',
  '_gtFine_instanceIds',
  '_gtCoarse_labelIds',
  '_labelTrainIds',
  '_labelIds',
  '_segmentation',
  '_manual1',
  '_annot',
  '_labels',
  '_label',
  '_masks',
  '_mask',
  '_seg',
  '_gt',
  '_L',
];

/** Suffixes that images in common datasets carry and their labels do not (Cityscapes, DRIVE). */
export const IMAGE_SUFFIXES: readonly string[] = ['_leftImg8bit', '_training', '_test'];

/** The file name without folders and without its last extension. */
export function fileStem(name: string): string {
  const base = name.slice(Math.max(name.lastIndexOf('/'), name.lastIndexOf('\\')) + 1);
  const dot = base.lastIndexOf('.');
  return dot > 0 ? base.slice(0, dot) : base;
}

/**
 * The key an image and its label file share: the stem with the longest
 * matching suffix removed. Importers apply it to both sides, e.g.
 * labelStem('frankfurt_000000_000294_gtFine_labelIds.png') ===
 * labelStem('frankfurt_000000_000294_leftImg8bit.png', IMAGE_SUFFIXES).
 */
export function labelStem(name: string, suffixes: readonly string[] = MASK_SUFFIXES): string {
  const stem = fileStem(name);
  let best = '';
  for (const s of suffixes) if (s.length > best.length && stem.length > s.length && stem.endsWith(s)) best = s;
  return best ? stem.slice(0, stem.length - best.length) : stem;
}

const SPLIT_RE = /^(train|training|val|valid|validation|test|testing)(annot|_?labels?|_?masks?|_?images?)?$/i;

/**
 * The split a relative path's folders name (the innermost one wins), else
 * the one the chosen root folder's own name says (CamVid's `trainannot`).
 */
export function splitFromPath(relPath: string, rootName = ''): LabelSplit | undefined {
  const parts = relPath.split(/[\\/]/).slice(0, -1).reverse();
  if (rootName) parts.push(rootName);
  for (const p of parts) {
    const m = SPLIT_RE.exec(p);
    if (!m) continue;
    const s = (m[1] ?? '').toLowerCase();
    return s.startsWith('train') ? 'train' : s.startsWith('test') ? 'test' : 'val';
  }
  return undefined;
}

/**
 * Collects warnings up to LABEL_LIMITS.maxWarnings and counts the rest, so a
 * file with a million broken rows cannot exhaust memory yet nothing is lost
 * without a word.
 */
export class WarningSink {
  readonly lines: string[] = [];
  private dropped = 0;
  constructor(private readonly max: number = LABEL_LIMITS.maxWarnings) {}
  add(message: string): void {
    if (this.lines.length < this.max) this.lines.push(message);
    else this.dropped++;
  }
  /** The lines, closed by a count of those left out. */
  done(): string[] {
    return this.dropped > 0 ? [...this.lines, `…and ${this.dropped} more warnings not listed.`] : [...this.lines];
  }
}

/** Differences up to this many pixels are floating-point noise: clipped without a warning. */
const CLIP_TOLERANCE = 0.01;

/**
 * Clips a box to [0,width]x[0,height]. Returns null when nothing of it is
 * left inside, and says whether it moved by more than float noise.
 */
export function clipBox(
  box: { x: number; y: number; width: number; height: number },
  width: number,
  height: number,
): { box: { x: number; y: number; width: number; height: number }; clipped: boolean } | null {
  const x0 = Math.max(0, box.x);
  const y0 = Math.max(0, box.y);
  const x1 = Math.min(width, box.x + box.width);
  const y1 = Math.min(height, box.y + box.height);
  if (!(x1 > x0 && y1 > y0)) return null;
  const clipped =
    x0 - box.x > CLIP_TOLERANCE ||
    y0 - box.y > CLIP_TOLERANCE ||
    box.x + box.width - x1 > CLIP_TOLERANCE ||
    box.y + box.height - y1 > CLIP_TOLERANCE;
  return { box: { x: x0, y: y0, width: x1 - x0, height: y1 - y0 }, clipped };
}

/**
 * Clips a polygon to the rectangle [x0,x1]x[y0,y1] (Sutherland-Hodgman: exact
 * for a convex clip region). Returns fewer than 3 points when nothing is left.
 */
export function clipPolygonToRect(
  points: readonly (readonly [number, number])[],
  x0: number,
  y0: number,
  x1: number,
  y1: number,
): [number, number][] {
  type P = [number, number];
  // Interpolate with a parameter t in [0,1] so that large coordinates do not overflow.
  const atX = (a: P, b: P, x: number): P => [x, a[1] + (b[1] - a[1]) * ((x - a[0]) / (b[0] - a[0]))];
  const atY = (a: P, b: P, y: number): P => [a[0] + (b[0] - a[0]) * ((y - a[1]) / (b[1] - a[1])), y];
  const edges: { inside(p: P): boolean; cut(a: P, b: P): P }[] = [
    { inside: (p) => p[0] >= x0, cut: (a, b) => atX(a, b, x0) },
    { inside: (p) => p[0] <= x1, cut: (a, b) => atX(a, b, x1) },
    { inside: (p) => p[1] >= y0, cut: (a, b) => atY(a, b, y0) },
    { inside: (p) => p[1] <= y1, cut: (a, b) => atY(a, b, y1) },
  ];
  let out: P[] = points.map((p) => [p[0], p[1]]);
  for (const e of edges) {
    if (out.length === 0) break;
    const input = out;
    out = [];
    let prev = input[input.length - 1] as P;
    for (const cur of input) {
      const cin = e.inside(cur);
      const pin = e.inside(prev);
      if (cin) {
        if (!pin) out.push(e.cut(prev, cur));
        out.push(cur);
      } else if (pin) out.push(e.cut(prev, cur));
      prev = cur;
    }
  }
  return out;
}

/** True when every point lies in [0,width]x[0,height] (within float noise). */
export function polygonInside(points: readonly (readonly [number, number])[], width: number, height: number): boolean {
  const t = CLIP_TOLERANCE;
  return points.every((p) => p[0] >= -t && p[1] >= -t && p[0] <= width + t && p[1] <= height + t);
}

/**
 * Turns one image's normalized labels (YOLO) into image pixels once the
 * importer knows the image's size. Masks and class labels pass through.
 */
export function scaleNormalizedLabels(labels: readonly ParsedLabel[], width: number, height: number): ParsedLabel[] {
  return labels.map((l) => {
    const g = l.geometry;
    if (g.kind === 'box') {
      return { ...l, geometry: { kind: 'box', x: g.x * width, y: g.y * height, width: g.width * width, height: g.height * height } };
    }
    if (g.kind === 'polygon') {
      return { ...l, geometry: { kind: 'polygon', points: g.points.map(([x, y]) => [x * width, y * height] as [number, number]) } };
    }
    return l;
  });
}

// ---------------------------------------------------------------------------
// File access shared by the parsers: bounded reads and a bounded folder walk.

/** Ends a folder parse between files when the caller cancelled it. */
export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new FoveaException('CANCELLED', 'Reading the labels was cancelled.');
}

/** Turns a file-system error into the error the UI shows. */
export function ioError(path: string, e: unknown): FoveaException {
  if (e instanceof FoveaException) return e;
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'ENOENT') return new FoveaException('NOT_FOUND', `${path} does not exist.`);
  if (code === 'EACCES' || code === 'EPERM') return new FoveaException('IO', `${path} cannot be read: permission denied.`);
  return new FoveaException('IO', `${path} cannot be read (${code ?? String(e)}).`);
}

/** Reads a file whole, refusing files over `maxBytes` before reading them. */
export async function readFileBounded(path: string, maxBytes: number): Promise<Buffer> {
  try {
    const st = await stat(path);
    if (!st.isFile()) throw new FoveaException('BAD_INPUT', `${path} is not a file.`);
    if (st.size > maxBytes) {
      throw new FoveaException('TOO_LARGE', `${basename(path)} is ${formatBytes(st.size)}; label files over ${formatBytes(maxBytes)} are not read.`);
    }
    return await readFile(path);
  } catch (e) {
    throw ioError(path, e);
  }
}

/**
 * Reads a text file as UTF-8 without its byte-order mark. UTF-16 files (some
 * Windows tools write them) are decoded by their BOM.
 */
export async function readTextBounded(path: string, maxBytes: number = LABEL_LIMITS.maxTextBytes): Promise<string> {
  const buf = await readFileBounded(path, maxBytes);
  if (buf[0] === 0xff && buf[1] === 0xfe) return new TextDecoder('utf-16le').decode(buf.subarray(2));
  if (buf[0] === 0xfe && buf[1] === 0xff) return new TextDecoder('utf-16be').decode(buf.subarray(2));
  const text = buf.toString('utf8');
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}

function formatBytes(n: number): string {
  return n >= 1024 * 1024 ? `${(n / (1024 * 1024)).toFixed(0)} MiB` : `${n} bytes`;
}

export async function isDirectory(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isDirectory();
  } catch (e) {
    throw ioError(path, e);
  }
}

/**
 * Files under `root` whose names pass `accept`, as paths relative to root
 * with '/' separators, sorted. Depth-limited; symlinked folders are not
 * followed (no loops); hidden files and folders are skipped.
 */
export async function walkFiles(
  root: string,
  accept: (name: string) => boolean,
  opts: { recursive?: boolean; skipDir?: (name: string) => boolean; signal?: AbortSignal } = {},
): Promise<string[]> {
  const found: string[] = [];
  const visit = async (rel: string, depth: number): Promise<void> => {
    throwIfAborted(opts.signal);
    let entries;
    try {
      entries = await readdir(rel ? join(root, rel) : root, { withFileTypes: true });
    } catch (e) {
      throw ioError(rel ? join(root, rel) : root, e);
    }
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const ent of entries) {
      if (ent.name.startsWith('.')) continue;
      const childRel = rel ? `${rel}/${ent.name}` : ent.name;
      if (ent.isFile() && accept(ent.name)) {
        if (found.length >= LABEL_LIMITS.maxFiles) {
          throw new FoveaException('TOO_LARGE', `${root} holds more than ${LABEL_LIMITS.maxFiles} label files; import it in parts.`);
        }
        found.push(childRel);
      } else if (ent.isDirectory() && opts.recursive && depth < LABEL_LIMITS.maxDepth && !opts.skipDir?.(ent.name)) {
        await visit(childRel, depth + 1);
      }
    }
  };
  await visit('', 0);
  return found;
}

/** Lower-case extension with the dot ('.png'), or ''. */
export function extensionOf(name: string): string {
  const base = basename(name);
  const dot = base.lastIndexOf('.');
  return dot > 0 ? base.slice(dot).toLowerCase() : '';
}

/** A short, printable form of a value for a warning line (never a whole polygon). */
export function preview(value: unknown): string {
  let s: string;
  try {
    s = typeof value === 'string' ? JSON.stringify(value) : (JSON.stringify(value) ?? String(value));
  } catch {
    s = String(value);
  }
  return s.length > 80 ? `${s.slice(0, 77)}...` : s;
}

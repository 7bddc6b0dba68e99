/**
 * YOLO label .txt files (one per image) to the intermediate form.
 *
 * Lines, all coordinates normalized to [0, 1] of the image size:
 *   `class cx cy w h`            detection box (Darknet / Ultralytics)
 *   `class cx cy w h conf`       the same with a confidence (save_conf)
 *   `class x1 y1 x2 y2 ... xn yn [conf]`  segmentation polygon (n ≥ 3; an
 *                                OBB line, 4 corners, reads as a polygon too)
 * An empty file is an image with no objects (a negative), kept as such.
 *
 * Layouts: `path` may be one .txt file, a folder of .txt files, or a dataset
 * root; every .txt under a folder named `labels` (Ultralytics
 * images/train + labels/train, Roboflow train/labels) is read, or, when there
 * is no such folder, the .txt files in `path` itself.
 *
 * Class names, first found wins: options.classes; `data.yaml` /
 * `dataset.yaml` / any single .yaml in the root with `names:` (a list, or a
 * `{0: a, 1: b}` / block map; read with the `yaml` package); `classes.txt` /
 * `obj.names` (one per line).
 * Without names, each index in use is a class named by its number ("0",
 * "3", ...), with a warning.
 *
 * Images are matched by stem (`match: 'stem'`, fileName = the .txt stem); the
 * coordinates stay normalized (`normalized: true`) until the importer knows
 * each image's size and calls scaleNormalizedLabels.
 */
import { readdir } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { FoveaException } from '../../contract/result';
import {
  extensionOf,
  fileStem,
  isDirectory,
  readTextBounded,
  splitFromPath,
  throwIfAborted,
  walkFiles,
  WarningSink,
  type ParsedImageLabels,
  type ParsedLabel,
  type ParsedLabelFile,
  type ParseLabelOptions,
} from './label-types';

/** Files in a YOLO folder that are not per-image labels. */
const NOT_LABEL_FILES = new Set(['classes.txt', 'obj.names', 'readme.txt', 'notes.txt', 'train.txt', 'val.txt', 'test.txt', 'labels.txt']);
const YAML_NAMES = ['data.yaml', 'data.yml', 'dataset.yaml', 'dataset.yml'];
const CLASS_LIST_NAMES = ['classes.txt', 'obj.names', 'classes.names', 'labels.txt'];

/** Coordinates this far outside [0,1] are float noise and clipped quietly. */
const NORM_TOLERANCE = 1e-4;

export async function parseYolo(path: string, options: ParseLabelOptions = {}): Promise<ParsedLabelFile> {
  const warn = new WarningSink();
  let root: string;
  let files: string[];
  if (await isDirectory(path)) {
    root = path;
    const isLabel = (n: string): boolean => extensionOf(n) === '.txt' && !NOT_LABEL_FILES.has(n.toLowerCase());
    const all = await walkFiles(root, isLabel, { recursive: true, signal: options.signal, skipDir: (d) => d === 'node_modules' });
    const underLabels = all.filter((f) => f.split('/').slice(0, -1).some((d) => d.toLowerCase() === 'labels'));
    if (basename(root).toLowerCase() === 'labels') files = all; // the labels folder itself was chosen
    else files = underLabels.length > 0 ? underLabels : all.filter((f) => !f.includes('/'));
  } else {
    root = dirname(path);
    files = [basename(path)];
  }

  const names = await findClassNames(root, options, warn);
  // Without names, a class is its index as a string; only indices in use
  // become classes (a stray "999999" must not create a million names).
  const usedIndices = new Set<number>();
  const className = (idx: number): string | null => {
    if (names) return names[idx] ?? null;
    usedIndices.add(idx);
    return String(idx);
  };

  const images: ParsedImageLabels[] = [];
  let done = 0;
  for (const rel of files) {
    throwIfAborted(options.signal);
    const text = await readTextBounded(join(root, rel));
    const labels = parseYoloText(text, rel, className, warn);
    const entry: ParsedImageLabels = { fileName: fileStem(rel), match: 'stem', source: rel, normalized: true, labels };
    const split = splitFromPath(rel, basename(root));
    if (split) entry.split = split;
    images.push(entry);
    options.onProgress?.(++done, files.length);
  }
  if (files.length === 0) warn.add(`No YOLO label files (.txt) found in ${path}.`);
  const classes = names ? [...names] : [...usedIndices].sort((a, b) => a - b).map(String);
  if (!names && usedIndices.size > 0) {
    warn.add('No class names found (data.yaml, classes.txt or obj.names): classes are named by their index.');
  }
  return { format: 'yolo', classes, images, warnings: warn.done() };
}

/** Parses one YOLO .txt file's text. Exported for tests. */
export function parseYoloText(
  text: string,
  where: string,
  className: (index: number) => string | null,
  warn: WarningSink,
): ParsedLabel[] {
  const labels: ParsedLabel[] = [];
  const lines = text.split(/\r\n|\n|\r/);
  for (let li = 0; li < lines.length; li++) {
    const line = (lines[li] as string).trim();
    if (line === '' || line.startsWith('#')) continue;
    const at = `${where} line ${li + 1}`;
    const tok = line.split(/\s+/);
    const nums = tok.map(Number);
    if (nums.some((n) => !Number.isFinite(n))) {
      warn.add(`${at}: "${line.slice(0, 60)}" holds something that is not a number; skipped.`);
      continue;
    }
    const cls = nums[0] as number;
    if (!Number.isInteger(cls) || cls < 0) {
      warn.add(`${at}: class ${tok[0]} is not a whole number ≥ 0; skipped.`);
      continue;
    }
    const name = className(cls);
    if (name === null) {
      warn.add(`${at}: class ${cls} is not in the class list; skipped.`);
      continue;
    }
    const coords = nums.slice(1);
    let score: number | undefined;
    let label: ParsedLabel | null;
    if (coords.length === 4 || coords.length === 5) {
      if (coords.length === 5) score = coords[4];
      label = yoloBox(name, coords as [number, number, number, number], at, warn);
    } else if (coords.length >= 6) {
      let pts = coords;
      if (pts.length % 2 === 1) {
        score = pts[pts.length - 1];
        pts = pts.slice(0, -1);
      }
      label = yoloPolygon(name, pts, at, warn);
    } else {
      warn.add(`${at}: ${coords.length} numbers after the class (a box needs 4, a polygon at least 6); skipped.`);
      continue;
    }
    if (!label) continue;
    if (score !== undefined) label.score = score;
    labels.push(label);
  }
  return labels;
}

function clamp01(v: number): number {
  return v < 0 ? 0 : v > 1 ? 1 : v;
}

function yoloBox(name: string, [cx, cy, w, h]: [number, number, number, number], at: string, warn: WarningSink): ParsedLabel | null {
  if (!(w > 0 && h > 0)) {
    warn.add(`${at}: box width and height must be > 0 (got ${w} x ${h}); skipped.`);
    return null;
  }
  const x0 = cx - w / 2;
  const y0 = cy - h / 2;
  const x1 = cx + w / 2;
  const y1 = cy + h / 2;
  const t = NORM_TOLERANCE;
  if (x0 >= -t && y0 >= -t && x1 <= 1 + t && y1 <= 1 + t) {
    // Inside (up to float noise): keep the numbers as written, no re-rounding.
    return { className: name, geometry: { kind: 'box', x: Math.max(0, x0), y: Math.max(0, y0), width: w, height: h } };
  }
  if (x1 <= 0 || y1 <= 0 || x0 >= 1 || y0 >= 1) {
    warn.add(`${at}: box lies outside the image (coordinates are fractions of the image size, 0..1); skipped.`);
    return null;
  }
  warn.add(`${at}: box reaches outside the image (coordinates must lie in 0..1); clipped to it.`);
  const cx0 = clamp01(x0);
  const cy0 = clamp01(y0);
  return { className: name, geometry: { kind: 'box', x: cx0, y: cy0, width: clamp01(x1) - cx0, height: clamp01(y1) - cy0 } };
}

function yoloPolygon(name: string, coords: number[], at: string, warn: WarningSink): ParsedLabel | null {
  const points: [number, number][] = [];
  let outside = false;
  for (let j = 0; j < coords.length; j += 2) {
    const x = coords[j] as number;
    const y = coords[j + 1] as number;
    if (x < -NORM_TOLERANCE || y < -NORM_TOLERANCE || x > 1 + NORM_TOLERANCE || y > 1 + NORM_TOLERANCE) outside = true;
    points.push([clamp01(x), clamp01(y)]);
  }
  // Clamping each point is a clip for points just outside; far-outside
  // points mean the line is not normalized at all.
  if (outside) {
    if (coords.some((c) => c < -1 || c > 2)) {
      warn.add(`${at}: polygon coordinates are not fractions of the image size (0..1); skipped.`);
      return null;
    }
    warn.add(`${at}: polygon reaches outside the image; its points were moved onto the border.`);
  }
  return { className: name, geometry: { kind: 'polygon', points } };
}

/** Class names from options, a YAML file, or a names list, or null when none is found. */
async function findClassNames(root: string, options: ParseLabelOptions, warn: WarningSink): Promise<string[] | null> {
  if (options.classes) return classListFromOption(options.classes);
  // Look in the root and, for a labels/ folder given directly, its parent.
  for (const dir of [root, dirname(root), dirname(dirname(root))]) {
    const entries = await listNames(dir);
    const yamls = YAML_NAMES.filter((n) => entries.has(n));
    if (yamls.length === 0) {
      const others = [...entries.keys()].filter((n) => /\.ya?ml$/i.test(n));
      if (others.length === 1) yamls.push(others[0] as string);
    }
    for (const y of yamls) {
      const file = join(dir, entries.get(y) ?? y);
      const names = yamlNames(await readTextBounded(file));
      if (names) return names;
      warn.add(`${y}: no "names:" list found in it.`);
    }
    for (const n of CLASS_LIST_NAMES) {
      const actual = entries.get(n);
      if (!actual) continue;
      const text = await readTextBounded(join(dir, actual));
      return text
        .split(/\r\n|\n|\r/)
        .map((l) => l.trim())
        .filter((l) => l !== '');
    }
    if (dir === dirname(dir)) break;
  }
  return null;
}

/** File names in a folder by lower-case name (empty when it cannot be read). */
async function listNames(dir: string): Promise<Map<string, string>> {
  try {
    const names = await readdir(dir);
    return new Map(names.map((n) => [n.toLowerCase(), n]));
  } catch {
    return new Map();
  }
}

/** options.classes as a dense list (a map's gaps become their index as a name). */
export function classListFromOption(classes: string[] | Record<string, string>): string[] {
  if (Array.isArray(classes)) return [...classes];
  const out: string[] = [];
  const entries = Object.entries(classes).map(([k, v]) => [Number(k), v] as const);
  for (const [k] of entries) {
    if (!Number.isInteger(k) || k < 0 || k > 65535) throw new FoveaException('VALIDATION', `Class index "${k}" is not a whole number 0..65535.`);
  }
  for (const [k, name] of entries) {
    while (out.length < k) out.push(String(out.length));
    out[k] = name;
  }
  return out;
}

// ---------------------------------------------------------------------------
// data.yaml is read with the `yaml` package (YAML 1.2, the library most JS tools use) rather than
// a hand-written subset: flow and block lists and maps, quoting, comments and anchors all work as
// Ultralytics' own PyYAML reads them. Alias expansion is bounded (maxAliasCount), so a "billion
// laughs" file is an error, not a hang; a file that is not YAML has no names.

/** Class names from a data.yaml's top-level `names:` (a list, or an index -> name map), or null. */
export function yamlNames(text: string): string[] | null {
  let doc: unknown;
  try {
    doc = parseYaml(text, { maxAliasCount: 100, uniqueKeys: false });
  } catch {
    return null;
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) return null;
  const names = (doc as Record<string, unknown>)['names'];
  const asName = (v: unknown): string => (typeof v === 'string' ? v : v === null || v === undefined ? '' : String(v));
  if (Array.isArray(names)) return names.length > 0 ? names.map(asName) : null;
  if (typeof names === 'object' && names !== null) {
    const map = new Map<number, string>();
    for (const [k, v] of Object.entries(names as Record<string, unknown>)) map.set(Number(k), asName(v));
    return map.size > 0 ? denseFromMap(map) : null;
  }
  return null;
}

function denseFromMap(map: Map<number, string>): string[] | null {
  const keys = [...map.keys()];
  if (keys.some((k) => !Number.isInteger(k) || k < 0 || k > 65535)) return null;
  const out: string[] = [];
  for (const k of keys.sort((a, b) => a - b)) {
    while (out.length < k) out.push(String(out.length));
    out[k] = map.get(k) as string;
  }
  return out;
}

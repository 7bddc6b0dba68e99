/**
 * Scoring predictions made by another tool against the library's labels,
 * in ORIGINAL IMAGE PIXELS (the labels as stored: boxes, polygons and masks
 * in image coordinates), with the metrics of this folder.
 *
 * Formats (detectPredictionFormat picks by the path: a folder -> masks,
 * .json -> coco, .csv / .tsv -> csv):
 *
 * - CSV, classification. A header row; one column names the image
 *   (filename, file, file_name, image, image_name, image_path, path,
 *   image_id, img) and either
 *   - one column per class of the dataset, headed by the class name (exact,
 *     else case-insensitive), holding that class's probability (softmax for
 *     a single-label dataset, sigmoid for a multi-label one), or
 *   - a `label` column (label, labels, class, class_name, prediction,
 *     predicted) naming the predicted class (several separated by ";" in a
 *     multi-label dataset), scored as a one-hot probability row. ROC / PR
 *     curves of one-hot scores have a single operating point.
 *   Probability columns win when every class has one. An optional `frame`
 *   column picks the frame of a multi-frame DICOM image (default 0).
 * - COCO results JSON, detection: a list of {image_id, category_id, bbox:
 *   [x, y, width, height], score} (the format pycocotools' loadRes reads),
 *   or an instances-style object {images, categories, annotations} whose
 *   annotations carry scores. How image_id maps to a library image:
 *   1. an entry's own "file_name" (an extension many exporters add) wins;
 *   2. else the image's file_name in the instances object, or in the COCO
 *      ground-truth file given as `cocoGroundTruth` (the file the ids were
 *      made against: the usual case for a bare results list);
 *   3. else a string image_id is read as the file name.
 *   Categories map the same way: an entry's "category_name", else the name
 *   of category_id in the categories list, else a string category_id.
 *   A numeric id that nothing names is refused (with the fix in the message)
 *   rather than guessed.
 *   Ground truth and scores: score-images.ts (boxes in image pixels, COCO
 *   areas, crowd and void regions and VOC "difficult" boxes ignored; the
 *   12-number COCO summary and Pascal VOC AP). A detection's frame is its
 *   "frame_index" (default 0).
 * - A folder of PNG masks, segmentation: one class-index PNG per image,
 *   matched by file stem (known mask suffixes such as _mask stripped, as the
 *   label importer does). Pixel value -> class: a classes.json /
 *   class_map.json / classes.txt in the folder (value -> name), else the
 *   dataset's segmentation class order (0 = background, then the dataset's
 *   classes). Values naming no class are "no class" (see
 *   segmentation-metrics). The PNG must have the image's size. Frame 0 of a
 *   multi-frame image.
 *
 * Matching a name to a library image is the label importer's: the whole
 * relative path, else the base name, else (masks) the stem; a name that
 * matches two images is skipped (ambiguous) and reported.
 *
 * Which images are scored (in (item, frame) order; with `split`, only that
 * split's): score-images.ts' IMAGE_RULE (the images with ground truth for the
 * task by the training rules, and labelled-empty detection negatives) and
 * - classification / segmentation: only those the predictions cover (a row,
 *   a mask file). An image with ground truth but no prediction cannot be
 *   scored; it is counted in `source.missingPredictions`.
 * - detection: ALL of them, as COCOeval evaluates every ground-truth image:
 *   a results file simply has no entry for an image where nothing was
 *   detected, so its boxes are misses. `source.missingPredictions` counts
 *   those images, and a warning suggests `split` when the file seems to
 *   cover only part of the dataset.
 * For segmentation, an image the predictions cover that has no mask but is
 * marked labelled (done, needs review, approved) is a negative image (all
 * background) and is scored; other unlabelled images are left out (a warning
 * says how many), for detection too.
 */
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { SplitName, TaskKind } from '../../contract/ml';
import { FoveaException } from '../../contract/result';
import type { CoreParts } from '../core-parts';
import { IMAGE_SUFFIXES, labelStem, LABEL_LIMITS, MASK_SUFFIXES } from '../labels';
import { extensionOf, fileStem, isDirectory, readFileBounded, readTextBounded, walkFiles } from '../labels/label-types';
import { readCsvRows } from '../labels/parse-csv';
import { isBackgroundName, LABELLED_STATUSES } from '../labels/class-names';
import { parseClassMap, readLabelImage } from '../labels/parse-masks';
import { listItemRefs } from '../store/items-repo';
import { collectSamples, type Sample } from '../training/training-samples';
import { classificationMetrics, multiLabelClassificationMetrics, type ClassificationMetrics } from './classification-metrics';
import { groupedViews, type GroupableImage } from './grouped-classification';
import type { DetectedBox, DetectionMetrics } from './detection-metrics';
import { IMAGE_RULE, scoreDetections, SegmentationScorer } from './score-images';
import type { SegmentationMetrics } from './segmentation-metrics';

export type PredictionFormat = 'csv' | 'coco' | 'masks';

export interface EvaluatePredictionsOptions {
  /** Default: from the path (see detectPredictionFormat). */
  format?: PredictionFormat;
  /** Only images of this split (default: every image). */
  split?: SplitName;
  /** COCO: the instances file a bare results list refers to by id. */
  cocoGroundTruth?: string;
}

export interface PredictionsSource {
  kind: 'predictions';
  datasetId: number;
  datasetName: string;
  path: string;
  format: PredictionFormat;
  split: SplitName | 'all';
  coordinates: 'image';
  /** Which images were scored, in words. */
  imageRule: string;
  /** Detection: scored images that are labelled but hold no box (negatives). */
  labelledEmpty?: number;
  classNames: string[];
  evaluatedAt: string;
  /** Prediction entries (rows, images, files) matched to a library image. */
  matched: number;
  /** Names in the predictions that match no image of the dataset (first 50). */
  unmatched: string[];
  unmatchedCount: number;
  /** Names that match several images (skipped). */
  ambiguous: string[];
  /**
   * Images with ground truth (in the split) that the predictions do not cover:
   * not scored (classification, segmentation), or scored with no detection
   * (detection, as COCOeval).
   */
  missingPredictions: number;
  warnings: string[];
}

export type PredictionsEvaluation =
  | (ClassificationMetrics & { source: PredictionsSource })
  | (DetectionMetrics & { source: PredictionsSource })
  | (SegmentationMetrics & { source: PredictionsSource });

export type PredictionsCore = Pick<CoreParts, 'db' | 'datasets' | 'splits'>;

/** masks for a folder, coco for .json, csv for .csv / .tsv; null otherwise. */
export async function detectPredictionFormat(path: string): Promise<PredictionFormat | null> {
  if (await isDirectory(path)) return 'masks';
  const ext = extensionOf(path);
  if (ext === '.json') return 'coco';
  if (ext === '.csv' || ext === '.tsv' || ext === '.txt') return 'csv';
  return null;
}

const TASK_OF: Record<PredictionFormat, TaskKind> = { csv: 'classification', coco: 'detection', masks: 'segmentation' };

// ---------------------------------------------------------------------------
// Names -> library images

interface ItemRef {
  id: number;
  sourceName: string;
  rows: number;
  columns: number;
  status: string;
  seriesId: number | null;
}

function lower(s: string): string {
  return s.replace(/\\/g, '/').toLowerCase();
}

function baseName(p: string): string {
  const n = lower(p);
  return n.slice(n.lastIndexOf('/') + 1);
}

/** The label importer's matching rules (path, trailing path components, base name, stem). */
class NameIndex {
  readonly #byPath = new Map<string, ItemRef[]>();
  readonly #byBase = new Map<string, ItemRef[]>();
  readonly #byStem = new Map<string, ItemRef[]>();

  constructor(items: readonly ItemRef[]) {
    const add = (m: Map<string, ItemRef[]>, k: string, it: ItemRef): void => {
      const l = m.get(k);
      if (l) {
        if (!l.includes(it)) l.push(it);
      } else m.set(k, [it]);
    };
    for (const it of items) {
      add(this.#byPath, lower(it.sourceName), it);
      add(this.#byBase, baseName(it.sourceName), it);
      add(this.#byStem, labelStem(it.sourceName, IMAGE_SUFFIXES).toLowerCase(), it);
      add(this.#byStem, labelStem(it.sourceName, MASK_SUFFIXES).toLowerCase(), it);
    }
  }

  byPath(name: string): ItemRef[] {
    const n = lower(name).replace(/^\.\//, '');
    const exact = this.#byPath.get(n);
    if (exact) return exact;
    const candidates = this.#byBase.get(baseName(n)) ?? [];
    if (candidates.length <= 1) return candidates;
    const suffix = candidates.filter((c) => n.endsWith(`/${lower(c.sourceName)}`) || lower(c.sourceName).endsWith(`/${n}`));
    return suffix.length ? suffix : candidates;
  }

  byStem(name: string): ItemRef[] {
    return this.#byStem.get(labelStem(name, MASK_SUFFIXES).toLowerCase()) ?? this.#byStem.get(labelStem(name, IMAGE_SUFFIXES).toLowerCase()) ?? [];
  }
}

class MatchLog {
  matched = 0;
  unmatched: string[] = [];
  unmatchedCount = 0;
  ambiguous: string[] = [];
  warnings: string[] = [];

  pick(name: string, found: readonly ItemRef[]): ItemRef | null {
    if (found.length === 1) return found[0] as ItemRef;
    if (found.length === 0) {
      this.unmatchedCount++;
      if (this.unmatched.length < 50 && !this.unmatched.includes(name)) this.unmatched.push(name);
    } else if (this.ambiguous.length < 50) {
      this.ambiguous.push(`${name} (${found.length} images: ${found.slice(0, 3).map((f) => f.sourceName).join(', ')})`);
    }
    return null;
  }

  warn(message: string): void {
    if (this.warnings.length < LABEL_LIMITS.maxWarnings) this.warnings.push(message);
  }
}

function loadItems(core: PredictionsCore, datasetId: number): ItemRef[] {
  return listItemRefs(core.db, datasetId);
}

const key = (itemId: number, frame: number): string => `${itemId}:${frame}`;

function frameOf(value: unknown): number {
  if (value === undefined || value === null || value === '') return 0;
  const n = Number(value);
  return Number.isInteger(n) && n >= 0 ? n : -1;
}

// ---------------------------------------------------------------------------
// The entry point

/**
 * Scores a predictions file or folder against dataset `datasetId` (see the
 * file header). Throws NOT_FOUND, BAD_INPUT (unreadable or unmatched
 * predictions), UNSUPPORTED (unknown format).
 */
export async function evaluatePredictions(core: PredictionsCore, datasetId: number, path: string, options: EvaluatePredictionsOptions = {}): Promise<PredictionsEvaluation> {
  const dataset = core.datasets.get(datasetId);
  const format = options.format ?? (await detectPredictionFormat(path));
  if (!format) throw new FoveaException('UNSUPPORTED', `${path}: predictions are read from a CSV file (classification), a COCO results .json (detection) or a folder of PNG masks (segmentation).`);
  const task = TASK_OF[format];
  const collected = collectSamples(core.db, datasetId, task);
  const splitOf = options.split ? core.splits.splitMap(datasetId) : null;
  const inSplit = (itemId: number): boolean => !splitOf || splitOf.get(itemId) === options.split;
  const samples = collected.samples.filter((s) => inSplit(s.itemId));
  const items = loadItems(core, datasetId);
  const index = new NameIndex(items);
  const log = new MatchLog();

  let metrics: ClassificationMetrics | DetectionMetrics | SegmentationMetrics;
  let scored: Set<string>;
  let labelledEmpty: number | undefined;
  if (format === 'csv') {
    let images: GroupableImage[];
    ({ metrics, scored, images } = await scoreCsv(path, collected.classNames, collected.multiLabel, samples, index, log, options.split));
    // Per series and per patient, as a run's evaluation gives them.
    if (metrics.task === 'classification') metrics = { ...metrics, ...groupedViews(core.db, datasetId, metrics, images) };
  } else if (format === 'coco') {
    ({ metrics, scored, labelledEmpty } = await scoreCoco(core, datasetId, path, options, collected.classNames, samples, items.filter((i) => inSplit(i.id)), index, log));
  } else {
    ({ metrics, scored } = await scoreMasks(core, path, collected.classNames, samples, items.filter((i) => inSplit(i.id)), index, log));
  }
  const missing = samples.filter((s) => !scored.has(key(s.itemId, s.frameIndex)) && !(s.target.task === 'detection' && s.target.boxes.length === 0)).length;
  if (format === 'coco' && missing > 0) {
    log.warn(
      `${missing} of ${samples.length - (labelledEmpty ?? 0)} box-labelled image(s) have no detection in the file: scored as misses, as COCOeval does.` +
        (missing * 2 > samples.length && !options.split ? ' If the predictions cover only one split, restrict to it (split / --split).' : ''),
    );
  }
  if (metrics.n === 0) {
    throw new FoveaException(
      'BAD_INPUT',
      `None of the predictions in ${path} matched a ${task}-labelled image of dataset "${dataset.name}"${options.split ? ` in the ${options.split} split` : ''} ` +
        `(${log.unmatchedCount} name(s) unmatched${log.unmatched.length ? `, e.g. ${log.unmatched.slice(0, 3).join(', ')}` : ''}).`,
    );
  }
  const source: PredictionsSource = {
    kind: 'predictions',
    datasetId,
    datasetName: dataset.name,
    path,
    format,
    split: options.split ?? 'all',
    coordinates: 'image',
    imageRule: IMAGE_RULE,
    ...(labelledEmpty !== undefined ? { labelledEmpty } : {}),
    classNames: collected.classNames,
    evaluatedAt: new Date().toISOString(),
    matched: log.matched,
    unmatched: log.unmatched,
    unmatchedCount: log.unmatchedCount,
    ambiguous: log.ambiguous,
    missingPredictions: missing,
    warnings: [...collected.warnings.filter((w) => !w.startsWith('No image')), ...log.warnings],
  };
  return { ...metrics, source } as PredictionsEvaluation;
}

// ---------------------------------------------------------------------------
// CSV (classification)

const FILE_COLUMNS = ['filename', 'file', 'file_name', 'image', 'image_name', 'image_path', 'path', 'image_id', 'img'];
const LABEL_COLUMNS = ['label', 'labels', 'class', 'class_name', 'prediction', 'predicted'];

async function scoreCsv(
  path: string,
  classNames: readonly string[],
  multiLabel: boolean,
  samples: readonly Sample[],
  index: NameIndex,
  log: MatchLog,
  split: SplitName | undefined,
): Promise<{ metrics: ClassificationMetrics; scored: Set<string>; images: GroupableImage[] }> {
  let text = await readTextBounded(path);
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  const firstLine = text.slice(0, Math.max(0, text.search(/\r|\n/)) || text.length);
  const sep = !firstLine.includes(',') && firstLine.includes('\t') ? '\t' : ',';
  const rows = readCsvRows(text, sep, path).filter((r) => r.cells.some((c) => c.trim() !== ''));
  const header = rows.shift();
  if (!header) throw new FoveaException('BAD_INPUT', `${path} is empty: it needs a header row (filename, one column per class or a label column).`);
  const heads = header.cells.map((c) => c.trim());
  const lowerHeads = heads.map((h) => h.toLowerCase());
  const fileCol = lowerHeads.findIndex((h) => FILE_COLUMNS.includes(h));
  if (fileCol < 0) throw new FoveaException('BAD_INPUT', `${path}: no column names the image (one of ${FILE_COLUMNS.join(', ')}).`);
  const frameCol = lowerHeads.findIndex((h) => h === 'frame' || h === 'frame_index');
  const K = classNames.length;
  const probCols = classNames.map((name) => {
    const exact = heads.indexOf(name);
    return exact >= 0 ? exact : lowerHeads.indexOf(name.toLowerCase());
  });
  const labelCol = lowerHeads.findIndex((h) => LABEL_COLUMNS.includes(h));
  const probabilityMode = probCols.every((c) => c >= 0);
  if (!probabilityMode && labelCol < 0) {
    const lacking = classNames.filter((_, k) => (probCols[k] as number) < 0);
    throw new FoveaException(
      'BAD_INPUT',
      `${path} needs one probability column per class of the dataset (missing: ${lacking.join(', ')}) or a "label" column naming the predicted class.`,
    );
  }
  const used = new Set([fileCol, frameCol, ...(probabilityMode ? probCols : [labelCol])]);
  const extra = heads.filter((_, i) => !used.has(i));
  if (extra.length) log.warn(`Columns not used: ${extra.slice(0, 10).join(', ')}${extra.length > 10 ? ', ...' : ''}.`);
  if (!probabilityMode) log.warn('Scored from the "label" column as one-hot probabilities: ROC and PR curves have a single operating point.');
  const classIndex = new Map(classNames.map((n, k) => [n.toLowerCase(), k]));

  const bySample = new Map(samples.map((s) => [key(s.itemId, s.frameIndex), s]));
  const predictions = new Map<string, number[]>();
  for (const row of rows) {
    const name = (row.cells[fileCol] ?? '').trim();
    if (!name) {
      log.warn(`${path} line ${row.line}: no file name; skipped.`);
      continue;
    }
    const frame = frameCol >= 0 ? frameOf(row.cells[frameCol]?.trim()) : 0;
    if (frame < 0) {
      log.warn(`${path} line ${row.line}: the frame "${row.cells[frameCol]}" is not a whole number >= 0; skipped.`);
      continue;
    }
    let probs: number[];
    if (probabilityMode) {
      probs = probCols.map((c) => Number((row.cells[c] ?? '').trim() || NaN));
      if (probs.some((p) => !Number.isFinite(p))) {
        log.warn(`${path} line ${row.line}: a probability is missing or not a number; skipped.`);
        continue;
      }
    } else {
      const cell = row.cells[labelCol] ?? '';
      const names = (multiLabel ? cell.split(';') : [cell]).map((s) => s.trim()).filter(Boolean);
      const ks = names.map((n) => classIndex.get(n.toLowerCase()));
      if (ks.some((k) => k === undefined) || (!multiLabel && ks.length !== 1)) {
        log.warn(`${path} line ${row.line}: label "${row.cells[labelCol] ?? ''}" is not ${multiLabel ? 'a list of' : 'one of'} the dataset's classes (${classNames.join(', ')}); skipped.`);
        continue;
      }
      probs = Array.from({ length: K }, (_, k) => (ks.includes(k) ? 1 : 0));
    }
    const item = log.pick(name, index.byPath(name));
    if (!item) continue;
    log.matched++;
    const k = key(item.id, frame);
    if (!bySample.has(k)) {
      log.warn(`${name}${frame ? ` frame ${frame}` : ''}: the image has no classification label${split ? ` in the ${split} split` : ''}; not scored.`);
      continue;
    }
    if (predictions.has(k)) {
      log.warn(`${name}${frame ? ` frame ${frame}` : ''} is on several rows; the first is used.`);
      continue;
    }
    predictions.set(k, probs);
  }
  const order = samples.filter((s) => predictions.has(key(s.itemId, s.frameIndex)));
  const probs = order.map((s) => predictions.get(key(s.itemId, s.frameIndex)) as number[]);
  const scored = new Set(order.map((s) => key(s.itemId, s.frameIndex)));
  const truth = order.map((s) => (s.target.task === 'classification' ? s.target.classIndices : []));
  const metrics = multiLabel
    ? multiLabelClassificationMetrics(
        truth.map((ks) => Array.from({ length: K }, (_, k) => (ks.includes(k) ? 1 : 0))),
        probs,
        classNames,
      )
    : classificationMetrics(
        truth.map((ks) => ks[0] as number),
        probs,
        classNames,
      );
  return { metrics, scored, images: order.map((s, i) => ({ itemId: s.itemId, truth: truth[i] as number[], probabilities: probs[i] as number[] })) };
}

// ---------------------------------------------------------------------------
// COCO (detection)

function isRecord(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

async function readJson(path: string): Promise<unknown> {
  let text = (await readFileBounded(path, LABEL_LIMITS.maxJsonBytes)).toString('utf8');
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  try {
    return JSON.parse(text) as unknown;
  } catch (e) {
    throw new FoveaException('BAD_INPUT', `${path} is not valid JSON: ${(e as Error).message}`);
  }
}

async function scoreCoco(
  core: PredictionsCore,
  datasetId: number,
  path: string,
  options: EvaluatePredictionsOptions,
  classNames: readonly string[],
  samples: readonly Sample[],
  items: readonly ItemRef[],
  index: NameIndex,
  log: MatchLog,
): Promise<{ metrics: DetectionMetrics; scored: Set<string>; labelledEmpty: number }> {
  const data = await readJson(path);
  let results: unknown[];
  let images: unknown[] = [];
  let categories: unknown[] = [];
  if (Array.isArray(data)) {
    results = data;
    if (options.cocoGroundTruth) {
      const gt = await readJson(options.cocoGroundTruth);
      if (!isRecord(gt) || !Array.isArray(gt['images'])) throw new FoveaException('BAD_INPUT', `${options.cocoGroundTruth} is not a COCO instances file (no "images" list).`);
      images = gt['images'] as unknown[];
      categories = Array.isArray(gt['categories']) ? (gt['categories'] as unknown[]) : [];
    }
  } else if (isRecord(data) && Array.isArray(data['annotations'])) {
    results = data['annotations'] as unknown[];
    images = Array.isArray(data['images']) ? (data['images'] as unknown[]) : [];
    categories = Array.isArray(data['categories']) ? (data['categories'] as unknown[]) : [];
  } else {
    throw new FoveaException('BAD_INPUT', `${path} is not a COCO results file: a list of {image_id, category_id, bbox, score}, or an object with "annotations".`);
  }
  const imageName = new Map<string, string>();
  for (const im of images) if (isRecord(im) && typeof im['file_name'] === 'string' && (typeof im['id'] === 'number' || typeof im['id'] === 'string')) imageName.set(String(im['id']), im['file_name']);
  const catName = new Map<string, string>();
  for (const c of categories) if (isRecord(c) && typeof c['name'] === 'string' && (typeof c['id'] === 'number' || typeof c['id'] === 'string')) catName.set(String(c['id']), c['name'].trim());
  const classIndex = new Map(classNames.map((n, k) => [n.toLowerCase(), k]));

  const itemById = new Map(items.map((i) => [i.id, i]));
  const detections = new Map<string, DetectedBox[]>();
  const covered = new Set<string>();
  let unknownCategories = 0;
  const unknownNames = new Set<string>();
  const resolved = new Map<string, ItemRef | null>();
  for (let i = 0; i < results.length; i++) {
    const r = results[i];
    const where = `${path} entry ${i}`;
    if (!isRecord(r)) {
      log.warn(`${where}: not an object; skipped.`);
      continue;
    }
    const idKey = r['image_id'] === undefined ? '' : String(r['image_id']);
    const name =
      typeof r['file_name'] === 'string' ? r['file_name'] : imageName.get(idKey) ?? (typeof r['image_id'] === 'string' ? r['image_id'] : null);
    if (name === null) {
      throw new FoveaException(
        'BAD_INPUT',
        `${where}: image_id ${idKey || '(none)'} names no file. Give the COCO instances file the results were made against (--coco-gt FILE), or add "file_name" to each entry.`,
      );
    }
    const cat =
      typeof r['category_name'] === 'string'
        ? r['category_name']
        : catName.get(String(r['category_id'])) ?? (typeof r['category_id'] === 'string' ? r['category_id'] : null);
    if (cat === null) {
      throw new FoveaException(
        'BAD_INPUT',
        `${where}: category_id ${String(r['category_id'])} names no class. Give the COCO instances file with its "categories" (--coco-gt FILE), or add "category_name" to each entry.`,
      );
    }
    const bbox = r['bbox'];
    const score = r['score'];
    if (!Array.isArray(bbox) || bbox.length !== 4 || !bbox.every((v) => typeof v === 'number' && Number.isFinite(v)) || (bbox[2] as number) < 0 || (bbox[3] as number) < 0) {
      log.warn(`${where}: bbox is not [x, y, width, height] with width, height >= 0; skipped.`);
      continue;
    }
    if (typeof score !== 'number' || !Number.isFinite(score)) {
      log.warn(`${where}: no numeric score; skipped.`);
      continue;
    }
    const frame = frameOf(r['frame_index']);
    if (frame < 0) {
      log.warn(`${where}: frame_index is not a whole number >= 0; skipped.`);
      continue;
    }
    let item = resolved.get(name);
    if (item === undefined) {
      item = log.pick(name, index.byPath(name));
      if (item && !itemById.has(item.id)) item = null; // outside the chosen split
      if (item) log.matched++;
      resolved.set(name, item);
    }
    if (!item) continue;
    const k = key(item.id, frame);
    covered.add(k);
    const ci = classIndex.get(cat.trim().toLowerCase());
    if (ci === undefined) {
      unknownCategories++;
      unknownNames.add(cat);
      continue;
    }
    const [x, y, width, height] = bbox as [number, number, number, number];
    const list = detections.get(k) ?? [];
    list.push({ x, y, width, height, classIndex: ci, score });
    detections.set(k, list);
  }
  if (unknownCategories) {
    log.warn(
      `${unknownCategories} detection(s) of classes the dataset has no ground truth for (${[...unknownNames].slice(0, 5).join(', ')}) are left out: their AP is undefined.`,
    );
  }
  // Images scored: IMAGE_RULE (every image with boxes, and labelled-empty negatives: collectSamples' samples).
  const keys = new Set(samples.map((s) => key(s.itemId, s.frameIndex)));
  let unlabelled = 0;
  for (const k of covered) if (!keys.has(k)) unlabelled++;
  if (unlabelled) log.warn(`${unlabelled} image(s) with detections have no box labels and are not marked labelled (done, needs review, approved): not scored.`);
  const { counts, ...metrics } = scoreDetections(core.db, datasetId, { samples, classNames: [...classNames] }, detections);
  return { metrics, scored: covered, labelledEmpty: counts.labelledEmpty };
}

// ---------------------------------------------------------------------------
// PNG masks (segmentation)

const CLASS_MAP_FILES = ['classes.json', 'class_map.json', 'labelmap.json', 'label_map.json', 'classes.txt', 'labelmap.txt', 'label_map.txt'];

async function scoreMasks(
  core: PredictionsCore,
  path: string,
  classNames: readonly string[],
  samples: readonly Sample[],
  items: readonly ItemRef[],
  index: NameIndex,
  log: MatchLog,
): Promise<{ metrics: SegmentationMetrics; scored: Set<string> }> {
  if (!(await isDirectory(path))) throw new FoveaException('BAD_INPUT', `${path} is not a folder: segmentation predictions are a folder of PNG masks.`);
  const K = classNames.length;
  const classIndex = new Map(classNames.map((n, k) => [n.toLowerCase(), k]));
  // Pixel value -> class index (K = no class).
  const lut = new Int32Array(65536).fill(K);
  const names = new Map((await readdir(path)).map((n) => [n.toLowerCase(), n]));
  const mapFile = CLASS_MAP_FILES.map((f) => names.get(f)).find((f): f is string => f !== undefined);
  if (mapFile) {
    const map = parseClassMap(await readTextBounded(join(path, mapFile)), mapFile);
    const unknown: string[] = [];
    for (const [v, n] of map) {
      const k = isBackgroundName(n) ? 0 : classIndex.get(n.trim().toLowerCase());
      if (k === undefined) unknown.push(n);
      else lut[v] = k;
    }
    if (unknown.length) log.warn(`${mapFile} names classes the dataset has no masks of (${unknown.slice(0, 5).join(', ')}): their pixels count as "no class".`);
  } else {
    for (let k = 0; k < K; k++) lut[k] = k;
    log.warn(`No class map in ${path}: pixel value = class index in the dataset's order (${classNames.map((n, k) => `${k} ${n}`).join(', ')}).`);
  }
  const files = await walkFiles(path, (n) => extensionOf(n) === '.png', { recursive: true });
  const bySample = new Map(samples.map((s) => [key(s.itemId, s.frameIndex), s]));
  const itemById = new Map(items.map((i) => [i.id, i]));
  const seg = new SegmentationScorer(core.db, classNames, new Map(items.map((i) => [i.id, i.seriesId])));
  const scored = new Set<string>();
  let unlabelled = 0;
  let unknownPixels = 0;
  const chosen: { item: ItemRef; file: string }[] = [];
  for (const rel of files) {
    const item = log.pick(rel, index.byStem(fileStem(rel)));
    if (!item) continue;
    if (!itemById.has(item.id)) continue; // outside the chosen split
    log.matched++;
    chosen.push({ item, file: rel });
  }
  chosen.sort((a, b) => a.item.id - b.item.id);
  for (const { item, file } of chosen) {
    const k = key(item.id, 0);
    if (scored.has(k)) {
      log.warn(`${file}: a second mask for ${item.sourceName}; skipped.`);
      continue;
    }
    const sample = bySample.get(k);
    if (!sample && !LABELLED_STATUSES.includes(item.status)) {
      unlabelled++;
      continue;
    }
    let img;
    try {
      img = await readLabelImage(join(path, file), file);
    } catch (e) {
      if (!(e instanceof FoveaException)) throw e;
      log.warn(`${file}: ${e.message} Skipped.`);
      continue;
    }
    if (img.width !== item.columns || img.height !== item.rows) {
      log.warn(`${file} is ${img.width}x${img.height}; its image ${item.sourceName} is ${item.columns}x${item.rows}: skipped (masks must have the image's size).`);
      continue;
    }
    const target: Sample = sample ?? {
      itemId: item.id,
      frameIndex: 0,
      kind: 'image',
      blobSha256: '',
      width: item.columns,
      height: item.rows,
      colour: false,
      patientKey: null,
      target: { task: 'segmentation', shapes: [] },
      annotations: [],
    };
    const pred = new Uint8Array(img.values.length);
    for (let i = 0; i < pred.length; i++) {
      const c = lut[img.values[i] as number] as number;
      if (c === K) unknownPixels++;
      pred[i] = c;
    }
    seg.add(target, pred);
    scored.add(k);
  }
  if (unknownPixels) log.warn(`${unknownPixels} predicted pixel(s) have values that name no class: scored as "no class".`);
  if (seg.changedMasks) log.warn(`${seg.changedMasks} mask(s) changed while reading; scored without them.`);
  if (unlabelled) log.warn(`${unlabelled} mask(s) are of images without segmentation labels that are not marked labelled (done, needs review, approved): not scored.`);
  const multiFrame = samples.filter((s) => s.frameIndex > 0).length;
  if (multiFrame) log.warn(`${multiFrame} labelled frame(s) beyond the first of multi-frame images are not scored (a mask file is one frame).`);
  return { metrics: seg.result(), scored };
}

/**
 * Scoring in the IMAGE'S OWN PIXELS: the one place where predictions (of a trained run, an
 * imported model, or another tool's files), already mapped to image pixels, meet the library's
 * labels. evaluate-run.ts, evaluate-predictions.ts and model imports call these entry points.
 *
 * Which images are scored (IMAGE_RULE, also stated in every report's source):
 * - every image (item, frame) with a label of the task (training-samples' rules: 'active'
 *   labels only), and
 * - detection: every image a person marked labelled (status done, needs review or approved)
 *   that has no box at all: a labelled-empty image, where every detection is a false positive
 *   (collectSamples includes them as negatives).
 * Other images without labels are not scored: nothing says whether they hold objects.
 *
 * Ground truth (detection): the samples' boxes (polygons and masks give their bounding boxes) with
 * COCO's `area` (the segment's area: polygon area, mask pixels; a box's width x height); VOC
 * "difficult" boxes are ignored; crowd regions (COCO iscrowd) are ignored regions of their class
 * (matched by intersection over detection area, as COCOeval); shapes of an ignore class (void,
 * DontCare...: labels/class-names.ts) are ignored regions for EVERY class. Segmentation truth is
 * the class map rasterised at the image's size, void and crowd pixels 255 (not scored).
 */
import type { SplitName } from '../../contract/ml';
import { isIgnoreClassName } from '../labels/class-names';
import { rleArea, rleToBbox } from '../labels/rle';
import { activeShapeRows } from '../store/label-shape-query';
import type { Db } from '../store/library-db';
import { collectSamples, maskReader, rasterizeSegmentation, rleOfGeometry, type Sample } from '../training/training-samples';
import { cocoEvaluate, type DetectedBox, type DetectionImage, type DetectionMetrics, type GroundTruthBox } from './detection-metrics';
import { SegmentationAccumulator, type SegmentationMetrics } from './segmentation-metrics';

/** Which images a score covers, in words (reports carry it as source.imageRule). */
export const IMAGE_RULE =
  'Scored in image pixels: every image with a label of the task, and (detection) every image marked labelled ' +
  '(done, needs review, approved) without boxes, as a negative where every detection is a false positive. Unlabelled images are not scored.';

export const imageKey = (itemId: number, frameIndex: number): string => `${itemId}:${frameIndex}`;

function isRecord(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

function shoelace(points: readonly (readonly [number, number])[]): number {
  let s = 0;
  for (let i = 0, j = points.length - 1; i < points.length; j = i++) {
    const [xi, yi] = points[i] as readonly [number, number];
    const [xj, yj] = points[j] as readonly [number, number];
    s += xj * yi - xi * yj;
  }
  return Math.abs(s) / 2;
}

interface ShapeFacts {
  box: { x: number; y: number; width: number; height: number } | null;
  area: number | null;
  crowd: boolean;
  difficult: boolean;
}

function shapeFacts(kind: 'box' | 'polygon' | 'mask', json: string | null): ShapeFacts | null {
  let g: unknown;
  try {
    g = json === null ? null : JSON.parse(json);
  } catch {
    return null;
  }
  if (!isRecord(g)) return null;
  const flags = { crowd: g['crowd'] === true, difficult: g['difficult'] === true };
  if (kind === 'box') {
    const b = { x: Number(g['x']), y: Number(g['y']), width: Number(g['width']), height: Number(g['height']) };
    if (![b.x, b.y, b.width, b.height].every(Number.isFinite) || b.width <= 0 || b.height <= 0) return null;
    return { box: b, area: b.width * b.height, ...flags };
  }
  if (kind === 'polygon') {
    const pts = (Array.isArray(g['points']) ? (g['points'] as unknown[]) : []).filter((p): p is [number, number] => Array.isArray(p) && p.length >= 2).map((p) => [Number(p[0]), Number(p[1])] as [number, number]);
    if (pts.length < 3 || !pts.every((p) => Number.isFinite(p[0]) && Number.isFinite(p[1]))) return null;
    const xs = pts.map((p) => p[0]);
    const ys = pts.map((p) => p[1]);
    const x = Math.min(...xs);
    const y = Math.min(...ys);
    return { box: { x, y, width: Math.max(...xs) - x, height: Math.max(...ys) - y }, area: shoelace(pts), ...flags };
  }
  const rle = rleOfGeometry(g);
  if (!rle) return null;
  const [x, y, width, height] = rleToBbox(rle);
  return { box: { x, y, width, height }, area: rleArea(rle), ...flags };
}

/**
 * Detection ground truth of the scored images, in image pixels (see the header), by imageKey.
 * `samples` are the task's samples (collectSamples) with `classNames` their class order.
 */
export function detectionTruth(db: Db, datasetId: number, classNames: readonly string[], samples: readonly Sample[]): Map<string, GroundTruthBox[]> {
  const facts = new Map<number, ShapeFacts>();
  const regions = new Map<number, { frame: number | null; boxes: GroundTruthBox[] }[]>();
  const classIndex = new Map(classNames.map((n, k) => [n, k]));
  for (const r of activeShapeRows(db, datasetId)) {
    const f = shapeFacts(r.kind, r.geometry);
    if (!f) continue;
    facts.set(r.id, f);
    const voidRegion = isIgnoreClassName(r.className);
    if (!f.box || f.box.width <= 0 || f.box.height <= 0 || !(voidRegion || f.crowd)) continue;
    // A crowd region ignores detections of its class; a void region those of every class.
    const ks = voidRegion ? classNames.map((_, k) => k) : classIndex.has(r.className) ? [classIndex.get(r.className) as number] : [];
    if (ks.length === 0) continue;
    const list = regions.get(r.itemId) ?? [];
    list.push({ frame: r.frameIndex, boxes: ks.map((k) => ({ ...(f.box as NonNullable<ShapeFacts['box']>), classIndex: k, crowd: true, ...(f.area !== null ? { area: f.area } : {}) })) });
    regions.set(r.itemId, list);
  }
  const out = new Map<string, GroundTruthBox[]>();
  for (const s of samples) {
    if (s.target.task !== 'detection') continue;
    const boxes: GroundTruthBox[] = s.target.boxes.map((b, i) => {
      const annId = s.annotations[i]?.[0];
      const f = annId === undefined ? undefined : facts.get(annId);
      return {
        x: b.x,
        y: b.y,
        width: b.width,
        height: b.height,
        classIndex: b.classIndex,
        ...(f?.area != null ? { area: f.area } : {}),
        ...(f?.difficult ? { ignore: true } : {}),
      };
    });
    for (const reg of regions.get(s.itemId) ?? []) if (reg.frame === null || reg.frame === s.frameIndex) boxes.push(...reg.boxes);
    out.set(imageKey(s.itemId, s.frameIndex), boxes);
  }
  return out;
}

/** How many of the scored images hold objects and how many are labelled-empty negatives. */
export interface ScoredImageCounts {
  /** Images (item, frame) scored. */
  scored: number;
  /** Of them, labelled images without any box (detection negatives). */
  labelledEmpty: number;
  rule: string;
}

/**
 * COCO (12-number summary) and Pascal VOC scores of detections in image pixels, over every
 * image `collected` says counts (IMAGE_RULE), in (item, frame) order. `detections` by imageKey;
 * an image without an entry had no detection. Detections on images outside the samples are not
 * scored (count them yourself if you need to warn).
 */
export function scoreDetections(
  db: Db,
  datasetId: number,
  collected: { samples: readonly Sample[]; classNames: readonly string[] },
  detections: ReadonlyMap<string, readonly DetectedBox[]>,
): DetectionMetrics & { counts: ScoredImageCounts } {
  const truth = detectionTruth(db, datasetId, collected.classNames, collected.samples);
  const ordered = [...collected.samples].sort((a, b) => a.itemId - b.itemId || a.frameIndex - b.frameIndex);
  let labelledEmpty = 0;
  const images: DetectionImage[] = ordered.map((s) => {
    const k = imageKey(s.itemId, s.frameIndex);
    if (s.target.task === 'detection' && s.target.boxes.length === 0) labelledEmpty++;
    return { itemId: s.itemId, frameIndex: s.frameIndex, groundTruth: truth.get(k) ?? [], detections: detections.get(k) ?? [] };
  });
  const metrics = cocoEvaluate(images, collected.classNames);
  return { ...metrics, counts: { scored: images.length, labelledEmpty, rule: IMAGE_RULE } };
}

/**
 * Segmentation scored at each image's own size: `add` one predicted class map (row-major
 * [height, width], values = indices of `classNames`, 0 background) per sample image; the truth is
 * rasterised from the library (void and crowd pixels 255: not scored).
 */
export class SegmentationScorer {
  readonly #seg: SegmentationAccumulator;
  readonly #readMask: ReturnType<typeof maskReader>;
  readonly #seriesOf: ReadonlyMap<number, number | null>;
  /** Masks that changed since the samples were collected (scored without them). */
  changedMasks = 0;

  constructor(db: Db, classNames: readonly string[], seriesOf: ReadonlyMap<number, number | null> = new Map()) {
    this.#seg = new SegmentationAccumulator(classNames);
    this.#readMask = maskReader(db);
    this.#seriesOf = seriesOf;
  }

  /** The truth of a sample at its image's size (255 where nothing is scored). */
  truth(sample: Sample): Uint8Array {
    if (sample.target.task !== 'segmentation') return new Uint8Array(sample.width * sample.height);
    const r = rasterizeSegmentation(sample.target.shapes, sample.height, sample.width, this.#readMask);
    this.changedMasks += r.missing.length;
    return r.classMap;
  }

  add(sample: Sample, predicted: Uint8Array, truth: Uint8Array = this.truth(sample)): void {
    this.#seg.add(truth, predicted, { itemId: sample.itemId, frameIndex: sample.frameIndex, seriesId: this.#seriesOf.get(sample.itemId) ?? null });
  }

  result(): SegmentationMetrics {
    return this.#seg.result();
  }
}

/** Predictions of one image, in image pixels: what a model import hands to evaluation. */
export interface ImageDetections {
  itemId: number;
  frameIndex: number;
  detections: readonly DetectedBox[];
}

/**
 * Entry point for detections made elsewhere (an imported model), already in image pixels, with
 * class indices of `classNames` (default: the dataset's detection classes): scored against the
 * dataset's labels by IMAGE_RULE. `split` restricts to one split.
 */
export function evaluateDetectionsInImagePixels(
  db: Db,
  datasetId: number,
  predictions: readonly ImageDetections[],
  options: { classNames?: readonly string[]; splitOf?: ReadonlyMap<number, SplitName>; split?: SplitName } = {},
): DetectionMetrics & { counts: ScoredImageCounts; classNames: string[] } {
  const collected = collectSamples(db, datasetId, 'detection', options.classNames ? { classNames: options.classNames } : {});
  const samples = options.split ? collected.samples.filter((s) => options.splitOf?.get(s.itemId) === options.split) : collected.samples;
  const dets = new Map<string, DetectedBox[]>();
  for (const p of predictions) dets.set(imageKey(p.itemId, p.frameIndex), [...(dets.get(imageKey(p.itemId, p.frameIndex)) ?? []), ...p.detections]);
  return { ...scoreDetections(db, datasetId, { samples, classNames: collected.classNames }, dets), classNames: collected.classNames };
}

/**
 * COCO box evaluation, implemented to the standard: the algorithm of
 * pycocotools' COCOeval (iouType 'bbox', useCats 1), checked against the
 * numbers pycocotools printed for a published example
 * (test/fixtures/coco-eval-reference.json).
 *
 * What it does, step for step as COCOeval.evaluate / accumulate / summarize:
 * - Boxes are [x, y, width, height] in continuous pixels. IoU of a detection
 *   d and a ground-truth box g: intersection / (area d + area g -
 *   intersection); for a CROWD ground-truth region, intersection / area d
 *   (pycocotools' maskUtils.iou with iscrowd).
 * - Per image and class: the detections sorted by score (stable: equal
 *   scores keep their input order), at most maxDets (100) kept; ground truth
 *   sorted with the ignored ones last. At every IoU threshold
 *   0.50:0.05:0.95 (numpy.linspace values) each detection in turn takes the
 *   unmatched ground truth of highest IoU >= the threshold, preferring a
 *   regular ground truth over an ignored one (the loop stops at the first
 *   ignored one once a regular one matched); a crowd region can absorb any
 *   number of detections. A detection matched to an ignored ground truth is
 *   ignored (neither TP nor FP); ignored ground truth is not counted as
 *   missed.
 * - Ignored ground truth: crowd regions (COCO iscrowd, as pycocotools) and,
 *   as an extension pycocotools does not read, boxes flagged `ignore` (e.g.
 *   PASCAL VOC "difficult"): those are matched with the normal IoU and at
 *   most once, then treated as ignored like a crowd region.
 * - Per class, the detections of all images are merged and sorted by score
 *   (stable, so ties keep image order, then within-image order; pycocotools
 *   orders images by sorted image id: pass images in the order you want ties
 *   broken). Precision at the 101 recall points 0:0.01:1 is the interpolated
 *   precision (the running maximum from the right) at the first point whose
 *   recall reaches it, 0 past the largest recall reached; precision =
 *   tp / (tp + fp + 2^-52) as pycocotools. AP = the mean over those 101
 *   points; AP@[.5:.95] also over the 10 thresholds.
 * - A class with no (non-ignored) ground truth has no AP: -1, as
 *   pycocotools, and is left out of the means (mAP50, mAP = mean over the
 *   classes with ground truth, -1 when none has). A class with ground truth
 *   but no detection has AP 0.
 * - Area ranges, as COCOeval's: all [0, 1e10], small [0, 32^2], medium
 *   [32^2, 96^2], large [96^2, 1e10] (bounds inclusive). In a range, ground
 *   truth whose area lies outside it is ignored, and so is an UNMATCHED
 *   detection whose area (width x height, as pycocotools' loadRes sets it)
 *   lies outside it. A ground truth's area is its `area` when given (COCO's
 *   annotation area: the segment's area), else width x height.
 * - Recall: AR = the recall reached with at most maxDets detections per image,
 *   averaged over the thresholds (COCO's AR@1, @10, @100).
 * - `cocoSummary` holds the 12 numbers of COCOeval.summarize() (stats[0..11]):
 *   AP, AP50, AP75, AP small/medium/large (maxDets 100), AR@1, AR@10, AR@100,
 *   AR small/medium/large (maxDets 100); each the mean over the classes with
 *   ground truth in that range, -1 when none has.
 *
 * Pascal VOC AP (`vocAP50`, per class `vocAp50`): the VOC devkit's all-point
 * interpolated AP at IoU 0.5 (VOC 2010 and later; py-faster-rcnn's voc_eval
 * with use_07_metric=False). Per class, every detection (no maxDets cap),
 * sorted by score (stable), takes the ground truth of ITS image with the
 * highest IoU, matched or not; IoU > 0.5 (strictly) on a ground truth not yet
 * matched is a TP, on one already matched a FP (a duplicate), on an ignored
 * one (VOC difficult, flagged boxes) neither; IoU <= 0.5 is a FP. VOC has no
 * crowd regions: here they are not boxes to match, and a detection that
 * matched no box is ignored when more than half of it lies in a crowd or void
 * region (COCO's crowd overlap, intersection over the detection's area),
 * else it is a FP. AP = the area under the precision envelope at every
 * recall where it changes: sum over i of (r[i+1] - r[i]) * p_interp[i+1].
 * The devkit's IoU counts pixels inclusively (+1 on widths, 1-based pixel
 * indices); on continuous boxes x = xmin - 1, width = xmax - xmin + 1 it is
 * exactly the IoU used here. Mean over the classes with (non-ignored) ground
 * truth; -1 without any.
 *
 * Per image, the matching at IoU 0.5 is returned too (which detection hit
 * which ground truth, which ground truth was missed): the makings of an
 * error gallery.
 */
import type { CocoSummary } from '../../contract/evaluation';
import { FoveaException } from '../../contract/result';

export interface Box {
  x: number;
  y: number;
  width: number;
  height: number;
}

export interface GroundTruthBox extends Box {
  classIndex: number;
  /** COCO's annotation area (the segment's area) for the area ranges; default width x height. */
  area?: number;
  /** A crowd region (COCO iscrowd): ignored, matched by intersection / detection area. */
  crowd?: boolean;
  /** Ignored without being a crowd (e.g. VOC difficult); see the header. */
  ignore?: boolean;
}

export interface DetectedBox extends Box {
  classIndex: number;
  score: number;
}

export interface DetectionImage {
  groundTruth: readonly GroundTruthBox[];
  detections: readonly DetectedBox[];
  /** Carried into the per-image result. */
  itemId?: number;
  frameIndex?: number;
}

export interface CocoEvalParams {
  iouThresholds: readonly number[];
  recallThresholds: readonly number[];
  /** Detections per image kept for AR; AP uses the last (COCO: [1, 10, 100]). */
  maxDets: readonly number[];
  /** [min, max] object areas per range, inclusive: all, small, medium, large (COCO's order). */
  areaRanges?: readonly (readonly [number, number])[];
}

/** COCOeval's area ranges: all, small, medium, large. */
export const COCO_AREA_RANGES: readonly (readonly [number, number])[] = [
  [0, 1e10],
  [0, 32 ** 2],
  [32 ** 2, 96 ** 2],
  [96 ** 2, 1e10],
];

/** numpy.linspace(start, stop, num) exactly (same operations, same rounding). */
export function linspace(start: number, stop: number, num: number): number[] {
  const step = (stop - start) / (num - 1);
  const out = Array.from({ length: num }, (_, i) => i * step + start);
  out[num - 1] = stop;
  return out;
}

export const COCO_PARAMS: CocoEvalParams = {
  iouThresholds: linspace(0.5, 0.95, Math.round((0.95 - 0.5) / 0.05) + 1),
  recallThresholds: linspace(0, 1, Math.round((1 - 0) / 0.01) + 1),
  maxDets: [1, 10, 100],
  areaRanges: COCO_AREA_RANGES,
};

/** The 12 numbers of pycocotools' COCOeval.summarize() (defined once, in the contract). */
export type { CocoSummary };

export interface DetectionClassMetrics {
  /** AP at IoU 0.5, -1 without ground truth. */
  ap50: number;
  /** AP at IoU 0.75, -1 without ground truth. */
  ap75: number;
  /** AP averaged over IoU 0.50:0.05:0.95 (COCO AP), -1 without ground truth. */
  ap: number;
  /** Recall with at most 100 detections per image, averaged over the thresholds; -1 without ground truth. */
  ar100: number;
  /** Pascal VOC all-point interpolated AP at IoU 0.5 (see the header); -1 without ground truth. */
  vocAp50: number;
  /** Ground-truth boxes (not ignored) and detections of this class. */
  groundTruth: number;
  detections: number;
}

export interface ImageDetectionMatch {
  index: number;
  itemId?: number;
  frameIndex?: number;
  /** At IoU 0.5, detections kept (top maxDets per class). */
  truePositives: number;
  falsePositives: number;
  /** Ground truth (not ignored) no detection matched at IoU 0.5. */
  falseNegatives: number;
  detections: {
    box: [number, number, number, number];
    classIndex: number;
    score: number;
    /** Index into the image's ground truth it matched at IoU 0.5, or null (a false positive). */
    matched: number | null;
    /** IoU with the matched ground truth (0 when unmatched). */
    iou: number;
    /** Matched an ignored region (crowd / ignore): neither TP nor FP. */
    ignored: boolean;
  }[];
  /** Indices of ground-truth boxes (not ignored) left unmatched at IoU 0.5. */
  missed: number[];
}

export interface DetectionMetrics {
  task: 'detection';
  /** Images evaluated. */
  n: number;
  /** Mean AP at IoU 0.5 over classes with ground truth (-1 if none). */
  mAP50: number;
  mAP75: number;
  /** COCO mAP@[.5:.95] (-1 if no class has ground truth). */
  mAP: number;
  /** Mean recall @1, @10, @100 detections per image, over thresholds and classes with ground truth. */
  mAR1: number;
  mAR10: number;
  mAR100: number;
  /** pycocotools' 12-number summary (AP, AP50, AP75, AP S/M/L, AR@1/10/100, AR S/M/L). */
  cocoSummary: CocoSummary;
  /** Mean Pascal VOC all-point AP@0.5 over classes with ground truth (-1 if none). */
  vocAP50: number;
  perClass: Record<string, DetectionClassMetrics>;
  images: ImageDetectionMatch[];
}

/** pycocotools' bbox IoU (maskUtils.iou on boxes). */
export function boxIou(d: Box, g: Box, crowd = false): number {
  const w = Math.min(d.x + d.width, g.x + g.width) - Math.max(d.x, g.x);
  if (w <= 0) return 0;
  const h = Math.min(d.y + d.height, g.y + g.height) - Math.max(d.y, g.y);
  if (h <= 0) return 0;
  const i = w * h;
  const da = d.width * d.height;
  const u = crowd ? da : da + g.width * g.height - i;
  return i / u;
}

/** Stable order of indices by a key, ascending (numpy argsort kind='mergesort'). */
function stableOrder(n: number, key: (i: number) => number): number[] {
  const idx = Array.from({ length: n }, (_, i) => i);
  return idx.sort((a, b) => key(a) - key(b) || a - b);
}

/** What COCOeval.evaluateImg keeps per (image, class). */
interface EvalImg {
  /** Detection scores, sorted, at most maxDets. */
  scores: number[];
  /** [T][D]: whether detection d matched at threshold t (to a regular or ignored ground truth). */
  matched: boolean[][];
  /** [T][D]: detection ignored at threshold t. */
  ignored: boolean[][];
  /** Ground truth ignore flags (sorted order). */
  gtIgnore: boolean[];
  /** [T][D]: index (in the image's groundTruth list) of the matched ground truth, -1. */
  matchIndex: number[][];
  matchIou: number[][];
  /** Original detection indices, sorted order. */
  detIndex: number[];
  /** Original ground truth indices, sorted order. */
  gtIndex: number[];
}

function gtArea(g: GroundTruthBox): number {
  return g.area ?? g.width * g.height;
}

function evaluateImg(image: DetectionImage, classIndex: number, p: CocoEvalParams, areaRange: readonly [number, number] = [0, 1e10]): EvalImg | null {
  const gtAll: number[] = [];
  image.groundTruth.forEach((g, i) => {
    if (g.classIndex === classIndex) gtAll.push(i);
  });
  const dtAll: number[] = [];
  image.detections.forEach((d, i) => {
    if (d.classIndex === classIndex) dtAll.push(i);
  });
  if (gtAll.length === 0 && dtAll.length === 0) return null;
  const maxDet = p.maxDets[p.maxDets.length - 1] as number;
  const [aMin, aMax] = areaRange;
  const gtIg = (i: number): boolean => {
    const g = image.groundTruth[i] as GroundTruthBox;
    const a = gtArea(g);
    return g.crowd === true || g.ignore === true || a < aMin || a > aMax;
  };
  // Ground truth: regular first, then ignored (stable).
  const gtIndex = stableOrder(gtAll.length, (k) => (gtIg(gtAll[k] as number) ? 1 : 0)).map((k) => gtAll[k] as number);
  // Detections: by score, highest first (stable), at most maxDet.
  const detIndex = stableOrder(dtAll.length, (k) => -(image.detections[dtAll[k] as number] as DetectedBox).score)
    .map((k) => dtAll[k] as number)
    .slice(0, maxDet);
  const G = gtIndex.length;
  const D = detIndex.length;
  const gtIgnore = gtIndex.map(gtIg);
  const crowd = gtIndex.map((i) => (image.groundTruth[i] as GroundTruthBox).crowd === true);
  const ious: number[][] = detIndex.map((di) => gtIndex.map((gi, k) => boxIou(image.detections[di] as DetectedBox, image.groundTruth[gi] as GroundTruthBox, crowd[k])));
  const T = p.iouThresholds.length;
  const matched: boolean[][] = [];
  const ignored: boolean[][] = [];
  const matchIndex: number[][] = [];
  const matchIou: number[][] = [];
  for (let t = 0; t < T; t++) {
    const gtm = new Array<boolean>(G).fill(false);
    const dm = new Array<boolean>(D).fill(false);
    const dIg = new Array<boolean>(D).fill(false);
    const mIdx = new Array<number>(D).fill(-1);
    const mIou = new Array<number>(D).fill(0);
    for (let d = 0; d < D; d++) {
      let iou = Math.min(p.iouThresholds[t] as number, 1 - 1e-10);
      let m = -1;
      const row = ious[d] as number[];
      for (let g = 0; g < G; g++) {
        // Already matched and not a crowd: taken.
        if (gtm[g] && !crowd[g]) continue;
        // Matched a regular ground truth and reached the ignored ones: stop.
        if (m > -1 && !gtIgnore[m] && gtIgnore[g]) break;
        if ((row[g] as number) < iou) continue;
        iou = row[g] as number;
        m = g;
      }
      if (m === -1) continue;
      dIg[d] = gtIgnore[m] as boolean;
      dm[d] = true;
      gtm[m] = true;
      mIdx[d] = gtIndex[m] as number;
      mIou[d] = row[m] as number;
    }
    // An unmatched detection outside the area range is ignored too (COCOeval: dtIg |= dtm == 0 & area outside).
    for (let d = 0; d < D; d++) {
      const det = image.detections[detIndex[d] as number] as DetectedBox;
      const a = det.width * det.height;
      if (!dm[d] && (a < aMin || a > aMax)) dIg[d] = true;
    }
    matched.push(dm);
    ignored.push(dIg);
    matchIndex.push(mIdx);
    matchIou.push(mIou);
  }
  return { scores: detIndex.map((i) => (image.detections[i] as DetectedBox).score), matched, ignored, gtIgnore, matchIndex, matchIou, detIndex, gtIndex };
}

/** COCOeval.accumulate for one class and one maxDets: precision [T][R] and recall [T], or null without ground truth. */
function accumulate(evals: readonly EvalImg[], maxDet: number, p: CocoEvalParams): { precision: number[][]; recall: number[] } | null {
  if (evals.length === 0) return null;
  const scores: number[] = [];
  const T = p.iouThresholds.length;
  const dtm: boolean[][] = Array.from({ length: T }, () => []);
  const dtIg: boolean[][] = Array.from({ length: T }, () => []);
  let npig = 0;
  for (const e of evals) {
    const D = Math.min(maxDet, e.scores.length);
    for (let d = 0; d < D; d++) scores.push(e.scores[d] as number);
    for (let t = 0; t < T; t++) {
      for (let d = 0; d < D; d++) {
        (dtm[t] as boolean[]).push((e.matched[t] as boolean[])[d] as boolean);
        (dtIg[t] as boolean[]).push((e.ignored[t] as boolean[])[d] as boolean);
      }
    }
    for (const ig of e.gtIgnore) if (!ig) npig++;
  }
  if (npig === 0) return null;
  const order = stableOrder(scores.length, (i) => -(scores[i] as number));
  const eps = 2.220446049250313e-16; // np.spacing(1)
  const R = p.recallThresholds.length;
  const precision: number[][] = [];
  const recall: number[] = [];
  for (let t = 0; t < T; t++) {
    const rc: number[] = [];
    const pr: number[] = [];
    let tp = 0;
    let fp = 0;
    for (const i of order) {
      const m = (dtm[t] as boolean[])[i] as boolean;
      const ig = (dtIg[t] as boolean[])[i] as boolean;
      if (m && !ig) tp++;
      if (!m && !ig) fp++;
      rc.push(tp / npig);
      pr.push(tp / (fp + tp + eps));
    }
    const nd = rc.length;
    recall.push(nd ? (rc[nd - 1] as number) : 0);
    for (let i = nd - 1; i > 0; i--) if ((pr[i] as number) > (pr[i - 1] as number)) pr[i - 1] = pr[i] as number;
    const q = new Array<number>(R).fill(0);
    // np.searchsorted(rc, recThrs, side='left'): the first index with rc >= thr.
    let pi = 0;
    for (let r = 0; r < R; r++) {
      const thr = p.recallThresholds[r] as number;
      while (pi < nd && (rc[pi] as number) < thr) pi++;
      if (pi >= nd) break;
      q[r] = pr[pi] as number;
    }
    precision.push(q);
  }
  return { precision, recall };
}

function meanOrMinus1(values: readonly number[]): number {
  const valid = values.filter((v) => v > -1);
  if (valid.length === 0) return -1;
  let s = 0;
  for (const v of valid) s += v;
  return s / valid.length;
}

function checkBox(b: Box, what: string): void {
  if (![b.x, b.y, b.width, b.height].every(Number.isFinite)) throw new FoveaException('VALIDATION', `${what} has a coordinate that is not a finite number.`);
}

/**
 * COCO evaluation of boxes (see the file header). `classNames[k]` names class
 * index k; detections and ground truth of other indices are an error.
 */
export function cocoEvaluate(images: readonly DetectionImage[], classNames: readonly string[], params: CocoEvalParams = COCO_PARAMS): DetectionMetrics {
  const K = classNames.length;
  images.forEach((im, i) => {
    for (const g of im.groundTruth) {
      if (!Number.isInteger(g.classIndex) || g.classIndex < 0 || g.classIndex >= K) throw new FoveaException('VALIDATION', `Image ${i}: a ground-truth box has class index ${g.classIndex}, not one of the ${K} classes.`);
      checkBox(g, `Image ${i}: a ground-truth box`);
    }
    for (const d of im.detections) {
      if (!Number.isInteger(d.classIndex) || d.classIndex < 0 || d.classIndex >= K) throw new FoveaException('VALIDATION', `Image ${i}: a detection has class index ${d.classIndex}, not one of the ${K} classes.`);
      if (!Number.isFinite(d.score)) throw new FoveaException('VALIDATION', `Image ${i}: a detection has a score that is not a finite number.`);
      checkBox(d, `Image ${i}: a detection`);
    }
  });
  const T = params.iouThresholds.length;
  const t50 = params.iouThresholds.findIndex((t) => Math.abs(t - 0.5) < 1e-12);
  const t75 = params.iouThresholds.findIndex((t) => Math.abs(t - 0.75) < 1e-12);
  const apMax = params.maxDets[params.maxDets.length - 1] as number;
  // evalImgs[k][i]
  const evalImgs: (EvalImg | null)[][] = [];
  for (let k = 0; k < K; k++) evalImgs.push(images.map((im) => evaluateImg(im, k, params)));

  const perClass: Record<string, DetectionClassMetrics> = {};
  const ap50s: number[] = [];
  const ap75s: number[] = [];
  const aps: number[] = [];
  const vocAps: number[] = [];
  const ars: number[][] = params.maxDets.map(() => []);
  for (let k = 0; k < K; k++) {
    const evals = (evalImgs[k] as (EvalImg | null)[]).filter((e): e is EvalImg => e !== null);
    let ap = -1;
    let ap50 = -1;
    let ap75 = -1;
    params.maxDets.forEach((md, mi) => {
      const acc = accumulate(evals, md, params);
      const ar = acc ? acc.recall.reduce((a, b) => a + b, 0) / T : -1;
      (ars[mi] as number[]).push(ar);
      if (md !== apMax || !acc) return;
      const apAt = (t: number): number => (acc.precision[t] as number[]).reduce((a, b) => a + b, 0) / params.recallThresholds.length;
      let s = 0;
      for (let t = 0; t < T; t++) s += apAt(t);
      ap = s / T;
      ap50 = t50 >= 0 ? apAt(t50) : -1;
      ap75 = t75 >= 0 ? apAt(t75) : -1;
    });
    let groundTruth = 0;
    let detections = 0;
    for (const im of images) {
      for (const g of im.groundTruth) if (g.classIndex === k && !g.crowd && !g.ignore) groundTruth++;
      for (const d of im.detections) if (d.classIndex === k) detections++;
    }
    const vocAp50 = vocAveragePrecision(images, k);
    perClass[classNames[k] as string] = { ap50, ap75, ap, ar100: (ars[ars.length - 1] as number[])[k] as number, vocAp50, groundTruth, detections };
    ap50s.push(ap50);
    ap75s.push(ap75);
    aps.push(ap);
    vocAps.push(vocAp50);
  }
  const mar = (maxDet: number): number => {
    const mi = params.maxDets.indexOf(maxDet);
    return mi < 0 ? -1 : meanOrMinus1(ars[mi] as number[]);
  };
  // AP and AR (maxDets 100, every threshold) in the small, medium and large ranges.
  const ranges = params.areaRanges ?? COCO_AREA_RANGES;
  const byRange = ranges.slice(1, 4).map((range) => {
    const apK: number[] = [];
    const arK: number[] = [];
    for (let k = 0; k < K; k++) {
      const evals = images.map((im) => evaluateImg(im, k, params, range)).filter((e): e is EvalImg => e !== null);
      const acc = accumulate(evals, apMax, params);
      if (!acc) {
        apK.push(-1);
        arK.push(-1);
        continue;
      }
      let sum = 0;
      for (let t = 0; t < T; t++) sum += (acc.precision[t] as number[]).reduce((a, b) => a + b, 0) / params.recallThresholds.length;
      apK.push(sum / T);
      arK.push(acc.recall.reduce((a, b) => a + b, 0) / T);
    }
    return { ap: meanOrMinus1(apK), ar: meanOrMinus1(arK) };
  });
  const mAP = meanOrMinus1(aps);
  const mAP50 = meanOrMinus1(ap50s);
  const mAP75 = meanOrMinus1(ap75s);
  const cocoSummary: CocoSummary = {
    AP: mAP,
    AP50: mAP50,
    AP75: mAP75,
    APsmall: byRange[0]?.ap ?? -1,
    APmedium: byRange[1]?.ap ?? -1,
    APlarge: byRange[2]?.ap ?? -1,
    AR1: mar(1),
    AR10: mar(10),
    AR100: mar(100),
    ARsmall: byRange[0]?.ar ?? -1,
    ARmedium: byRange[1]?.ar ?? -1,
    ARlarge: byRange[2]?.ar ?? -1,
  };

  // Per image, at IoU 0.5 (or the first threshold when 0.5 is not one).
  const tm = t50 >= 0 ? t50 : 0;
  const perImage: ImageDetectionMatch[] = images.map((im, i) => {
    const out: ImageDetectionMatch = {
      index: i,
      ...(im.itemId !== undefined ? { itemId: im.itemId } : {}),
      ...(im.frameIndex !== undefined ? { frameIndex: im.frameIndex } : {}),
      truePositives: 0,
      falsePositives: 0,
      falseNegatives: 0,
      detections: [],
      missed: [],
    };
    const matchedGt = new Set<number>();
    for (let k = 0; k < K; k++) {
      const e = (evalImgs[k] as (EvalImg | null)[])[i];
      if (!e) continue;
      e.detIndex.forEach((di, d) => {
        const det = im.detections[di] as DetectedBox;
        const m = (e.matchIndex[tm] as number[])[d] as number;
        const ig = (e.ignored[tm] as boolean[])[d] as boolean;
        if (m >= 0) matchedGt.add(m);
        if (m >= 0 && !ig) out.truePositives++;
        else if (m < 0) out.falsePositives++;
        out.detections.push({
          box: [det.x, det.y, det.width, det.height],
          classIndex: det.classIndex,
          score: det.score,
          matched: m >= 0 ? m : null,
          iou: (e.matchIou[tm] as number[])[d] as number,
          ignored: ig,
        });
      });
    }
    im.groundTruth.forEach((g, gi) => {
      if (!g.crowd && !g.ignore && !matchedGt.has(gi)) out.missed.push(gi);
    });
    out.falseNegatives = out.missed.length;
    out.detections.sort((a, b) => b.score - a.score);
    return out;
  });

  return {
    task: 'detection',
    n: images.length,
    mAP50,
    mAP75,
    mAP,
    mAR1: mar(1),
    mAR10: mar(10),
    mAR100: mar(100),
    cocoSummary,
    vocAP50: meanOrMinus1(vocAps),
    perClass,
    images: perImage,
  };
}

/**
 * Pascal VOC all-point interpolated AP at IoU 0.5 of one class (see the file header): the VOC
 * devkit's VOCevaldet / py-faster-rcnn's voc_eval with use_07_metric=False, on every detection.
 * -1 when the class has no (non-ignored) ground truth.
 */
export function vocAveragePrecision(images: readonly DetectionImage[], classIndex: number, iouThreshold = 0.5): number {
  const dets: { image: number; box: DetectedBox }[] = [];
  let npos = 0;
  images.forEach((im, i) => {
    for (const g of im.groundTruth) if (g.classIndex === classIndex && !g.crowd && !g.ignore) npos++;
    for (const d of im.detections) if (d.classIndex === classIndex) dets.push({ image: i, box: d });
  });
  if (npos === 0) return -1;
  // Highest score first; ties keep image order, then the order within the image (a stable sort).
  const order = stableOrder(dets.length, (j) => -(dets[j] as { box: DetectedBox }).box.score);
  const taken = images.map((im) => new Array<boolean>(im.groundTruth.length).fill(false));
  const tp: number[] = [];
  const fp: number[] = [];
  for (const j of order) {
    const { image, box } = dets[j] as { image: number; box: DetectedBox };
    const gts = (images[image] as DetectionImage).groundTruth;
    let best = -Infinity;
    let m = -1;
    gts.forEach((g, gi) => {
      if (g.classIndex !== classIndex || g.crowd) return;
      const iou = boxIou(box, g);
      if (iou > best) {
        best = iou;
        m = gi;
      }
    });
    let isTp = 0;
    let isFp = 0;
    if (m >= 0 && best > iouThreshold) {
      const g = gts[m] as GroundTruthBox;
      if (!g.ignore) {
        const used = taken[image] as boolean[];
        if (!used[m]) {
          used[m] = true;
          isTp = 1;
        } else isFp = 1;
      }
    } else if (!gts.some((g) => g.classIndex === classIndex && g.crowd === true && boxIou(box, g, true) > iouThreshold)) isFp = 1;
    tp.push(isTp);
    fp.push(isFp);
  }
  const eps = 2.220446049250313e-16; // np.finfo(np.float64).eps
  const mrec: number[] = [0];
  const mpre: number[] = [0];
  let ctp = 0;
  let cfp = 0;
  for (let i = 0; i < tp.length; i++) {
    ctp += tp[i] as number;
    cfp += fp[i] as number;
    mrec.push(ctp / npos);
    mpre.push(ctp / Math.max(ctp + cfp, eps));
  }
  mrec.push(1);
  mpre.push(0);
  for (let i = mpre.length - 1; i > 0; i--) mpre[i - 1] = Math.max(mpre[i - 1] as number, mpre[i] as number);
  let ap = 0;
  for (let i = 0; i + 1 < mrec.length; i++) if (mrec[i + 1] !== mrec[i]) ap += ((mrec[i + 1] as number) - (mrec[i] as number)) * (mpre[i + 1] as number);
  return ap;
}

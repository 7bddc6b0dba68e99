/**
 * Segmentation metrics: Dice and IoU per class, over all pixels of a set of
 * images, per image, and per DICOM series.
 *
 * Definitions (hard labels: one class per pixel, truth vs prediction):
 * - Pixels whose TRUE value is 255 are ignored (outside the letterbox,
 *   unlabelled); nothing else is. A predicted value that is not a class
 *   index (>= K, e.g. a value another tool wrote that the class map does not
 *   name) is a prediction of "no class": it is a miss for the true class and
 *   a false positive for none.
 * - Per class c, with TP = pixels true c and predicted c, FP = predicted c
 *   but true another class, FN = true c but predicted otherwise:
 *   Dice = 2 TP / (2 TP + FP + FN), IoU = TP / (TP + FP + FN).
 * - Over a set ("perClass", the headline numbers): TP, FP, FN are summed
 *   over all pixels of all images first (micro over pixels, per class), then
 *   Dice / IoU are computed. Per series: the same, over the series' images.
 * - EMPTY CLASS: when a class is absent from both the truth and the
 *   prediction (TP + FP + FN = 0) its Dice and IoU are undefined: null, and
 *   left out of every mean. (Not 1: a perfect score for nothing would inflate
 *   the means; the training loop's validation Dice instead returns 1 when no
 *   foreground class occurs anywhere.)
 * - Headline `dice` / `iou`: the mean over the FOREGROUND classes (index 1
 *   and up; index 0 is background) of the set-level values, nulls left out;
 *   null when every foreground class is empty. Background's own values are
 *   in perClass. Per image and per series the same rule gives their `dice` /
 *   `iou`; `meanImageDice` / `meanImageIou` average the per-image values
 *   over the images where they are defined.
 */
import { FoveaException } from '../../contract/result';

export const IGNORE_INDEX = 255;

export interface SegmentationClassMetrics {
  dice: number | null;
  iou: number | null;
  /** Pixel counts behind them. */
  truePositives: number;
  falsePositives: number;
  falseNegatives: number;
}

export interface SegmentationImageMetrics {
  itemId?: number;
  frameIndex?: number;
  seriesId?: number | null;
  /** Mean over foreground classes, nulls left out (null if all are). */
  dice: number | null;
  iou: number | null;
  perClass: Record<string, { dice: number | null; iou: number | null }>;
}

export interface SegmentationSeriesMetrics {
  seriesId: number;
  images: number;
  dice: number | null;
  iou: number | null;
  perClass: Record<string, SegmentationClassMetrics>;
}

export interface SegmentationMetrics {
  task: 'segmentation';
  /** Images scored. */
  n: number;
  /** Mean over foreground classes of the set-level values (see the header). */
  dice: number | null;
  iou: number | null;
  meanImageDice: number | null;
  meanImageIou: number | null;
  /** Every class, background included. */
  perClass: Record<string, SegmentationClassMetrics>;
  images: SegmentationImageMetrics[];
  /** DICOM images with a series, grouped by it (empty for plain images). */
  perSeries: SegmentationSeriesMetrics[];
  /** Pixels left out because their truth is 255. */
  ignoredPixels: number;
}

/** TP / FP / FN per class; float64 so counts stay exact far past 2^32 pixels. */
export interface PixelCounts {
  tp: Float64Array;
  fp: Float64Array;
  fn: Float64Array;
  ignored: number;
}

export function emptyCounts(K: number): PixelCounts {
  return { tp: new Float64Array(K), fp: new Float64Array(K), fn: new Float64Array(K), ignored: 0 };
}

/** Adds one image's pixels (same length, row-major) to `into` (or a new counter). */
export function countPixels(truth: ArrayLike<number>, pred: ArrayLike<number>, K: number, into: PixelCounts = emptyCounts(K)): PixelCounts {
  if (truth.length !== pred.length) throw new FoveaException('VALIDATION', `The truth has ${truth.length} pixels and the prediction ${pred.length}.`);
  const { tp, fp, fn } = into;
  for (let i = 0; i < truth.length; i++) {
    const t = truth[i] as number;
    if (t === IGNORE_INDEX) {
      into.ignored++;
      continue;
    }
    if (!(t >= 0 && t < K)) throw new FoveaException('VALIDATION', `A true pixel has value ${t}, which is neither a class index (0..${K - 1}) nor 255 (ignore).`);
    const p = pred[i] as number;
    if (p === t) {
      tp[t] = (tp[t] as number) + 1;
    } else {
      fn[t] = (fn[t] as number) + 1;
      if (p >= 0 && p < K) fp[p] = (fp[p] as number) + 1;
    }
  }
  return into;
}

export function addCounts(into: PixelCounts, other: PixelCounts): void {
  for (let k = 0; k < into.tp.length; k++) {
    into.tp[k] = (into.tp[k] as number) + (other.tp[k] as number);
    into.fp[k] = (into.fp[k] as number) + (other.fp[k] as number);
    into.fn[k] = (into.fn[k] as number) + (other.fn[k] as number);
  }
  into.ignored += other.ignored;
}

/** Dice and IoU of one class from its counts; null when the class is empty in both. */
export function diceIou(tp: number, fp: number, fn: number): { dice: number | null; iou: number | null } {
  const d = tp + fp + fn;
  if (d === 0) return { dice: null, iou: null };
  return { dice: (2 * tp) / (2 * tp + fp + fn), iou: tp / d };
}

function meanDefined(values: readonly (number | null)[]): number | null {
  const v = values.filter((x): x is number => x !== null);
  if (v.length === 0) return null;
  let s = 0;
  for (const x of v) s += x;
  return s / v.length;
}

/** Per-class metrics and the foreground means of a set of counts. */
export function summarizeCounts(
  counts: PixelCounts,
  classNames: readonly string[],
): { dice: number | null; iou: number | null; perClass: Record<string, SegmentationClassMetrics> } {
  const perClass: Record<string, SegmentationClassMetrics> = {};
  const dices: (number | null)[] = [];
  const ious: (number | null)[] = [];
  classNames.forEach((name, k) => {
    const tp = counts.tp[k] as number;
    const fp = counts.fp[k] as number;
    const fn = counts.fn[k] as number;
    const m = diceIou(tp, fp, fn);
    perClass[name] = { ...m, truePositives: tp, falsePositives: fp, falseNegatives: fn };
    if (k > 0) {
      dices.push(m.dice);
      ious.push(m.iou);
    }
  });
  return { dice: meanDefined(dices), iou: meanDefined(ious), perClass };
}

export interface SegmentationImageInfo {
  itemId?: number;
  frameIndex?: number;
  /** DICOM series of the image, for the per-series numbers (null / absent: none). */
  seriesId?: number | null;
}

/**
 * Accumulates images one at a time (so a large set never sits in memory)
 * and summarises them (see the file header). classNames[0] is background.
 */
export class SegmentationAccumulator {
  readonly #names: readonly string[];
  readonly #total: PixelCounts;
  readonly #series = new Map<number, { counts: PixelCounts; images: number }>();
  readonly #images: SegmentationImageMetrics[] = [];

  constructor(classNames: readonly string[]) {
    if (classNames.length < 1 || classNames.length > 255) throw new FoveaException('VALIDATION', 'Segmentation takes 1 to 255 classes (255 marks ignored pixels).');
    this.#names = [...classNames];
    this.#total = emptyCounts(classNames.length);
  }

  /** One image's truth and prediction (class indices, 255 = ignore in the truth). */
  add(truth: ArrayLike<number>, pred: ArrayLike<number>, info: SegmentationImageInfo = {}): SegmentationImageMetrics {
    const K = this.#names.length;
    const c = countPixels(truth, pred, K);
    addCounts(this.#total, c);
    const seriesId = info.seriesId ?? null;
    if (seriesId !== null) {
      let s = this.#series.get(seriesId);
      if (!s) {
        s = { counts: emptyCounts(K), images: 0 };
        this.#series.set(seriesId, s);
      }
      addCounts(s.counts, c);
      s.images++;
    }
    const sum = summarizeCounts(c, this.#names);
    const perClass: Record<string, { dice: number | null; iou: number | null }> = {};
    for (const [name, m] of Object.entries(sum.perClass)) perClass[name] = { dice: m.dice, iou: m.iou };
    const img: SegmentationImageMetrics = {
      ...(info.itemId !== undefined ? { itemId: info.itemId } : {}),
      ...(info.frameIndex !== undefined ? { frameIndex: info.frameIndex } : {}),
      ...(info.seriesId !== undefined ? { seriesId: info.seriesId } : {}),
      dice: sum.dice,
      iou: sum.iou,
      perClass,
    };
    this.#images.push(img);
    return img;
  }

  result(): SegmentationMetrics {
    const total = summarizeCounts(this.#total, this.#names);
    const perSeries: SegmentationSeriesMetrics[] = [...this.#series.entries()]
      .sort((a, b) => a[0] - b[0])
      .map(([seriesId, s]) => {
        const m = summarizeCounts(s.counts, this.#names);
        return { seriesId, images: s.images, dice: m.dice, iou: m.iou, perClass: m.perClass };
      });
    return {
      task: 'segmentation',
      n: this.#images.length,
      dice: total.dice,
      iou: total.iou,
      meanImageDice: meanDefined(this.#images.map((i) => i.dice)),
      meanImageIou: meanDefined(this.#images.map((i) => i.iou)),
      perClass: total.perClass,
      images: this.#images.slice(),
      perSeries,
      ignoredPixels: this.#total.ignored,
    };
  }
}

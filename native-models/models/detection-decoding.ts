/**
 * Detection decoding tuned on the validation split (after training, on the
 * best checkpoint): the score threshold, IoU NMS and top-k from a small grid
 * that give the highest validation AP@0.5 (mean over classes, as the epoch
 * metric). The model runs once per validation image; every grid point is
 * decoded from those candidates in plain JS (selectDetections gives exactly
 * what decodeDetections would).
 *
 * Ties: many grid points give the same AP (AP never falls when lower-scored
 * boxes are added; they only extend the precision-recall curve), and a
 * validation split is small. Among the grid points within TIE_TOLERANCE of
 * the best AP, the one that keeps the most of the defaults (score 0.05, no
 * NMS, top 100) is taken: a setting moves only where moving it measurably
 * raised validation AP. (Taking the sparsest instead would, for a model that
 * finds nothing yet, pick the highest threshold and predict no box at all.)
 */
import type { DetectionDecoding } from '../../electron/contract/ml';
import { Ap50Accumulator, selectDetections, type DetectedBox } from './detector';

/** What the detector used before tuning existed (and what an untuned run uses). */
export const DEFAULT_DECODING: DetectionDecoding = { scoreThreshold: 0.05, nmsIou: null, topK: 100 };

/** Candidates kept per image for tuning: decodeDetections(outputs, CANDIDATE_K, CANDIDATE_MIN_SCORE). */
export const CANDIDATE_K = 100;
export const CANDIDATE_MIN_SCORE = 0.01;

export const DECODING_GRID = {
  scoreThreshold: [0.01, 0.03, 0.05, 0.1, 0.2, 0.3],
  nmsIou: [null, 0.7, 0.6, 0.5, 0.4, 0.3] as (number | null)[],
  topK: [100, 50, 20],
} as const;

/**
 * AP within this of the best counts as equal (see the header). A validation split is small: on
 * Penn-Fudan's 12 validation images, NMS chosen for +0.008 validation AP lost 0.027 on the 24 test
 * images (40 epochs at 128 px), where one chosen for +0.018 gained 0.022 (20 epochs).
 */
export const TIE_TOLERANCE = 0.01;

export interface DecodingTrial {
  decoding: DetectionDecoding;
  ap50: number;
}

/** Mean AP@0.5 over the classes with ground truth, of one decoding over the candidates. */
export function apOf(candidates: readonly DetectedBox[][], truths: readonly number[][][], numClasses: number, d: DetectionDecoding): number {
  const acc = new Ap50Accumulator(numClasses);
  candidates.forEach((c, i) => acc.addImage(selectDetections(c, d), (truths[i] ?? []) as number[][]));
  return acc.result().ap50;
}

/**
 * The grid point with the highest validation AP (ties: see the header), with every trial.
 * `candidates[i]`: image i's decodeDetections(outputs, CANDIDATE_K, CANDIDATE_MIN_SCORE);
 * `truths[i]`: its [x, y, w, h, class] boxes (class -1, regions to ignore, count for nothing).
 */
export function tuneDecoding(
  candidates: readonly DetectedBox[][],
  truths: readonly number[][][],
  numClasses: number,
): { best: DetectionDecoding; ap50: number; defaultAp50: number; trials: DecodingTrial[] } {
  const trials: DecodingTrial[] = [];
  for (const scoreThreshold of DECODING_GRID.scoreThreshold) {
    for (const nmsIou of DECODING_GRID.nmsIou) {
      for (const topK of DECODING_GRID.topK) {
        const decoding = { scoreThreshold, nmsIou, topK };
        trials.push({ decoding, ap50: apOf(candidates, truths, numClasses, decoding) });
      }
    }
  }
  const top = Math.max(...trials.map((t) => t.ap50));
  const tied = trials.filter((t) => t.ap50 >= top - TIE_TOLERANCE);
  const changes = (d: DetectionDecoding): number =>
    Number(d.scoreThreshold !== DEFAULT_DECODING.scoreThreshold) + Number(d.nmsIou !== DEFAULT_DECODING.nmsIou) + Number(d.topK !== DEFAULT_DECODING.topK);
  tied.sort((a, b) => changes(a.decoding) - changes(b.decoding) || b.ap50 - a.ap50);
  const chosen = tied[0] as DecodingTrial;
  return { best: chosen.decoding, ap50: chosen.ap50, defaultAp50: apOf(candidates, truths, numClasses, DEFAULT_DECODING), trials };
}

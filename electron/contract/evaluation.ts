/**
 * Contract types of evaluation and model-assisted labeling: what the
 * evaluation screen and `fovea predict` receive. Plain data (IPC, JSON).
 *
 * The report types mirror core/evaluation's metric types (core checks at
 * compile time that its reports are assignable to these), so the UI reads
 * the stored evaluation without importing the core.
 */

import * as v from 'valibot';
import type { FoveaError } from './result';

export type EvaluationSplit = 'train' | 'val' | 'test' | 'all';

/** A view that test-time augmentation averages over (core/predict/tta.ts). */
export type TtaView = 'identity' | 'flip-horizontal' | 'flip-vertical';

const Id = v.pipe(v.number(), v.integer(), v.minValue(1));
const SplitSchema = v.picklist(['train', 'val', 'test', 'all']);

/** Request schemas of evaluation and prediction, spread into api.ts' requestSchemas. */
export const evaluationRequestSchemas = {
  /**
   * Store a run's predictions on a dataset (default: the run's own) as proposed, model-sourced
   * annotations with an uncertainty score per item. Returns the job at once; progress and the
   * report come as 'predict.progress' and 'predict.finished'. Replaces the run's earlier proposals.
   */
  'predict.start': v.strictObject({
    runId: Id,
    datasetId: v.optional(Id),
    onlyUnlabeled: v.optional(v.boolean()),
    /** Detection: the lowest score stored (default 0.25). */
    minScore: v.optional(v.pipe(v.number(), v.minValue(0), v.maxValue(1))),
    uncertainty: v.optional(v.picklist(['entropy', 'margin'])),
    /** Classification: average the probabilities over the image and its flips (test-time augmentation). */
    tta: v.optional(v.boolean()),
  }),
  /**
   * Evaluate a run's best checkpoint on a split (default test; 'all' on another dataset).
   * Returns the job at once; 'evaluation.progress' and 'evaluation.finished' follow.
   */
  'evaluation.run': v.strictObject({
    runId: Id,
    split: v.optional(SplitSchema),
    datasetId: v.optional(Id),
    /** Classification: average the probabilities over the image and its flips (test-time augmentation; VALIDATION for other tasks). */
    tta: v.optional(v.boolean()),
  }),
  /** A run's stored evaluation on a split (default test) of a dataset (default: the run's), or null. */
  'evaluation.get': v.strictObject({ runId: Id, split: v.optional(SplitSchema), datasetId: v.optional(Id) }),
  /** A run's stored evaluations, newest first. */
  'evaluation.list': v.strictObject({ runId: Id }),
  /**
   * The error gallery: the run's prediction (computed now) and the library's labels of a few
   * images, in image pixels, for drawing one over the other.
   */
  'evaluation.gallery': v.strictObject({
    runId: Id,
    datasetId: v.optional(Id),
    images: v.pipe(
      v.array(v.strictObject({ itemId: Id, frameIndex: v.pipe(v.number(), v.integer(), v.minValue(0)) })),
      v.minLength(1),
      v.maxLength(48, 'At most 48 images at a time.'),
    ),
  }),
} as const;

export interface EvaluationResponses {
  'predict.start': { jobId: string };
  'evaluation.run': { jobId: string };
  'evaluation.get': EvaluationReport | null;
  'evaluation.list': EvaluationSummary[];
  'evaluation.gallery': GalleryImage[];
}

export interface EvaluationEvents {
  /** Images predicted so far. */
  'predict.progress': { jobId: string; runId: number; done: number; total: number };
  'predict.finished': { jobId: string; runId: number; report: PredictReport | null; error: FoveaError | null };
  /** Images scored so far of `total`, and the phase ('Loading the model', 'Predicting', 'Computing metrics'). */
  'evaluation.progress': { jobId: string; runId: number; done: number; total: number; phase: string };
  /** `runName`: the name a person gave the run, for notices (runs.ts runDisplayName). */
  'evaluation.finished': { jobId: string; runId: number; runName: string | null; split: EvaluationSplit; datasetId: number | null; summary: EvaluationSummary | null; error: FoveaError | null };
}

export const EVALUATION_EVENT_NAMES = ['predict.progress', 'predict.finished', 'evaluation.progress', 'evaluation.finished'] as const satisfies readonly (keyof EvaluationEvents)[];

export interface ClassificationImageView {
  itemId: number;
  frameIndex: number;
  /** True class indices (one for single-label). */
  truth: number[];
  /** Predicted class index (single-label) or indices >= 0.5 (multi-label). */
  predicted: number[];
  probabilities: number[];
}

export interface EvaluationSourceView {
  kind: 'run';
  runId: number;
  datasetId: number;
  datasetName: string;
  ownDataset: boolean;
  split: EvaluationSplit;
  /**
   * 'image': scored in the image's own pixels (detection, segmentation); 'input' only for
   * classification, which has no geometry (the class comes from the letterboxed input).
   */
  coordinates: 'input' | 'image';
  /** Which images were scored, in words (labelled ones, labelled-empty detection negatives). */
  imageRule?: string;
  /** Detection: scored images that are labelled but hold no box (every detection there is a false positive). */
  labelledEmpty?: number;
  inputSize: number;
  classNames: string[];
  evaluatedAt: string;
  storedAt: string | null;
  failures: { itemId: number; frameIndex: number; message: string }[];
  warnings: string[];
  /** The views whose probabilities were averaged (test-time augmentation); null or absent: none, the image alone. */
  tta?: TtaView[] | null;
}

/** How an evaluation's source says whether test-time augmentation was used, in words. */
export function ttaText(views: readonly TtaView[] | null | undefined): string {
  if (!views || views.length <= 1) return 'no test-time augmentation';
  const flips = views.filter((v) => v !== 'identity').map((v) => (v === 'flip-horizontal' ? 'left-right' : 'up-down'));
  return `test-time augmentation: mean of the image and its ${flips.join(' and ')} flip${flips.length > 1 ? 's' : ''}`;
}

export interface ClassificationReport {
  task: 'classification';
  multiLabel: boolean;
  n: number;
  accuracy: number;
  macro: { precision: number; recall: number; f1: number };
  perClass: Record<string, { precision: number; recall: number; f1: number; support: number }>;
  /** Rows: true class; columns: predicted. Null for multi-label. */
  confusionMatrix: { labels: string[]; matrix: number[][] } | null;
  multilabelConfusion?: Record<string, [[number, number], [number, number]]>;
  auc: { macro: number | null; perClass: Record<string, number | null> };
  averagePrecision: { macro: number | null; perClass: Record<string, number | null> };
  curves: {
    roc: Record<string, { fpr: number[]; tpr: number[]; thresholds: (number | null)[] } | null>;
    pr: Record<string, { precision: number[]; recall: number[]; thresholds: number[] } | null>;
  };
  images: ClassificationImageView[];
  /** Single-label: the same metrics per DICOM series and per patient (mean probability; core/evaluation/grouped-classification.ts). */
  perSeries?: GroupedClassificationView | null;
  perPatient?: GroupedClassificationView | null;
  source: EvaluationSourceView;
}

/**
 * Classification scored per series or per patient: each group's probabilities are the mean of its
 * images', its truth their most frequent true class (see core/evaluation/grouped-classification.ts).
 */
export interface GroupedClassificationView {
  by: 'series' | 'patient';
  groups: number;
  /** Groups whose images have more than one true class (scored with the most frequent). */
  mixedTruth: number;
  /** Images in no series or patient (plain images), left out. */
  ungrouped: number;
  accuracy: number;
  macro: { precision: number; recall: number; f1: number };
  perClass: Record<string, { precision: number; recall: number; f1: number; support: number }>;
  confusionMatrix: { labels: string[]; matrix: number[][] } | null;
  auc: { macro: number | null; perClass: Record<string, number | null> };
  averagePrecision: { macro: number | null; perClass: Record<string, number | null> };
  /** One row per group, in the order of their first image. `label`: "series 12", "patient 3" (no Patient ID: reports leave the library). */
  rows: { label: string; firstItemId: number; images: number; truth: number; predicted: number; probabilities: number[] }[];
}

/** The 12 numbers of pycocotools' COCOeval.summarize(), in its order (stats[0..11]). */
export interface CocoSummary {
  AP: number;
  AP50: number;
  AP75: number;
  APsmall: number;
  APmedium: number;
  APlarge: number;
  AR1: number;
  AR10: number;
  AR100: number;
  ARsmall: number;
  ARmedium: number;
  ARlarge: number;
}

export interface DetectionReport {
  task: 'detection';
  n: number;
  mAP50: number;
  mAP75: number;
  mAP: number;
  mAR1: number;
  mAR10: number;
  mAR100: number;
  /** pycocotools' COCOeval.summarize() 12 numbers (-1 where a range has no ground truth). */
  cocoSummary: CocoSummary;
  /** Pascal VOC all-point interpolated AP@0.5, mean over classes with ground truth (-1 if none). */
  vocAP50: number;
  perClass: Record<string, { ap50: number; ap75: number; ap: number; ar100: number; vocAp50: number; groundTruth: number; detections: number }>;
  images: {
    index: number;
    itemId?: number;
    frameIndex?: number;
    truePositives: number;
    falsePositives: number;
    falseNegatives: number;
    detections: { box: [number, number, number, number]; classIndex: number; score: number; matched: number | null; iou: number; ignored: boolean }[];
    missed: number[];
  }[];
  source: EvaluationSourceView;
}

export interface SegmentationReport {
  task: 'segmentation';
  n: number;
  dice: number | null;
  iou: number | null;
  meanImageDice: number | null;
  meanImageIou: number | null;
  perClass: Record<string, { dice: number | null; iou: number | null; truePositives: number; falsePositives: number; falseNegatives: number }>;
  images: { itemId?: number; frameIndex?: number; seriesId?: number | null; dice: number | null; iou: number | null; perClass: Record<string, { dice: number | null; iou: number | null }> }[];
  perSeries: { seriesId: number; images: number; dice: number | null; iou: number | null }[];
  ignoredPixels: number;
  source: EvaluationSourceView;
}

/** A run's stored evaluation on one split of one dataset. */
export type EvaluationReport = ClassificationReport | DetectionReport | SegmentationReport;

/** One stored evaluation, as listed. */
export interface EvaluationSummary {
  runId: number;
  datasetId: number;
  split: EvaluationSplit;
  task: 'classification' | 'detection' | 'segmentation';
  createdAt: string;
  n: number;
  /** accuracy, mAP50 or dice. */
  headline: { name: string; value: number | null };
}

/** A shape drawn over an image, in IMAGE pixel coordinates. */
export type OverlayShape =
  | { kind: 'class'; classIndex: number; className: string; score: number | null }
  | { kind: 'box'; classIndex: number; className: string; score: number | null; x: number; y: number; width: number; height: number }
  /** Column-major COCO RLE, uncompressed counts. */
  | { kind: 'mask'; classIndex: number; className: string; score: number | null; rle: { size: [number, number]; counts: number[] } };

/** One image of the error gallery: the run's prediction and the library's truth. */
export interface GalleryImage {
  itemId: number;
  frameIndex: number;
  sourceName: string;
  /** What a person sees as its name (display-name.ts). */
  displayName: string;
  thumbSha256: string | null;
  width: number;
  height: number;
  truth: OverlayShape[];
  prediction: OverlayShape[];
}

/** What a predict pass did. */
export interface PredictReport {
  runId: number;
  datasetId: number;
  task: 'classification' | 'detection' | 'segmentation';
  /** Images (item, frame) the model saw. */
  images: number;
  /** Items that got an uncertainty score. */
  items: number;
  /** Proposed annotations written. */
  proposed: number;
  /** This run's earlier proposals replaced (deleted). */
  replaced: number;
  onlyUnlabeled: boolean;
  uncertaintyMethod: string;
  /** The views averaged (test-time augmentation), or null for the image alone. */
  tta?: TtaView[] | null;
  /** Images that could not be read, with the reason. */
  failures: { itemId: number; frameIndex: number; message: string }[];
  seconds: number;
}

/**
 * A training recipe planned from the data (nnU-Net's idea): every decision
 * with the numbers it came from and a sentence that says why, so the
 * Training screen, `fovea train --plan-only` and the run's report can show
 * it. Plain data; stored with the run (TrainConfig.plan). The planner is
 * deterministic: the same labelled data gives the same plan.
 */
import type { TrainConfig } from './ml';

/** One planned value, its reason, and where a value is measured, the measurement. */
export interface PlanDecision<T> {
  value: T;
  reason: string;
}

/** Size of the labelled objects of one class, in source pixels. */
export interface ObjectSizeSummary {
  className: string;
  objects: number;
  /**
   * Segmentation: thickness 2 * area / perimeter of each labelled shape (a
   * line w pixels wide gives w); detection: the shorter box side.
   */
  median: number;
  p10: number;
}

export interface RecipePlan {
  format: 'fovea-recipe-plan';
  version: 1;
  task: TrainConfig['task'];
  /** What the plan saw. */
  data: {
    images: number;
    /** Median width and height of the images, in pixels. */
    medianSize: [number, number];
    minSide: number;
    maxSide: number;
    /** Dominant kind of image: a DICOM modality (CT, MR, ...), 'photo' (colour, not DICOM) or 'grey' (grey, not DICOM). */
    modality: string;
    objectSizes: ObjectSizeSummary[];
    /** Segmentation: fraction of labelled pixels per class (background first); classification: of images per class. */
    classFractions: number[];
    /** CT only: Hounsfield units of the foreground (labelled pixels; else body pixels above -500 HU), sampled. */
    foregroundHu: { p005: number; p995: number; median: number; samples: number } | null;
  };
  normalization: PlanDecision<TrainConfig['normalization']>;
  /** Fraction of native resolution the model sees (1: native). */
  resolution: PlanDecision<number>;
  /** Whole images letterboxed to the input, or patches cut at native resolution. */
  sampling: PlanDecision<{ mode: 'whole-image' | 'patches'; inputSize: number; foregroundProbability: number; patchesPerImage: number }>;
  batch: PlanDecision<{ batchSize: number; bytesPerSample: number; memoryBudgetBytes: number }>;
  /** Per-class loss weights (null: none). */
  classWeights: PlanDecision<number[] | null>;
  /** DICOM series: single slices or neighbour slices as channels. */
  slices: PlanDecision<{ recommended: '2d' | '2.5d' | 'not-a-series'; applied: '2d' | '2.5d' | 'not-a-series' }>;
  epochs: PlanDecision<number>;
  /**
   * Classification under a time budget of at least SHORT_BUDGET_SECONDS: mixup, with the longer
   * patience of `schedule`. Absent or null otherwise, and in plans stored before it existed (plans
   * stored before `schedule` carry that patience here too).
   */
  regularization?: PlanDecision<{ mixup: number }> | null;
  /**
   * A run with a time budget: the learning-rate schedule (constant unless the user chose the cosine);
   * segmentation and detection without early stopping unless the user set a patience (the budget
   * ends the run), classification (budget of 3 minutes or more) with a patience of 15. Absent or
   * null otherwise, and in plans stored before it existed.
   */
  schedule?: PlanDecision<{ lrSchedule: 'constant' | 'cosine'; earlyStoppingPatience: number }> | null;
  /**
   * Segmentation and detection: the pretrained encoder the network is built on (null: none, trained
   * from scratch). Absent in plans stored before it existed.
   */
  encoder?: PlanDecision<TrainConfig['encoder']> | null;
  /** Set when the run has a time budget (see time-budget.ts). */
  timeBudget: PlanDecision<{ seconds: number; secondsPerStep: number | null; stepsPerEpoch: number }> | null;
}

/** Patch sampling of a segmentation run (TrainConfig.patch): tiles cut at native resolution. */
export interface PatchSampling {
  /** Fraction of patches centred on a labelled (foreground) pixel; the rest are uniform. */
  foregroundProbability: number;
  /** Patches drawn from each training image per epoch. */
  patchesPerImage: number;
}

/** A plan's decisions with their reasons, in the order the CLI, the Training screen and the report show them. */
export function planDecisions(plan: RecipePlan): { label: string; reason: string }[] {
  const rows: [string, PlanDecision<unknown> | null][] = [
    ['resolution', plan.resolution],
    ['sampling', plan.sampling],
    ['normalisation', plan.normalization],
    ['batch', plan.batch],
    ['class weights', plan.classWeights],
    ['slices', plan.slices],
    ['epochs', plan.epochs],
    ['regularisation', plan.regularization ?? null],
    ['schedule', plan.schedule ?? null],
    ['encoder', plan.encoder ?? null],
    ['time budget', plan.timeBudget],
  ];
  return rows.flatMap(([label, d]) => (d ? [{ label, reason: d.reason }] : []));
}

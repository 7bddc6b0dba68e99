/**
 * The training loop's contract (issue 19): a run's name and notes, the
 * learning rate and augmentation a run may be started with, comparing runs,
 * and the binary decision-threshold metrics the Evaluation screen's slider
 * shows. Pure: the threshold metrics are a function here so the core, the UI
 * and the tests compute them the same way (scikit-learn's rule, see
 * `thresholdMetrics`).
 */
import * as v from 'valibot';
import type { RunDetail, RunSummary } from './domain';
import { hasUnsafeChar, WITHOUT_UNSAFE_CHARS } from './unsafe-chars';

const Id = v.pipe(v.number(), v.integer(), v.minValue(1));

/** A run's name: trimmed, at most 120 characters, no control or invisible characters; '' clears it. */
export const RunNameSchema = v.pipe(
  v.string(),
  v.trim(),
  v.maxLength(120, 'Run names are at most 120 characters.'),
  v.regex(WITHOUT_UNSAFE_CHARS, 'Run names cannot contain control or invisible characters.'),
);

/** Notes: free text (line breaks and tabs allowed), at most 10,000 characters. */
export const RunNotesSchema = v.pipe(
  v.string(),
  v.maxLength(10_000, 'Run notes are at most 10,000 characters.'),
  // The names' rule (unsafe-chars.ts) with line breaks and tabs allowed: notes are prose.
  v.check((s) => !hasUnsafeChar(s.replace(/[\n\r\t]/g, ' ')), 'Run notes cannot contain control, bidi or invisible characters (line breaks and tabs are fine).'),
);

/** The learning rate a run starts with: above 0, at most 1. */
export const LearningRateSchema = v.pipe(
  v.number('The learning rate is a number.'),
  v.check((x) => Number.isFinite(x) && x > 0, 'The learning rate must be above 0.'),
  v.maxValue(1, 'The learning rate is at most 1 (typical: 0.0001 to 0.01).'),
);

/** Early stopping: epochs without a better validation score before a run stops; 0 never stops early. */
export const EarlyStoppingPatienceSchema = v.pipe(
  v.number('Early stopping patience is a whole number of epochs.'),
  v.integer('Early stopping patience is a whole number of epochs.'),
  v.minValue(0, 'Early stopping patience is 0 (never stop early) or more epochs.'),
  v.maxValue(10_000, 'Early stopping patience is at most 10,000 epochs.'),
);

/** Classification: label smoothing epsilon, 0 (none) to 0.5. */
export const LabelSmoothingSchema = v.pipe(
  v.number('Label smoothing is a number from 0 to 0.5.'),
  v.check((x) => Number.isFinite(x) && x >= 0 && x <= 0.5, 'Label smoothing is 0 (none) to 0.5 (typical: 0.1).'),
);

/** Classification: a mixup or CutMix Beta(alpha, alpha) parameter, 0 (off) to 10. */
const mixAlphaSchema = (what: string) =>
  v.pipe(v.number(`${what} alpha is a number from 0 to 10.`), v.check((x) => Number.isFinite(x) && x >= 0 && x <= 10, `${what} alpha is 0 (off) to 10 (typical: ${what === 'Mixup' ? '0.2' : '1'}).`));
export const MixupAlphaSchema = mixAlphaSchema('Mixup');
export const CutmixAlphaSchema = mixAlphaSchema('CutMix');

/** Augmentation choices (contract/ml.ts AugmentConfig); what is left out keeps the task's default. */
export const AugmentSchema = v.strictObject({
  flipHorizontal: v.optional(v.boolean()),
  flipVertical: v.optional(v.boolean()),
  rotateDegrees: v.optional(v.pipe(v.number(), v.minValue(0, 'Rotation is 0 to 180 degrees.'), v.maxValue(180, 'Rotation is 0 to 180 degrees.'))),
  scale: v.optional(v.pipe(v.number(), v.minValue(0, 'Scale jitter is 0 to 0.9.'), v.maxValue(0.9, 'Scale jitter is 0 to 0.9.'))),
  intensity: v.optional(v.pipe(v.number(), v.minValue(0, 'Intensity jitter is 0 to 1.'), v.maxValue(1, 'Intensity jitter is 0 to 1.'))),
  translate: v.optional(v.pipe(v.number(), v.minValue(0, 'Translation is 0 to 0.5 of the input side.'), v.maxValue(0.5, 'Translation is 0 to 0.5 of the input side.'))),
  saturation: v.optional(v.pipe(v.number(), v.minValue(0, 'Saturation jitter is 0 to 1.'), v.maxValue(1, 'Saturation jitter is 0 to 1.'))),
  minBoxVisibility: v.optional(v.pipe(v.number(), v.minValue(0, 'Box visibility is 0 to 1.'), v.maxValue(1, 'Box visibility is 0 to 1.'))),
  multiScale: v.optional(v.pipe(v.number(), v.minValue(0, 'Multi-scale is 0 to 0.5 of the input size.'), v.maxValue(0.5, 'Multi-scale is 0 to 0.5 of the input size.'))),
  /** Detection: copy-paste probability per training image (0: off). */
  copyPaste: v.optional(v.pipe(v.number('Copy-paste is a probability from 0 (off) to 1.'), v.check((x) => Number.isFinite(x) && x >= 0 && x <= 1, 'Copy-paste is a probability from 0 (off) to 1.'))),
});

/**
 * What is wrong with a learning rate and augmentation choices ('training.start' refuses them with
 * the same message), or null: lets a form say it before any request.
 */
export function runRecipeProblem(learningRate: number | null | undefined, augment: Record<string, unknown>): string | null {
  const given = Object.fromEntries(Object.entries(augment).filter(([, x]) => x !== undefined && x !== null));
  const r = v.safeParse(v.strictObject({ learningRate: v.optional(LearningRateSchema), augment: AugmentSchema }), {
    ...(learningRate === null || learningRate === undefined ? {} : { learningRate }),
    augment: given,
  });
  return r.success ? null : (r.issues[0]?.message ?? 'Invalid learning rate or augmentation.');
}

/** Fields 'training.start' takes besides the data and size choices (spread into its schema in api.ts). */
export const LrScheduleSchema = v.picklist(['constant', 'cosine'], 'The learning-rate schedule is constant or cosine.');

export const EncoderSchema = v.picklist(['imagenet-mobilenetv2'], 'The pretrained encoder is imagenet-mobilenetv2 (or none).');

/** What is wrong with a pretrained encoder for this task (null: fine). */
export function encoderProblem(task: string, encoder: string | null | undefined): string | null {
  if (encoder == null) return null;
  if (task !== 'segmentation' && task !== 'detection') return `The pretrained encoder is for segmentation and detection runs (this is a ${task} run).`;
  return null;
}

export const trainingStartRunFields = {
  /** The run's name (shown in every list instead of "run 3"). */
  name: v.optional(RunNameSchema),
  notes: v.optional(RunNotesSchema),
  learningRate: v.optional(LearningRateSchema),
  augment: v.optional(AugmentSchema),
  /** Epochs without a better validation score before the run stops (0: it runs every epoch); default: the task's. */
  earlyStoppingPatience: v.optional(EarlyStoppingPatienceSchema),
  /** The learning-rate schedule (TrainConfig.lrSchedule); default: cosine with a time budget, else constant. */
  lrSchedule: v.optional(LrScheduleSchema),
  /** Segmentation and detection: the pretrained encoder (TrainConfig.encoder), null for none; default: the plan's choice (none without a plan). */
  encoder: v.optional(v.nullable(EncoderSchema)),
  /**
   * Warm start: begin from this finished run's best weights (same task). Same classes: every layer
   * is loaded; other classes: all but the head, which is new. Refused (VALIDATION, naming the first
   * layer that does not fit by name and shape) before a run exists.
   */
  warmStartRunId: v.optional(Id),
  /**
   * Warm start from a model of the library instead, by its name (an imported ONNX model of the
   * same task, matched by layer order and shape). Not with warmStartRunId.
   */
  warmStartModel: v.optional(v.pipe(v.string(), v.minLength(1, 'A model needs a name.'), v.maxLength(64, 'Model names are at most 64 characters.'))),
  /** Classification only (else VALIDATION): label smoothing epsilon (default 0: none). */
  labelSmoothing: v.optional(LabelSmoothingSchema),
  /** Classification only: mixup alpha (default 0: off). */
  mixup: v.optional(MixupAlphaSchema),
  /** Classification only: CutMix alpha (default 0: off). */
  cutmix: v.optional(CutmixAlphaSchema),
};

/** "started from run 4 (12 layers loaded, head new)": how a warm-started run says where it began. */
export function describeWarmStart(w: { runId: number | null; model?: string; layersLoaded: number; layersNew: number }): string {
  const from = w.runId !== null ? `run ${w.runId}` : `model ${w.model ?? '?'}`;
  const layers = `${w.layersLoaded} layer${w.layersLoaded === 1 ? '' : 's'}`;
  return `started from ${from} (${w.layersNew > 0 ? `${layers} loaded, head new` : `all ${layers} loaded`})`;
}

/**
 * What is wrong with classification regularisation choices (label smoothing, mixup, CutMix) for a
 * task, or null: 'training.start' refuses them with the same message, and a form can say it first.
 */
export function regularisationProblem(task: string, choices: { labelSmoothing?: number | null | undefined; mixup?: number | null | undefined; cutmix?: number | null | undefined }): string | null {
  const given = Object.fromEntries(Object.entries(choices).filter(([, x]) => x !== undefined && x !== null));
  const r = v.safeParse(v.strictObject({ labelSmoothing: v.optional(LabelSmoothingSchema), mixup: v.optional(MixupAlphaSchema), cutmix: v.optional(CutmixAlphaSchema) }), given);
  if (!r.success) return r.issues[0]?.message ?? 'Invalid regularisation.';
  const on = Object.entries(given).filter(([, x]) => (x as number) > 0);
  if (task !== 'classification' && on.length > 0) return `Label smoothing, mixup and CutMix apply to classification runs only (a ${task} run was asked for).`;
  return null;
}

/**
 * What is wrong with a copy-paste probability for a task, or null: 'training.start' refuses it with
 * the same message (and, for detection, a dataset without any object mask or polygon), and a form can say it first.
 */
export function copyPasteProblem(task: string, copyPaste: number | null | undefined): string | null {
  if (copyPaste === null || copyPaste === undefined) return null;
  if (!(Number.isFinite(copyPaste) && copyPaste >= 0 && copyPaste <= 1)) return 'Copy-paste is a probability from 0 (off) to 1.';
  if (copyPaste > 0 && task !== 'detection') return `Copy-paste augmentation applies to detection runs only (a ${task} run was asked for).`;
  return null;
}

/** Why copy-paste cannot run on a dataset: no object has an outline to cut out. */
export const COPY_PASTE_NEEDS_MASKS =
  'Copy-paste pastes objects cut out along their masks, and no detection object of this dataset has an instance mask or a polygon (boxes only). ' +
  'Import instance masks (fovea import-labels MASKS --format masks --instances CLASS) or draw polygons, or set copy-paste to 0.';

/** A classification run's label smoothing, mixup and CutMix in words ("label smoothing 0.1 · mixup α 0.2"), or null when none is on. */
export function describeRegularisation(config: { labelSmoothing?: number | undefined; mixup?: number | undefined; cutmix?: number | undefined }): string | null {
  const parts: string[] = [];
  if ((config.labelSmoothing ?? 0) > 0) parts.push(`label smoothing ${config.labelSmoothing}`);
  if ((config.mixup ?? 0) > 0) parts.push(`mixup α ${config.mixup}`);
  if ((config.cutmix ?? 0) > 0) parts.push(`CutMix α ${config.cutmix}`);
  return parts.length ? parts.join(' · ') : null;
}

/** Request schemas of runs, spread into api.ts' requestSchemas. */
export const runRequestSchemas = {
  /** Rename a run and/or change its notes (a name of '' clears it). Audited. */
  'runs.update': v.pipe(
    v.strictObject({ runId: Id, name: v.optional(RunNameSchema), notes: v.optional(RunNotesSchema) }),
    v.check((p) => p.name !== undefined || p.notes !== undefined, 'Give a name or notes to change.'),
  ),
  /**
   * Two or more runs side by side: their curves and metrics. They must be of one dataset and one
   * task (VALIDATION otherwise): curves of different data are not comparable.
   */
  'runs.compare': v.strictObject({
    runIds: v.pipe(v.array(Id), v.minLength(2, 'Choose at least two runs to compare.'), v.maxLength(8, 'Compare at most 8 runs at a time.')),
  }),
} as const;

export interface RunResponses {
  'runs.update': RunSummary;
  'runs.compare': RunComparison;
}

/** Runs compared: their details in the order asked for, and the metric names they share. */
export interface RunComparison {
  datasetId: number;
  task: RunSummary['task'];
  runs: RunDetail[];
  /** Validation metric names present in every run's curve (e.g. accuracy; dice, iou). */
  metricNames: string[];
}

/** What a run is called on screen and in the CLI: its name, else "run N". */
export function runDisplayName(run: { id: number; name: string | null }): string {
  return run.name ? run.name : `run ${run.id}`;
}

/**
 * A run's duration in seconds: start to finish, or to `now` while it runs; null for a run whose
 * end is not known (interrupted). A resumed run counts from its first start.
 */
export function runDurationSeconds(run: { createdAt: string; finishedAt: string | null; status: string }, now = Date.now()): number | null {
  const start = Date.parse(run.createdAt);
  const end = run.finishedAt ? Date.parse(run.finishedAt) : run.status === 'running' ? now : NaN;
  return Number.isFinite(start) && Number.isFinite(end) ? Math.max(0, (end - start) / 1000) : null;
}

/** A duration in seconds as "45 s", "12 min 5 s", "3 h 4 min". */
export function formatRunDuration(seconds: number | null): string {
  if (seconds === null || !Number.isFinite(seconds) || seconds < 0) return '—';
  const s = Math.round(seconds);
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
}

/** Binary metrics at one decision threshold. */
export interface ThresholdMetrics {
  threshold: number;
  /** Images with a positive truth / a negative truth. */
  positives: number;
  negatives: number;
  tp: number;
  fp: number;
  fn: number;
  tn: number;
  /** Recall of the positive class, tp / (tp + fn); the ROC point's y. 0 when there is no positive. */
  sensitivity: number;
  /** tn / (tn + fp); 1 - specificity is the ROC point's x. 0 when there is no negative. */
  specificity: number;
  /** tp / (tp + fp), 0 when nothing is predicted positive (scikit-learn's zero_division=0). */
  precision: number;
  /** 2PR / (P + R), 0 when P + R = 0. */
  f1: number;
  accuracy: number;
  /** The ROC point: false-positive rate (1 - specificity) and true-positive rate (sensitivity). */
  fpr: number;
  tpr: number;
}

/**
 * The confusion matrix and metrics of a binary classifier at `threshold`: an image is predicted
 * positive when its score is >= threshold, which is scikit-learn's rule
 * (`y_pred = scores >= t`; roc_curve's points are these at its thresholds). Equal to
 * sklearn.metrics.confusion_matrix(y, y_pred, labels=[0, 1]), recall_score, precision_score and
 * f1_score with zero_division=0 (test/reference/sklearn_threshold.py checks it). Scores must be
 * finite; a non-finite threshold or score is a RangeError.
 */
export function thresholdMetrics(positive: readonly boolean[], scores: readonly number[], threshold: number): ThresholdMetrics {
  if (positive.length !== scores.length) throw new RangeError(`${positive.length} labels but ${scores.length} scores.`);
  if (!Number.isFinite(threshold)) throw new RangeError('The threshold must be a finite number.');
  let tp = 0;
  let fp = 0;
  let fn = 0;
  let tn = 0;
  for (let i = 0; i < scores.length; i++) {
    const s = scores[i] as number;
    if (!Number.isFinite(s)) throw new RangeError(`Score ${i} is not a finite number.`);
    const p = s >= threshold;
    if (positive[i]) {
      if (p) tp++;
      else fn++;
    } else if (p) fp++;
    else tn++;
  }
  const sensitivity = tp + fn === 0 ? 0 : tp / (tp + fn);
  const specificity = tn + fp === 0 ? 0 : tn / (tn + fp);
  const precision = tp + fp === 0 ? 0 : tp / (tp + fp);
  const f1 = precision + sensitivity === 0 ? 0 : (2 * precision * sensitivity) / (precision + sensitivity);
  const n = scores.length;
  return {
    threshold,
    positives: tp + fn,
    negatives: tn + fp,
    tp,
    fp,
    fn,
    tn,
    sensitivity,
    specificity,
    precision,
    f1,
    accuracy: n === 0 ? 0 : (tp + tn) / n,
    fpr: tn + fp === 0 ? 0 : fp / (tn + fp),
    tpr: sensitivity,
  };
}

/**
 * The binary view of a single-label two-class report's images: truth "is class 1" and the
 * score of class 1 (the positive class, as roc_auc_score takes it). Null for anything else.
 */
export function binaryScores(images: readonly { truth: number[]; probabilities: number[] }[], classCount: number, multiLabel: boolean): { positive: boolean[]; scores: number[] } | null {
  if (classCount !== 2 || multiLabel) return null;
  return { positive: images.map((i) => i.truth[0] === 1), scores: images.map((i) => i.probabilities[1] ?? 0) };
}

/** A run named with its number, for headings and lists: "name #N", or "run #N" when it has no name. */
export function runLabel(run: { id: number; name: string | null }): string {
  return run.name ? `${run.name} #${run.id}` : `run #${run.id}`;
}

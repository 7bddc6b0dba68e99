/**
 * The recipe planner: TrainConfig decisions from measured facts about the
 * labelled data (nnU-Net's "data fingerprint -> plan"). Pure and
 * deterministic: no I/O, no clock, no randomness; recipe-facts.ts measures.
 *
 * Rules, each with its reason in the plan:
 * - Resolution. A structure must keep at least MIN_STRUCTURE_PX pixels
 *   across at the model's input (a vessel 2 px wide disappears when a
 *   565 px fundus is letterboxed to 128 px). The scale is the largest
 *   reduction that keeps the thinnest class's median thickness (detection:
 *   the 10th percentile of the boxes' shorter side, for MIN_BOX_PX) at that.
 * - Segmentation sampling. When the image at that scale fits the
 *   whole-image input cap, whole images are letterboxed to it; else patches
 *   are cut at native resolution (nnU-Net), as large as memory and the
 *   compute cap allow, with a foreground bias (a third of patches centred on
 *   a labelled pixel, half when a class covers under 1% of the pixels), and
 *   enough patches per image per epoch to cover it about once.
 * - Batch from memory: the U-Net/classifier/detector's activation bytes per
 *   input pixel (measured with estimateTrainingBytes on the default models,
 *   a lower bound, hence a budget well under the wasm heap's 4 GiB).
 * - Normalisation by modality: CT windowed at the 0.5 and 99.5 percentiles
 *   of foreground HU; MR z-score per image (nnU-Net; the region rule is in
 *   sample-loader.ts); other grey images min/max per image; photos /255 per
 *   channel.
 * - Imbalance: segmentation and classification weight the loss by
 *   inverse class frequency ('balanced'); detection has none (its heatmap
 *   focal loss already handles the background).
 * - Series: 2.5D (neighbour slices as channels) is recommended for series of
 *   at least 3 slices whose slice spacing is at most 3x the pixel spacing,
 *   and applied for segmentation (slice below, slice, slice above as 3
 *   channels: slice-neighbours.ts); classification and detection train 2D
 *   slices and the plan says so.
 */
import { LR_COSINE_FLOOR, type TaskKind, type TrainConfig } from '../../contract/ml';
import type { ObjectSizeSummary, PlanDecision, RecipePlan } from '../../contract/recipe';

/** Pixels a segmented structure keeps across at the model's input. */
export const MIN_STRUCTURE_PX = 3;
/** Pixels of a box's shorter side at the detector's input (4 cells of its stride-4 heatmap). */
export const MIN_BOX_PX = 16;
/** Activation memory per sample the plan may use (the wasm heap holds 4 GiB; the estimate is a lower bound). */
export const DEFAULT_MEMORY_BUDGET = 1024 * 2 ** 20;
/**
 * Training bytes per input pixel per sample of the default models
 * (estimateTrainingBytes at 64-256 px: U-Net 1900, classifier ~476, detector ~249).
 */
export const BYTES_PER_PIXEL: Record<TaskKind, number> = { segmentation: 1900, classification: 480, detection: 250 };

/** The largest side a whole image is letterboxed to, and the largest patch, per kind of backend. */
export const INPUT_CAPS = {
  cpu: { segmentationWhole: 160, patch: 128, detection: 384, classification: 128 },
  accelerator: { segmentationWhole: 256, patch: 256, detection: 512, classification: 224 },
} as const;

export interface SliceFacts {
  /** Series with at least one labelled slice. */
  series: number;
  /** Median labelled slices per series. */
  medianSlices: number;
  /** Median distance between neighbouring slices (mm), and the median in-plane pixel spacing (mm). */
  sliceSpacing: number | null;
  pixelSpacing: number | null;
}

export interface DatasetFacts {
  task: TaskKind;
  classNames: string[];
  channels: 1 | 3;
  images: { width: number; height: number }[];
  modality: string;
  objectSizes: ObjectSizeSummary[];
  classFractions: number[];
  foregroundHu: RecipePlan['data']['foregroundHu'];
  slices: SliceFacts | null;
}

export interface PlanOptions {
  /** The defaults the plan starts from (MlEngine.defaultConfig). */
  defaults: TrainConfig;
  /** A GPU or native TensorFlow backend: larger inputs are affordable. */
  accelerator?: boolean;
  memoryBudgetBytes?: number;
  /** Train for at most this long (TrainConfig.timeBudgetSeconds). */
  timeBudgetSeconds?: number | null;
  /** The user chose the early-stopping patience (defaults.earlyStoppingPatience holds it): the plan keeps it. */
  patienceChosen?: boolean;
  /** The learning-rate schedule the user chose (TrainConfig.lrSchedule): the plan keeps it. */
  lrSchedule?: 'constant' | 'cosine';
  /** The pretrained encoder the user chose (null: none); undefined: the plan decides. */
  encoder?: TrainConfig['encoder'];
}

/** Epochs of a budgeted run: the budget, not this, ends it. */
export const BUDGET_EPOCHS = 1000;
/** Under this budget on a CPU, inputs are at most SHORT_BUDGET_SIDE so that several epochs fit. */
export const SHORT_BUDGET_SECONDS = 180;
export const SHORT_BUDGET_SIDE = 64;

/**
 * Classification under a budget of at least SHORT_BUDGET_SECONDS: mixup's alpha (with the schedule
 * decision's cosine, the budget rather than a plateau ends the run). Measured on PneumoniaMNIST
 * (figures in native-models/models/defaults.ts).
 */
export const BUDGET_MIXUP = 0.2;

const median = (xs: readonly number[]): number => {
  if (xs.length === 0) return 0;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
};

const roundTo = (v: number, step: number): number => Math.max(step, Math.round(v / step) * step);
const floorTo = (v: number, step: number): number => Math.max(step, Math.floor(v / step) * step);
const ceilTo = (v: number, step: number): number => Math.max(step, Math.ceil(v / step) * step);
const fmt = (v: number): string => (Math.abs(v) >= 10 ? v.toFixed(0) : v.toFixed(1));

const earlyStopping = (patience: number): string =>
  patience > 0 ? `with early stopping after ${patience} epochs without improvement` : 'without early stopping (patience 0)';

function normalizationDecision(facts: DatasetFacts): PlanDecision<TrainConfig['normalization']> {
  if (facts.modality === 'CT' && facts.foregroundHu && facts.foregroundHu.p995 > facts.foregroundHu.p005) {
    const { p005, p995, samples } = facts.foregroundHu;
    return {
      value: { kind: 'window', center: Math.round((p005 + p995) / 2), width: Math.max(2, Math.round(p995 - p005)) },
      reason: `CT: clipped at the 0.5 and 99.5 percentiles of foreground HU (${fmt(p005)} to ${fmt(p995)} HU over ${samples} sampled pixels), as nnU-Net, so every scan maps the same tissue to the same value.`,
    };
  }
  if (facts.modality === 'CT') return { value: { kind: 'per-image' }, reason: 'CT, but no foreground pixels could be sampled for HU percentiles: min/max per image.' };
  if (facts.modality === 'photo') return { value: { kind: 'unit' }, reason: 'Photographs: each channel divided by 255 (its stored range), the same mapping for every image.' };
  if (facts.modality === 'MR') {
    return {
      value: { kind: 'zscore' },
      reason:
        'MR intensities have no absolute scale: z-score per image ((x - mean) / std), as nnU-Net. Over the whole image (nnU-Net\'s default for MR: ' +
        'min/max would hang on one bright outlier pixel, the mean and std on all of them), except in images at least a quarter exactly 0 ' +
        '(masked or skull-stripped), where the zeros are outside the body: there over the nonzero pixels, the zeros staying 0 (nnU-Net\'s nonzero mask).',
    };
  }
  return { value: { kind: 'per-image' }, reason: `${facts.modality} images with no fixed intensity scale: normalised per image (min/max to [0, 1]).` };
}

function classWeightsDecision(facts: DatasetFacts): PlanDecision<number[] | null> {
  if (facts.task === 'detection') return { value: null, reason: 'Detection: no class weights (the heatmap focal loss down-weights the easy background).' };
  const f = facts.classFractions;
  const present = f.filter((x) => x > 0);
  if (present.length === 0) return { value: null, reason: 'No labelled pixels or images to count.' };
  const ratio = Math.max(...present) / Math.min(...present);
  if (facts.task === 'classification' && ratio < 1.5) return { value: null, reason: `Classes are balanced (largest/smallest ${ratio.toFixed(2)}): no weights.` };
  const weights = f.map((x) => (x > 0 ? 1 / (present.length * x) : 0));
  return {
    value: weights.map((w) => Number(w.toFixed(4))),
    reason: `Inverse class frequency ('balanced'): the largest class is ${ratio.toFixed(1)}x the smallest. The run recomputes them over its train split.`,
  };
}

function slicesDecision(facts: DatasetFacts): RecipePlan['slices'] {
  const s = facts.slices;
  if (!s || s.series === 0 || s.medianSlices < 3) {
    return { value: { recommended: 'not-a-series', applied: 'not-a-series' }, reason: s && s.series > 0 ? `Series have a median of ${s.medianSlices} labelled slice(s): too few for neighbour context; 2D.` : 'No DICOM series: 2D images.' };
  }
  const ratio = s.sliceSpacing !== null && s.pixelSpacing !== null && s.pixelSpacing > 0 ? s.sliceSpacing / s.pixelSpacing : null;
  if (ratio !== null && ratio <= 3) {
    const why = `${s.series} series, ${s.medianSlices} slices each, slices ${fmt(s.sliceSpacing as number)} mm apart for ${fmt(s.pixelSpacing as number)} mm pixels (ratio ${ratio.toFixed(1)} <= 3): neighbouring slices share structure`;
    if (facts.task !== 'segmentation') {
      return { value: { recommended: '2.5d', applied: '2d' }, reason: `${why}, so 2.5D would help; it is applied to segmentation only, so this ${facts.task} run trains single slices (2D).` };
    }
    return {
      value: { recommended: '2.5d', applied: '2.5d' },
      reason: `${why}, so 2.5D: the model sees the slice below, the slice and the slice above (ordered by position along the slice normal; the edge slice repeats at the ends) as 3 channels, in training, evaluation and prediction.`,
    };
  }
  return {
    value: { recommended: '2d', applied: '2d' },
    reason:
      ratio === null
        ? `${s.series} series without slice positions or pixel spacing: slices are trained one by one (2D).`
        : `${s.series} series with slices ${fmt(s.sliceSpacing as number)} mm apart for ${fmt(s.pixelSpacing as number)} mm pixels (ratio ${ratio.toFixed(1)} > 3): neighbours differ too much to help; 2D.`,
  };
}

/** The plan for the facts (see the file header). */
export function planRecipe(facts: DatasetFacts, options: PlanOptions): RecipePlan {
  const { defaults } = options;
  const caps = options.accelerator ? INPUT_CAPS.accelerator : INPUT_CAPS.cpu;
  const memory = options.memoryBudgetBytes ?? DEFAULT_MEMORY_BUDGET;
  const widths = facts.images.map((i) => i.width);
  const heights = facts.images.map((i) => i.height);
  const maxSides = facts.images.map((i) => Math.max(i.width, i.height));
  const minSides = facts.images.map((i) => Math.min(i.width, i.height));
  const medianMax = median(maxSides);
  const minSide = minSides.length ? Math.min(...minSides) : 0;
  const bytesPerPx = BYTES_PER_PIXEL[facts.task];
  const batchFor = (side: number, cap: number): number => Math.max(1, Math.min(cap, Math.floor(memory / (bytesPerPx * side * side))));

  let resolution: PlanDecision<number>;
  let sampling: RecipePlan['sampling'];
  const sized = facts.objectSizes.filter((o) => o.objects > 0);
  if (facts.task === 'segmentation') {
    const thinnest = sized.length ? sized.reduce((a, b) => (b.median < a.median ? b : a)) : null;
    const need = thinnest ? Math.min(1, MIN_STRUCTURE_PX / Math.max(thinnest.median, 1e-6)) : 0;
    const wholeSide = ceilTo(medianMax * need, 8);
    const whole = thinnest === null || wholeSide <= caps.segmentationWhole;
    const fgMin = Math.min(...facts.classFractions.slice(1).filter((x) => x > 0), 1);
    const fgProb = fgMin < 0.01 ? 0.5 : 1 / 3;
    if (whole) {
      const side = Math.min(caps.segmentationWhole, Math.max(64, wholeSide, thinnest ? 0 : defaults.inputSize));
      resolution = {
        value: Number((side / medianMax).toFixed(4)),
        reason: thinnest
          ? `The thinnest class, ${thinnest.className}, is a median ${fmt(thinnest.median)} px thick: a ${fmt(medianMax)} px image can shrink to ${side} px and keep it ${MIN_STRUCTURE_PX}+ px across.`
          : 'No labelled shapes to measure: the default input size.',
      };
      sampling = { value: { mode: 'whole-image', inputSize: side, foregroundProbability: 0, patchesPerImage: 1 }, reason: `Whole images letterboxed to ${side} px: the structures survive it and every pixel is seen each epoch.` };
    } else {
      const byMemory = floorTo(Math.sqrt(memory / (bytesPerPx * 2)), 16);
      const patch = Math.max(32, Math.min(caps.patch, byMemory, floorTo(minSide, 16)));
      const perImage = Math.max(1, Math.round(median(widths.map((w, i) => (w * (heights[i] as number)) / (patch * patch)))));
      resolution = {
        value: 1,
        reason: `The thinnest class, ${(thinnest as ObjectSizeSummary).className}, is a median ${fmt((thinnest as ObjectSizeSummary).median)} px thick: keeping it ${MIN_STRUCTURE_PX}+ px across needs ${wholeSide} px inputs for ${fmt(medianMax)} px images, over the ${caps.segmentationWhole} px whole-image cap, so the model trains at native resolution.`,
      };
      sampling = {
        value: { mode: 'patches', inputSize: patch, foregroundProbability: Number(fgProb.toFixed(3)), patchesPerImage: perImage },
        reason:
          `Patches of ${patch} px at native resolution (the largest that memory and the ${options.accelerator ? 'accelerator' : 'CPU'} cap of ${caps.patch} px allow), ${perImage} per image per epoch (about one cover of a median image); ` +
          `${Math.round(fgProb * 100)}% of patches are centred on a labelled pixel${fgMin < 0.01 ? ` (the rarest class covers ${(fgMin * 100).toFixed(2)}% of pixels)` : ''}. Prediction slides the same window over the whole image with Gaussian weighting.`,
      };
    }
  } else if (facts.task === 'detection') {
    const smallest = sized.length ? Math.min(...sized.map((o) => o.p10)) : 0;
    const need = smallest > 0 ? Math.min(1, MIN_BOX_PX / smallest) : 0;
    const native = ceilTo(medianMax, 16);
    const side = Math.min(caps.detection, native, Math.max(roundTo(medianMax * need, 16), defaults.inputSize));
    resolution = {
      value: Number((side / medianMax).toFixed(4)),
      reason:
        smallest > 0
          ? `The smallest boxes (10th percentile of the shorter side) are ${fmt(smallest)} px; at ${side} px input they keep ${fmt(smallest * (side / medianMax))} px (at least ${MIN_BOX_PX} wanted, cap ${caps.detection} px).`
          : 'No boxes to measure: the default input size.',
    };
    sampling = { value: { mode: 'whole-image', inputSize: side, foregroundProbability: 0, patchesPerImage: 1 }, reason: `Whole images letterboxed to ${side} px (boxes need their context).` };
  } else {
    const medMin = median(minSides);
    const side = Math.min(caps.classification, Math.max(32, roundTo(medMin, 8)));
    resolution = {
      value: Number((side / Math.max(1, medianMax)).toFixed(4)),
      reason: `Images are a median ${fmt(medMin)} px on their shorter side: ${side} px input (${medMin <= side ? 'native' : `the ${caps.classification} px cap`}).`,
    };
    sampling = { value: { mode: 'whole-image', inputSize: side, foregroundProbability: 0, patchesPerImage: 1 }, reason: `Whole images letterboxed to ${side} px.` };
  }

  const budgetSeconds = options.timeBudgetSeconds ?? null;
  if (budgetSeconds !== null && budgetSeconds < SHORT_BUDGET_SECONDS && !options.accelerator && facts.task !== 'detection' && sampling.value.inputSize > SHORT_BUDGET_SIDE) {
    const s = sampling.value;
    const perImage = s.mode === 'patches' ? Math.max(1, Math.round(median(widths.map((w, i) => (w * (heights[i] as number)) / (SHORT_BUDGET_SIDE * SHORT_BUDGET_SIDE))))) : 1;
    sampling = {
      value: { ...s, inputSize: SHORT_BUDGET_SIDE, patchesPerImage: perImage },
      reason: `${sampling.reason} A budget under ${SHORT_BUDGET_SECONDS / 60} minutes on a CPU: ${SHORT_BUDGET_SIDE} px instead of ${s.inputSize} px, so that several epochs fit.`,
    };
  }
  const encoder = encoderDecision(facts, options);
  if (encoder?.value && sampling.value.inputSize % 32 !== 0) {
    const s = sampling.value;
    const side32 = Math.max(64, floorTo(s.inputSize, 32));
    // A smaller patch covers less of an image: recount the patches per image for the new side.
    const perImage = s.mode === 'patches' ? Math.max(1, Math.round(median(widths.map((w, i) => (w * (heights[i] as number)) / (side32 * side32))))) : 1;
    sampling = {
      value: { ...s, inputSize: side32, patchesPerImage: perImage },
      reason: `${sampling.reason} ${side32} px rather than ${s.inputSize}${s.mode === 'patches' && perImage !== s.patchesPerImage ? ` (${perImage} patches per image)` : ''}: the pretrained encoder needs a multiple of 32.`,
    };
  }
  const side = sampling.value.inputSize;
  const batchCap = facts.task === 'classification' ? 64 : 16;
  const batchSize = Math.max(2, batchFor(side, batchCap));
  const perSample = bytesPerPx * side * side;
  const batch: RecipePlan['batch'] = {
    value: { batchSize, bytesPerSample: perSample, memoryBudgetBytes: memory },
    reason: `${(perSample / 2 ** 20).toFixed(0)} MiB of activations per ${side} px sample; ${batchSize} fit the ${(memory / 2 ** 20).toFixed(0)} MiB budget (capped at ${batchCap}).`,
  };
  const regularization = regularizationDecision(facts, budgetSeconds);
  const schedule = scheduleDecision(facts, options, budgetSeconds);
  const patience = schedule?.value.earlyStoppingPatience ?? defaults.earlyStoppingPatience;
  return {
    format: 'fovea-recipe-plan',
    version: 1,
    task: facts.task,
    data: {
      images: facts.images.length,
      medianSize: [median(widths), median(heights)],
      minSide,
      maxSide: maxSides.length ? Math.max(...maxSides) : 0,
      modality: facts.modality,
      objectSizes: facts.objectSizes,
      classFractions: facts.classFractions.map((x) => Number(x.toFixed(6))),
      foregroundHu: facts.foregroundHu,
    },
    normalization: normalizationDecision(facts),
    resolution,
    sampling,
    batch,
    classWeights: classWeightsDecision(facts),
    slices: slicesDecision(facts),
    epochs:
      budgetSeconds === null
        ? { value: defaults.epochs, reason: `The ${facts.task} default (${defaults.epochs}), ${earlyStopping(defaults.earlyStoppingPatience)}.` }
        : { value: BUDGET_EPOCHS, reason: `As many as fit in ${fmt(budgetSeconds / 60)} minutes: the trainer measures its steps on the backend in use and starts an epoch only if it fits (${earlyStopping(patience)}).` },
    regularization,
    schedule,
    encoder,
    timeBudget:
      budgetSeconds === null
        ? null
        : {
            value: { seconds: budgetSeconds, secondsPerStep: null, stepsPerEpoch: Math.ceil((facts.images.length * sampling.value.patchesPerImage) / batchSize) },
            reason: `Training stops before ${fmt(budgetSeconds / 60)} minutes with the best checkpoint; steps per epoch counts every labelled image (the train split has fewer). Seconds per step are measured while training.`,
          },
  };
}

function regularizationDecision(facts: DatasetFacts, budgetSeconds: number | null): RecipePlan['regularization'] {
  if (facts.task !== 'classification' || budgetSeconds === null || budgetSeconds < SHORT_BUDGET_SECONDS) return null;
  return {
    value: { mixup: BUDGET_MIXUP },
    reason: `A ${fmt(budgetSeconds / 60)}-minute budget leaves time for a regularised model to converge: mixup (alpha ${BUDGET_MIXUP}). Fields set on the Training screen or the command line win.`,
  };
}

/**
 * Segmentation and detection of colour photographs train on the frozen ImageNet encoder that ships
 * with Fovea (native-models/models/imagenet-encoder.ts); other images (DICOM, greyscale) train from
 * scratch. Measured at the 15-minute budget (figures in native-models/models/defaults.ts).
 */
function encoderDecision(facts: DatasetFacts, options: PlanOptions): RecipePlan['encoder'] {
  if (facts.task !== 'segmentation' && facts.task !== 'detection') return null;
  if (options.encoder !== undefined) {
    return options.encoder
      ? { value: options.encoder, reason: 'The frozen ImageNet MobileNetV2 encoder that ships with Fovea, as set: only the decoder trains.' }
      : { value: null, reason: 'Trained from scratch, as set (no pretrained encoder).' };
  }
  if (facts.modality === 'photo' && facts.channels === 3) {
    return {
      value: 'imagenet-mobilenetv2',
      reason:
        'Colour photographs: the network is built on the frozen ImageNet MobileNetV2 encoder that ships with Fovea (its features learned from ImageNet photographs), and only the ' +
        `${facts.task === 'segmentation' ? 'U-Net decoder' : "detector's top-down path and heads"} train, which also makes each step cheaper.`,
    };
  }
  return { value: null, reason: `Trained from scratch: the pretrained encoder learned from colour photographs, and these are ${facts.modality} images.` };
}

/**
 * Under a time budget: the learning-rate schedule and early stopping. Classification (a budget of
 * SHORT_BUDGET_SECONDS or more) trains to the end of the budget with the rate annealed along a
 * cosine: on PneumoniaMNIST a patience of 15 at a constant rate stopped runs after 150-280 s of 900
 * (figures in native-models/models/defaults.ts). Segmentation and detection keep a constant rate (a
 * cosine scored lower on CamVid on the encoder, 0.533 vs 0.583, 10 epochs each: with the few epochs
 * a CPU budget buys it lowers the rate before the model has learnt). Either way the budget, not a
 * plateau, ends the run, and the user's schedule and patience win.
 */
function scheduleDecision(facts: DatasetFacts, options: PlanOptions, budgetSeconds: number | null): RecipePlan['schedule'] {
  if (budgetSeconds === null) return null;
  const given = options.defaults.earlyStoppingPatience;
  const chosen = options.patienceChosen === true;
  const classification = facts.task === 'classification';
  // A short budget buys a classifier a few epochs: its defaults stand, unless a schedule is set.
  const short = classification && budgetSeconds < SHORT_BUDGET_SECONDS;
  if (short && !options.lrSchedule) return null;
  const lrSchedule = options.lrSchedule ?? (classification ? 'cosine' : 'constant');
  const why = options.lrSchedule
    ? lrSchedule === 'cosine' ? ', as set' : ' (constant, as set)'
    : classification
      ? ' (trained to the end of the budget with the rate annealed, a classifier scored higher than one stopped early at a constant rate)'
      : ' (a cosine over the budget scored lower with the few epochs a CPU budget buys)';
  const rate =
    lrSchedule === 'cosine'
      ? `The learning rate falls from ${options.defaults.learningRate} to ${LR_COSINE_FLOOR * 100}% of it along a half cosine over the ${fmt(budgetSeconds / 60)} minutes${why}.`
      : `The learning rate stays at ${options.defaults.learningRate}${why}.`;
  const keep = chosen || short;
  const stop = keep
    ? ` Early stopping ${given === 0 ? 'off' : `after ${given} epochs without improvement`}${chosen ? ', as set' : ''}.`
    : ' The budget, not a plateau, ends the run: early stopping is off (the best checkpoint is kept either way).';
  return { value: { lrSchedule, earlyStoppingPatience: keep ? given : 0 }, reason: rate + stop };
}

/** The config a plan gives (the defaults with the plan's decisions; user overrides go on top). */
export function applyPlan(defaults: TrainConfig, plan: RecipePlan): TrainConfig {
  const s = plan.sampling.value;
  return {
    ...defaults,
    inputSize: s.inputSize,
    batchSize: plan.batch.value.batchSize,
    epochs: plan.epochs.value,
    normalization: plan.normalization.value,
    timeBudgetSeconds: plan.timeBudget?.value.seconds ?? null,
    // Recomputed over the train split by the training service (the plan saw every labelled image).
    classWeights: null,
    patch: s.mode === 'patches' ? { foregroundProbability: s.foregroundProbability, patchesPerImage: s.patchesPerImage } : null,
    plan,
    ...(plan.regularization ? { mixup: plan.regularization.value.mixup } : {}),
    ...(plan.schedule ? { lrSchedule: plan.schedule.value.lrSchedule, earlyStoppingPatience: plan.schedule.value.earlyStoppingPatience } : {}),
    ...(plan.encoder?.value ? { encoder: plan.encoder.value } : {}),
    // 2.5-D: three slices as the input's channels.
    ...(plan.slices.value.applied === '2.5d' ? { channels: 3 as const, slices: '2.5d' as const } : {}),
  };
}

/**
 * The contract between the core (library, data pipeline, runs) and
 * native-models (TensorFlow.js: models, training, inference). Neither
 * imports the other: main, the CLI and the tests wire a native-models
 * MlEngine into the core. Plain data only (batches cross to a worker thread
 * as transferable buffers).
 *
 * Tensor layout everywhere: NHWC, float32, pixel values already normalised
 * by the data pipeline (see TrainConfig.normalization).
 */
import type { ModelExportFormat } from './export-formats';
import type { BackendName, MlPreflight } from './domain';
import type { PatchSampling, RecipePlan } from './recipe';

export type TaskKind = 'classification' | 'detection' | 'segmentation';
export type BackendPreference = 'auto' | 'tensorflow' | 'webgpu' | 'wasm' | 'cpu';
export type SplitName = 'train' | 'val' | 'test';

export interface AugmentConfig {
  /** Horizontal flip with probability 0.5. */
  flipHorizontal: boolean;
  /** Vertical flip with probability 0.5 (off for most medical and road images). */
  flipVertical: boolean;
  /** Uniform random rotation in [-deg, +deg]. */
  rotateDegrees: number;
  /** Uniform random scale in [1 - s, 1 + s]. */
  scale: number;
  /** Random brightness/contrast change of up to this fraction. */
  intensity: number;
  /**
   * Random shift of the image in the input of up to this fraction of the input side, each axis
   * (0 or absent: none). With scale > 1 it turns the centred zoom into random crops anywhere.
   */
  translate?: number;
  /** Colour images: random saturation factor in [1 - s, 1 + s] (0 or absent: none). */
  saturation?: number;
  /**
   * Detection: a box of which less than this fraction of its (transformed) area is left inside the
   * input after a crop becomes a region to ignore (class -1) instead of an object (0 or absent: every
   * box with at least 1 px left stays an object).
   */
  minBoxVisibility?: number;
  /**
   * Detection: multi-scale training. Each training batch's input side is drawn from
   * [inputSize (1 - m), inputSize (1 + m)] in steps of 32 px (the detector is fully convolutional);
   * validation, evaluation and prediction stay at inputSize (0 or absent: every batch at inputSize).
   */
  multiScale?: number;
  /**
   * Detection: Simple Copy-Paste (Ghiasi et al. 2021), the probability in [0, 1] that a training
   * image gets objects of another training image pasted onto it (0 or absent: off). Only objects
   * with an instance mask or polygon are pasted; a run asking for it on a dataset without any is
   * refused before training; the detection default (0.25) is turned off there with a warning
   * (core/training/copy-paste.ts, native-models/models/defaults.ts).
   */
  copyPaste?: number;
}

/** The last learning rate of a cosine schedule (TrainConfig.lrSchedule), as a fraction of the first. */
export const LR_COSINE_FLOOR = 0.01;

export interface TrainConfig {
  task: TaskKind;
  /** Square model input side in pixels (images are letterboxed to it). */
  inputSize: number;
  /** 1 for greyscale (DICOM, grey images), 3 for colour. */
  channels: 1 | 3;
  /** Class names in output order. Segmentation: index 0 is background. */
  classNames: string[];
  /** Classification only: independent sigmoids instead of one softmax. */
  multiLabel: boolean;
  epochs: number;
  batchSize: number;
  learningRate: number;
  /**
   * 'cosine': the rate falls from learningRate to LR_COSINE_FLOOR of it along a half cosine over the
   * time budget (or the epochs without one); see native-models/train/lr-schedule.ts. Absent or
   * 'constant': fixed.
   */
  lrSchedule?: 'constant' | 'cosine';
  seed: number;
  backend: BackendPreference;
  /** Stop when the validation monitor has not improved for this many epochs (0: never). */
  earlyStoppingPatience: number;
  augment: AugmentConfig;
  /** Per-class loss weights (classification and segmentation), or null for none. */
  classWeights: number[] | null;
  /**
   * Segmentation: what pixels that no label covers are. 'background' (default) trains them as class 0;
   * 'ignore' leaves them out of the loss and the metrics, for densely labelled data whose unlabelled
   * pixels are "void" (CamVid, Cityscapes) rather than background.
   */
  unlabeledPixels?: 'background' | 'ignore';
  /**
   * How the data pipeline turned pixels into numbers (recorded with the model). 'zscore': (x - mean) / std
   * per image (MR; see sample-loader.ts for the region), the only kind whose values are not in [0, 1].
   */
  normalization: { kind: 'window'; center: number; width: number } | { kind: 'file-window' } | { kind: 'per-image' } | { kind: 'unit' } | { kind: 'zscore' };
  /** Segmentation: train on patches cut at native resolution (inputSize is the patch side) instead of letterboxed whole images. */
  patch?: PatchSampling | null;
  /** Stop before this many seconds of training have passed, keeping the best checkpoint (`--time-budget`). */
  timeBudgetSeconds?: number | null;
  /** The recipe planned from the data, when the run was planned (see recipe.ts). */
  plan?: RecipePlan | null;
  /**
   * DICOM series: '2.5d' feeds the slice below, the slice and the slice above (same series, ordered by
   * Image Position (Patient) along the slice normal; the edge slice repeats at the ends) as the model's
   * 3 channels (see slice-neighbours.ts). Absent or '2d': one slice at a time.
   */
  slices?: SliceMode;
  /**
   * Segmentation and detection: 'imagenet-mobilenetv2' builds the U-Net or the detector on the
   * frozen ImageNet MobileNetV2 encoder that ships with Fovea (native-models/models/imagenet-encoder.ts;
   * input size a multiple of 32). Absent or null: the network trained from scratch.
   */
  encoder?: 'imagenet-mobilenetv2' | null;
  /** The run started from an earlier run's weights (warm start): what was loaded. Absent or null: from scratch. */
  warmStart?: WarmStartInfo | null;
  /**
   * Classification: label smoothing epsilon in [0, 0.5] (0 or absent: none). Single label: the
   * training targets become y(1 - e) + e/K (PyTorch's CrossEntropyLoss(label_smoothing=e));
   * multi-label: each sigmoid target becomes y(1 - e) + e/2. The validation loss stays unsmoothed.
   */
  labelSmoothing?: number;
  /** Classification: mixup's Beta(alpha, alpha) parameter (0 or absent: off); see native-models/train/batch-mix.ts. */
  mixup?: number;
  /** Classification: CutMix's Beta(alpha, alpha) parameter (0 or absent: off). With mixup on too, each batch uses one of them, with equal chance. */
  cutmix?: number;
  /**
   * Detection: how outputs become boxes in evaluation and prediction, chosen on the validation
   * split after training (absent: the defaults, score >= 0.05, no IoU NMS, top 100).
   */
  decoding?: DetectionDecoding | null;
}

/** Detection decoding: heatmap peaks with score >= scoreThreshold, the topK best, then NMS per class at nmsIou (null: none). */
export interface DetectionDecoding {
  scoreThreshold: number;
  nmsIou: number | null;
  topK: number;
  /** How it was chosen: validation AP@0.5 with it and with the defaults, over the best checkpoint. */
  tuned?: { valAp50: number; defaultValAp50: number; valImages: number; epoch: number; candidates: number };
}

/** How a model sees DICOM series (TrainConfig.slices). */
export type SliceMode = '2d' | '2.5d';

/** What a warm-started run loaded (native-models/train/warm-start.ts matches layers by name and shape). */
export interface WarmStartInfo {
  /** The run whose best checkpoint was loaded; null when the source is a model (a TF.js folder or an ONNX file). */
  runId: number | null;
  /** The model's name and path (folder or .onnx file), when the source is not a run (the path lets a run that never finished an epoch resume). */
  model?: string;
  modelDir?: string;
  /** The source is an ONNX model: 'imported' (a model of the library, by its name) or 'file' (--from-model PATH.onnx). */
  onnx?: 'imported' | 'file';
  /** Layers with weights loaded from the source, and layers left as initialised (the head, for new classes). */
  layersLoaded: number;
  layersNew: number;
  newLayers: string[];
}

/** Where a warm start loads from: a checkpoint or TF.js layers model folder, its classes (null: unknown) and its name for messages ("run 4"). */
export interface WarmStartSourceRef {
  dir: string;
  classNames: string[] | null;
  label: string;
  /** 'onnx': `dir` is an ONNX file, matched by layer order and shape (native-models/train/onnx-warm-start.ts). Absent: a TF.js folder. */
  format?: 'onnx';
}

/** Whether a warm-start source fits a config: the layers it fills and leaves new, or the first layer that does not fit. */
export type WarmStartCheck = { ok: true; loaded: string[]; fresh: string[] } | { ok: false; layer: string; message: string };

/** Targets of one batch, by task. */
export type BatchTargets =
  /** [n, numClasses]: one-hot (single label) or multi-hot. */
  | { task: 'classification'; labels: Float32Array }
  /**
   * Per image, boxes in input-pixel coordinates after letterbox/augmentation:
   * [x, y, width, height, classIndex] each. classIndex -1 marks a region to ignore (void /
   * DontCare / crowd): not an object, and no loss on background there.
   */
  | { task: 'detection'; boxes: number[][][] }
  /** [n, h, w] class indices; 255 = ignore (outside the letterbox, unlabelled). */
  | { task: 'segmentation'; masks: Uint8Array };

export interface Batch {
  /** [n, side, side, channels], side = inputSize below or the config's inputSize */
  x: Float32Array;
  /** This batch's input side when it is not the config's (detection multi-scale training). */
  inputSize?: number;
  n: number;
  targets: BatchTargets;
  /** Library item ids of the images, in batch order (for per-image metrics). */
  itemIds: number[];
}

/** Supplies batches; implemented by the core over the library (decoding happens there). */
export interface BatchProvider {
  batchesPerEpoch(split: 'train' | 'val'): number;
  /** Batch `index` of `epoch` (train batches are shuffled and augmented per epoch, from the seed). */
  batch(split: 'train' | 'val', epoch: number, index: number): Promise<Batch>;
}

export interface BatchProgress {
  epoch: number;
  batch: number;
  batchesPerEpoch: number;
  loss: number;
  /** Running training metrics of this epoch (e.g. accuracy). */
  metrics: Record<string, number>;
  imagesPerSecond: number;
  etaSeconds: number;
  /** With a time budget: seconds of it left. */
  budgetLeftSeconds?: number;
}

export interface EpochResult {
  epoch: number;
  trainLoss: number;
  trainMetrics: Record<string, number>;
  valLoss: number;
  /** accuracy (classification), dice and iou (segmentation), ap50 (detection) ... */
  valMetrics: Record<string, number>;
  /** Whether this epoch's weights became the best checkpoint. */
  best: boolean;
  seconds: number;
  /** The learning rate of the epoch's last training step, for runs with a schedule (TrainConfig.lrSchedule). */
  learningRate?: number;
}

export interface TrainOutcome {
  status: 'done' | 'cancelled' | 'stopped-early' | 'failed';
  epochsCompleted: number;
  bestEpoch: number | null;
  bestValMetrics: Record<string, number> | null;
  backend: BackendName;
  /** Something a person must know about how the run ran (e.g. webgpu on a software adapter, no GPU). */
  warning?: string;
  /** For failed runs: a message for a person, with a suggestion (OOM: smaller batch or input). */
  error: { code: 'OUT_OF_MEMORY' | 'BACKEND_UNAVAILABLE' | 'INTERNAL'; message: string } | null;
  /** Detection: the decoding chosen on the validation split after training (stored into the run's config). */
  decoding?: DetectionDecoding;
}

/**
 * What a run does before its first batch has trained, so a person watching it start sees it move:
 * the backend loading (a worker starting, TensorFlow.js and its wasm or GPU backend), the model
 * being built (or its checkpoint loaded), waiting for the first batch's images, the first step
 * (kernels compiled on first use).
 */
export type TrainPhase = 'loading-backend' | 'building-model' | 'waiting-for-data' | 'first-step';

export interface TrainOptions {
  /** Folder for this run's checkpoints (epoch-N/, best/, last/). */
  checkpointDir: string;
  /** Continue after this completed epoch (its checkpoint must be in checkpointDir). */
  resumeAfterEpoch?: number;
  /** A fresh run (no resumeAfterEpoch) starts from these weights (see WarmStartSourceRef). */
  warmStart?: WarmStartSourceRef;
  signal?: AbortSignal;
  onBatch?: (p: BatchProgress) => void;
  onEpoch?: (r: EpochResult) => void;
  /** Before the first batch has trained: each phase once, in order. */
  onPhase?: (phase: TrainPhase) => void;
}

/** Model outputs for one batch of images, decoded, in input-pixel coordinates. */
export type Prediction =
  | { task: 'classification'; probabilities: number[] }
  | { task: 'detection'; boxes: { x: number; y: number; width: number; height: number; classIndex: number; score: number }[] }
  /** [h, w] class indices and the per-pixel max probability. */
  | { task: 'segmentation'; classes: Uint8Array; confidence: Float32Array };

export interface MlEngine {
  preflight(): Promise<MlPreflight>;
  /** Sensible defaults per task, so that picking a dataset and a task gives a good model. */
  defaultConfig(task: TaskKind, classNames: string[], channels: 1 | 3): TrainConfig;
  /** Train to completion (or cancel/early stop/failure). Never throws for training failures: see outcome.error. */
  train(config: TrainConfig, provider: BatchProvider, options: TrainOptions): Promise<TrainOutcome>;
  /** Predict with a checkpoint (e.g. checkpointDir/best). */
  predict(checkpoint: string, config: TrainConfig, batch: Batch): Promise<Prediction[]>;
  /**
   * A checkpoint as files in a standard format (TF.js layers model, or ONNX
   * with the same NHWC interface). Throws an MlEngineError with code UNSUPPORTED
   * for a layer the format cannot hold. The caller writes the files.
   */
  exportModel(checkpoint: string, config: TrainConfig, format: ModelExportFormat): Promise<ModelExportArtifacts>;
  /**
   * Whether a warm-start source's weights fit the model `config` builds (layer names and weight
   * shapes; reads no weights), so a misfit is refused before a run exists. Optional: an engine
   * without it cannot warm-start.
   */
  checkWarmStart?(source: WarmStartSourceRef, config: TrainConfig): Promise<WarmStartCheck>;
}

export type { ModelExportFormat };

/** One model input or output as an exported file declares it. */
export interface ModelTensorSpec {
  name: string;
  /** null for the batch dimension. */
  shape: (number | null)[];
  /** NHWC for images and maps, NC for [batch, values]. */
  layout: 'NHWC' | 'NC';
  dtype: 'float32';
}

export interface ModelExportArtifacts {
  format: ModelExportFormat;
  /** Relative file names ('model.json', 'group1-shard1of1.bin', 'model.onnx') and their bytes. */
  files: { name: string; bytes: Uint8Array }[];
  inputs: ModelTensorSpec[];
  outputs: ModelTensorSpec[];
  parameters: number;
  tfjsVersion: string;
  /** ONNX only: the opset, IR version and operators used. */
  onnx: { opset: number; irVersion: number; operators: string[] } | null;
}

/** What a model export wrote (request 'models.export', `fovea export-model`). */
export interface ModelExportResult {
  runId: number;
  format: ModelExportFormat;
  /** The folder written into (real path). */
  outDir: string;
  /** Every file written, model card included, relative to outDir. */
  files: { path: string; bytes: number; sha256: string }[];
  /** Absolute path of fovea-manifest.json. */
  manifest: string;
  bytes: number;
}

/** Codes of the typed errors the ML engine throws (native-models' UnsupportedModelError has code UNSUPPORTED). */
export type MlEngineErrorCode = 'UNSUPPORTED';

/** An error from the ML engine that says what kind it is by its code, never by its message. */
export interface MlEngineError extends Error {
  readonly code: MlEngineErrorCode;
}

/** The error's code when it is one of the ML engine's typed errors, else null. */
export function mlEngineErrorCode(e: unknown): MlEngineErrorCode | null {
  return e instanceof Error && (e as Partial<MlEngineError>).code === 'UNSUPPORTED' ? 'UNSUPPORTED' : null;
}

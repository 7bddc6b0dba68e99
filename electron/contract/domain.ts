import type { ExportStartFormat } from './export-formats';
import type { PolicyDocument } from './policy-keys';
import type { TrainConfig } from './ml';

/**
 * Domain types shared by the backend, the CLI and the UI. Plain data only:
 * everything here must survive structured clone (IPC) and JSON (CLI, bridge).
 */

export type BackendName = 'tensorflow-gpu' | 'tensorflow-cpu' | 'webgpu' | 'wasm' | 'cpu';

/** The WebGPU adapter preflight found (Dawn: Vulkan, D3D12 or Metal underneath). */
export interface GpuAdapterInfo {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  /**
   * A software rasteriser (SwiftShader, WARP, llvmpipe) or an adapter the driver marks as a
   * fallback: usable when asked for by name, never chosen by 'auto'.
   */
  software: boolean;
  /** The adapter's limits that bound a training step, in MiB. */
  maxBufferMiB: number;
  maxStorageBufferBindingMiB: number;
}

export interface GpuInfo {
  name: string;
  /** Total memory in MiB when the driver reports it. */
  memoryMiB: number | null;
  driverVersion: string | null;
}

export interface BackendStatus {
  name: BackendName;
  /** The npm package that provides it. */
  package: string;
  /** Whether it loaded in this process. */
  available: boolean;
  /** Whether Fovea trains on it (cpu is inference-only: far too slow to train). */
  canTrain: boolean;
  /** A few words: 'loaded', 'not installed', 'missing libcudnn.so.8', ... */
  summary: string;
  /** Why it is or is not available, and what would fix it. */
  reason: string;
  /** Package version when installed. */
  version: string | null;
  /** webgpu only: the adapter found, when one was. */
  adapter?: GpuAdapterInfo;
}

export interface MlPreflight {
  backends: BackendStatus[];
  /** The backend Fovea uses for training and inference, or null if none can run. */
  chosen: BackendName | null;
  /** Why that one: which faster ones were skipped and why. Never silent. */
  why: string;
  gpus: GpuInfo[];
  /** The engine that runs predictions (absent where preflight did not check it). */
  inference?: InferenceEngineStatus;
}

/**
 * Predictions on the CPU backends run on ONNX Runtime (each checkpoint converted to ONNX in
 * memory) when onnxruntime-node loads, else on TF.js with the chosen backend.
 */
export interface InferenceEngineStatus {
  engine: 'onnxruntime' | 'tfjs';
  /** onnxruntime-node's version when it loaded. */
  version: string | null;
  /** Why this engine, and what a model it cannot run falls back to. */
  reason: string;
}

export interface AppVersions {
  fovea: string;
  node: string;
  /** Null when not running inside Electron (CLI, browser harness). */
  electron: string | null;
  chromium: string | null;
  sqlite: string;
  tfjs: string | null;
}

export interface LibraryStatus {
  path: string;
  /** True when the library was written by a newer Fovea (or is on read-only media). */
  readOnly: boolean;
  /** Why it is read-only, for a person. */
  readOnlyReason: string | null;
  schemaVersion: number;
}

export interface AppInfo {
  versions: AppVersions;
  platform: string;
  arch: string;
  library: LibraryStatus;
  ml: MlPreflight;
}

export interface DatasetCounts {
  items: number;
  dicomItems: number;
  imageItems: number;
  patients: number;
  studies: number;
  series: number;
  annotations: number;
  /** Items with status other than 'unlabeled'. */
  labeledItems: number;
}

export interface Dataset {
  id: number;
  name: string;
  description: string;
  /** ISO 8601 UTC. */
  createdAt: string;
  updatedAt: string;
  counts: DatasetCounts;
}

export type ImportOutcome = 'imported' | 'duplicate' | 'skipped' | 'failed';

export interface ImportProgress {
  datasetId: number;
  filesDone: number;
  filesTotal: number;
  bytesDone: number;
  bytesTotal: number;
  filesPerSecond: number;
  megabytesPerSecond: number;
  etaSeconds: number | null;
  counts: Record<ImportOutcome, number>;
}

export interface ImportFileOutcome {
  path: string;
  outcome: ImportOutcome;
  kind?: 'dicom' | 'image';
  reason?: string;
  code?: string;
  itemId?: number;
  bytes: number;
}

export interface ImportReport extends ImportProgress {
  /** The import_jobs row. */
  importJobId: number;
  cancelled: boolean;
  seconds: number;
  /** Every file that was not imported (skipped, duplicate, failed) with the reason. */
  notImported: ImportFileOutcome[];
  /** Paths that could not be read at all. */
  problems: { path: string; reason: string }[];
}

/** A training run as the UI lists it. */
export interface RunSummary {
  id: number;
  datasetId: number;
  datasetName: string;
  task: 'classification' | 'detection' | 'segmentation';
  status: 'running' | 'done' | 'cancelled' | 'stopped-early' | 'failed' | 'interrupted';
  epochs: number;
  epochsCompleted: number;
  bestEpoch: number | null;
  backend: BackendName | null;
  /** Best validation metrics. */
  metrics: Record<string, number> | null;
  error: string | null;
  /** When the run started (ISO). */
  createdAt: string;
  finishedAt: string | null;
  /** The name a person gave it (null: none; show "run N", contract/runs.ts runDisplayName). */
  name: string | null;
  /** Free-text notes, '' when none. */
  notes: string;
  /** Seconds from start to finish, or so far while it runs (null: interrupted, end unknown). */
  durationSeconds: number | null;
}

export interface RunDetail extends RunSummary {
  config: TrainConfig;
  epochCurve: { epoch: number; trainLoss: number; valLoss: number; valMetrics: Record<string, number>; best: boolean; seconds: number }[];
  batchCurve: { epoch: number; batch: number; loss: number; imagesPerSecond: number }[];
  /** Items per split and patients per split, as the run saw them. */
  splits: { counts: Record<string, number>; patients: Record<string, number>; patientGrouped: boolean } | null;
}

/** What training a dataset for a task would use, before starting. */
export interface TrainingPlan {
  task: 'classification' | 'detection' | 'segmentation';
  /** The classes this plan trains, in the model's output order (segmentation: 'background' first). */
  classNames: string[];
  /** Every class with a usable label for the task, in the dataset's order: what the user picks from (never 'background'). */
  availableClassNames: string[];
  /** The least number of classes a run of this task needs (2 for single-label classification). */
  minClasses: number;
  samples: number;
  channels: 1 | 3;
  warnings: string[];
  defaults: TrainConfig;
  /** The current (or to-be-drawn) patient-grouped split. */
  splits: {
    counts: Record<string, number>;
    patients: Record<string, number>;
    patientGrouped: boolean;
    /** Rows drawn automatically (a redraw moves these) and rows a person set (never moved). */
    byOrigin?: { auto: number; user: number };
    /**
     * Training samples (labelled images or frames for this task and these classes) per split:
     * what training uses, where `counts` is every image. A run needs some in train and in val.
     */
    labelled?: Record<string, number>;
  };
}

/** Review status of an item (image) or series. */
export type ItemStatus = 'unlabeled' | 'in_progress' | 'done' | 'needs_review' | 'approved' | 'rejected';
/** 'uncertainty': the active-learning queue, most uncertain first (a run's predict scores; items without one last). */
export type ItemSort = 'id' | 'name' | 'instance' | 'status' | 'uncertainty';

/** One row of the dataset browser. */
export interface ItemRow {
  id: number;
  kind: 'dicom' | 'image';
  sourceName: string;
  /** What a person sees as its name (contract/display-name.ts): unique in the dataset, carries patient and series. */
  displayName: string;
  modality: string | null;
  rows: number;
  columns: number;
  frames: number;
  status: ItemStatus;
  seriesId: number | null;
  instanceNumber: number | null;
  /** The item's thumbnail blob (JPEG), shown through FoveaApi.blobUrl. */
  thumbSha256: string | null;
}

export interface ItemPage {
  rows: ItemRow[];
  /** Items matching the filter (all pages); null when not asked for. */
  total: number | null;
}

/** Typed arrays a decoded greyscale frame may come in (IPC and the bridge carry them natively). */
export type StoredPixels = Uint8Array | Int8Array | Uint16Array | Int16Array | Uint32Array | Int32Array | Float32Array;

/** What the viewer's corner overlays show; patient identifiers can be hidden by the UI. */
export interface FrameOverlay {
  sourceName: string;
  patientName: string | null;
  patientId: string | null;
  studyDate: string | null;
  studyDescription: string | null;
  seriesDescription: string | null;
  modality: string | null;
  instanceNumber: number | null;
  sliceLocation: number | null;
  sliceThickness: number | null;
}

interface PixelFrameBase {
  itemId: number;
  /** 0-based frame index. */
  frame: number;
  frames: number;
  rows: number;
  columns: number;
  /** [row spacing, column spacing] in mm, or null. */
  pixelSpacing: [number, number] | null;
  pixelSpacingSource: 'PixelSpacing' | 'ImagerPixelSpacing' | null;
  photometric: string;
  /** ms between frames for cine (FrameTime / CineRate), or null. */
  frameTime: number | null;
  overlay: FrameOverlay;
  /**
   * ImageOrientationPatient of this frame (per-frame, shared functional group or top level):
   * the row direction then the column direction, unit vectors in the patient's LPS frame;
   * null when the file does not say (photos, most secondary captures). The viewer's
   * orientation markers come from it.
   */
  orientation?: [number, number, number, number, number, number] | null;
  /** Whether the item is a DICOM file (false for photos and other images): only then has it tags to browse. */
  dicom?: boolean;
}

/**
 * A greyscale frame: stored values (after decompression, before any LUT).
 * Modality values are stored * slope + intercept; when the file uses a Modality LUT
 * Sequence the backend applies it and sends slope 1, intercept 0.
 */
export interface GreyPixelFrame extends PixelFrameBase {
  kind: 'grey';
  data: StoredPixels;
  slope: number;
  intercept: number;
  /** Every window in the file (paired); the first is the default. Empty when the file has none. */
  windowCenter: number[];
  windowWidth: number[];
  windowExplanation: string[];
  voiLutFunction: string;
  /** MONOCHROME1: low values are bright; display inverted. */
  monochrome1: boolean;
  /** Smallest and largest stored value in this frame. */
  min: number;
  max: number;
  /** 'HU' for CT, else the file's Rescale Type or null. */
  units: string | null;
}

/** A colour frame (RGB, YBR, palette; plain colour images) converted by the backend to 8-bit RGBA. */
export interface RgbaPixelFrame extends PixelFrameBase {
  kind: 'rgba';
  data: Uint8Array;
}

export type PixelFrame = GreyPixelFrame | RgbaPixelFrame;

/** A series' frames in display order (instance number, then slice position), for stack scrolling. */
export interface SeriesStack {
  seriesId: number;
  description: string | null;
  modality: string | null;
  entries: { itemId: number; frame: number; instanceNumber: number | null; slicePosition: number | null }[];
}

/** A label class of a dataset. */
export interface LabelClass {
  id: number;
  name: string;
  color: string;
  hotkey: string | null;
  position: number;
}

/** The enterprise policy IT set, as the app enforces it (read-only in the UI). */
export interface EnterprisePolicyView {
  /** 'none': no policy; 'policy': a valid policy; 'safest-defaults': a policy exists but could not be trusted. */
  source: 'none' | 'policy' | 'safest-defaults';
  policy: PolicyDocument;
  /** Where each enforced key came from (file or registry key). */
  origins: Record<string, string>;
  errors: string[];
  warnings: string[];
}

// ---------------------------------------------------------------------------
// Annotation (labeling) domain: geometry in IMAGE PIXELS, continuous, origin at
// the top-left corner of the top-left pixel (pixel (c, r) covers [c, c+1) x [r, r+1)).
// ---------------------------------------------------------------------------

export type AnnotationKind = 'class' | 'box' | 'polygon' | 'mask';
export type AnnotationSource = 'human' | 'model' | 'imported';
/** 'proposed': a model's prediction waiting for a person; 'rejected' and 'deleted' are kept, never shown. */
export type AnnotationStatus = 'active' | 'proposed' | 'rejected' | 'deleted';

export interface BoxGeometry {
  x: number;
  y: number;
  width: number;
  height: number;
}
export interface PolygonGeometry {
  /** [[x, y], ...], at least 3 points, not closed (the last point joins the first). */
  points: [number, number][];
}
/** COCO RLE, uncompressed counts, COLUMN-MAJOR (pycocotools), size [height, width]. */
export interface MaskGeometry {
  rle: { size: [number, number]; counts: number[] };
}
export type AnnotationGeometry = BoxGeometry | PolygonGeometry | MaskGeometry;

export interface Annotation {
  id: number;
  datasetId: number;
  /** Exactly one of itemId / seriesId is set: an image's (or frame's) label, or a whole series' class. */
  itemId: number | null;
  seriesId: number | null;
  /** The frame of a multi-frame instance; null: the whole image. */
  frame: number | null;
  classId: number;
  kind: AnnotationKind;
  /** null for a class label. */
  geometry: AnnotationGeometry | null;
  /** A model's confidence, 0..1 (model proposals). */
  score: number | null;
  source: AnnotationSource;
  status: AnnotationStatus;
  /** Who made it (the annotator's name) or the model that proposed it. */
  author: string;
  /** Optimistic concurrency: every change bumps it; updates name the version they change. */
  version: number;
  createdAt: string;
  updatedAt: string;
}

/** The review status of an image or series, who set it, when, and the reviewer's comment. */
export interface StatusInfo {
  status: ItemStatus;
  comment: string | null;
  by: string | null;
  at: string | null;
}

/** Everything the viewer shows for one image, frame or series. */
export interface ImageLabels {
  /** Visible annotations (active and proposed) in id order. */
  annotations: Annotation[];
  /** The item's status (null when a whole series was asked for). */
  item: StatusInfo | null;
  /** The series' status when the item belongs to one (or a series was asked for). */
  series: (StatusInfo & { seriesId: number }) | null;
}

/** A dataset's label schema. */
export interface LabelSchema {
  datasetId: number;
  /** Image and series classes: several per image (multi-label) or one (single-label). */
  multiLabel: boolean;
  classes: LabelClass[];
}

/** Actions that have a configurable key. Class keys (1-9) live on the classes themselves. */
export const HOTKEY_ACTIONS = [
  'tool.select',
  'tool.box',
  'tool.polygon',
  'tool.brush',
  'tool.eraser',
  'tool.sam',
  'brush.smaller',
  'brush.larger',
  'image.next',
  'image.previous',
  'image.submit',
  'proposal.accept',
  'proposal.reject',
  'annotation.delete',
  'slice.copyNext',
  'slice.interpolate',
  'slice.propagate',
  'review.approve',
  'review.reject',
  'edit.undo',
  'edit.redo',
] as const;
export type HotkeyAction = (typeof HOTKEY_ACTIONS)[number];

/** Keys are written like 'b', 'Shift+N', 'Ctrl+Enter', 'Delete' (modifiers Ctrl, Alt, Shift, Meta). */
export const DEFAULT_HOTKEYS: Readonly<Record<HotkeyAction, string>> = {
  'tool.select': 's',
  'tool.box': 'b',
  'tool.polygon': 'g',
  'tool.brush': 'd',
  'tool.eraser': 'e',
  'tool.sam': 'm',
  'brush.smaller': '[',
  'brush.larger': ']',
  'image.next': 'n',
  'image.previous': 'Shift+N',
  'image.submit': 'Ctrl+Enter',
  'proposal.accept': 'a',
  'proposal.reject': 'x',
  'annotation.delete': 'Delete',
  'slice.copyNext': 'c',
  'slice.interpolate': 't',
  'slice.propagate': 'Shift+M',
  'review.approve': 'y',
  'review.reject': 'u',
  'edit.undo': 'Ctrl+z',
  'edit.redo': 'Ctrl+Shift+Z',
};

export interface AnnotatorSettings {
  /** The name recorded on every annotation; null until the user gives one. */
  annotatorName: string | null;
  /** True when IT's policy (annotatorFromOsUser) fixes the name to the OS user. */
  annotatorLocked: boolean;
  /** Every action's key (the user's choice over DEFAULT_HOTKEYS). */
  hotkeys: Record<HotkeyAction, string>;
}

/** What a dataset export wrote ('export.finished'). */
export interface DatasetExportResult {
  format: ExportStartFormat;
  /** The export folder (real path) and its manifest (SHA-256 of every file). */
  root: string;
  manifest: string;
  files: { path: string; bytes: number; sha256: string }[];
  bytes: number;
  items: number;
  annotations: number;
  warnings: string[];
  /** Items deliberately not exported, with why (e.g. possible burned-in text). */
  heldBack: { itemId: number; /** Its display name (display-name.ts). */ name: string; reason: string }[];
  seconds: number;
}

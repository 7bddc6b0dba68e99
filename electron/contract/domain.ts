import type { TrainConfig } from './ml';

/**
 * Domain types shared by the backend, the CLI and the UI. Plain data only:
 * everything here must survive structured clone (IPC) and JSON (CLI, bridge).
 */

export type BackendName = 'tensorflow-gpu' | 'tensorflow-cpu' | 'wasm' | 'cpu';

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
}

export interface MlPreflight {
  backends: BackendStatus[];
  /** The backend Fovea uses for training and inference, or null if none can run. */
  chosen: BackendName | null;
  /** Why that one: which faster ones were skipped and why. Never silent. */
  why: string;
  gpus: GpuInfo[];
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
  createdAt: string;
  finishedAt: string | null;
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
  classNames: string[];
  samples: number;
  channels: 1 | 3;
  warnings: string[];
  defaults: TrainConfig;
  /** The current (or to-be-drawn) patient-grouped split. */
  splits: { counts: Record<string, number>; patients: Record<string, number>; patientGrouped: boolean };
}

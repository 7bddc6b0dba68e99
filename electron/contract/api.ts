/**
 * The one contract between the UI and the backend.
 *
 * Every request has a runtime schema for its payload (the renderer is
 * untrusted: main validates everything it receives) and a response type.
 * Every event has a payload type. main's IPC handlers, the preload, the
 * browser-harness bridge and the renderer's api.ts are all typed by this
 * file, so changing it breaks each of them at compile time.
 *
 * PURE TypeScript: no node:, no 'electron'. Imports nothing of ours but
 * the contract folder.
 */
import * as v from 'valibot';
import type { AppInfo, Dataset, DatasetExportResult, EnterprisePolicyView, ImportProgress, ImportReport, ItemPage, LabelClass, PixelFrame, RunDetail, RunSummary, SeriesStack, TrainingPlan } from './domain';
import type { BatchProgress, EpochResult, ModelExportResult, TrainConfig, TrainOutcome } from './ml';
import type { FoveaError, Result } from './result';
import { deidOptionsSchema } from './deid-options';
import { WITHOUT_UNSAFE_CHARS } from './unsafe-chars';
import { EXPORT_LABELS, EXPORT_START_FORMATS, MODEL_EXPORT_FORMATS } from './export-formats';
import { annotateRequestSchemas, type AnnotateResponses } from './annotate';
import { EVALUATION_EVENT_NAMES, evaluationRequestSchemas, type EvaluationEvents, type EvaluationResponses } from './evaluation';
import { ASSIST_EVENT_NAMES, assistRequestSchemas, type AssistEvents, type AssistResponses } from './assist';
import { VOLUME_EVENT_NAMES, volumeRequestSchemas, type VolumeEvents, type VolumeResponses } from './volume';
import { JOB_EVENT_NAMES, jobRequestSchemas, type JobEvents, type JobResponses } from './jobs';
import { dicomTagRequestSchemas, type DicomTagResponses } from './dicom-tags';
import { DATA_MANAGEMENT_EVENT_NAMES, dataManagementRequestSchemas, type DataManagementEvents, type DataManagementResponses } from './data-management';
import { measureRequestSchemas, type MeasureResponses } from './measure';
import { runRequestSchemas, trainingStartRunFields, type RunResponses } from './runs';
import { TimeBudgetSecondsSchema, trainingStartRecipeFields, type RecipePreview } from './training-recipe';
import { seriesViewRequestSchemas, type SeriesViewResponses } from './series-view';

/** IPC channels are prefixed; the preload refuses anything else. */
export const CHANNEL_PREFIX = 'fovea:';
export const EVENT_CHANNEL = 'fovea:event';

const DatasetName = v.pipe(
  v.string(),
  v.trim(),
  v.minLength(1, 'A dataset needs a name.'),
  v.maxLength(120, 'Dataset names are at most 120 characters.'),
  // No control, bidi or invisible characters (unsafe-chars.ts): names end up in paths and on screen.
  v.regex(WITHOUT_UNSAFE_CHARS, 'Dataset names cannot contain control characters.'),
);
const Id = v.pipe(v.number(), v.integer(), v.minValue(1));
const TaskSchema = v.picklist(['classification', 'detection', 'segmentation']);
/** Classes to train: at least one, each a class name as the schema editor allows (no duplicates; checked by the core). */
const ClassNamesSchema = v.pipe(
  v.array(v.pipe(v.string(), v.minLength(1, 'A class name cannot be empty.'), v.maxLength(200, 'Class names are at most 200 characters.'))),
  v.minLength(1, 'Choose at least one class to train.'),
  v.maxLength(1000, 'At most 1000 classes.'),
);
const SplitFraction = v.pipe(v.number(), v.minValue(0, 'A split fraction is at least 0.'), v.maxValue(1, 'A split fraction is at most 1.'));
const ItemStatusSchema = v.picklist(['unlabeled', 'in_progress', 'done', 'needs_review', 'approved', 'rejected']);

/** Runtime schemas for every request payload, keyed by request name. */
export const requestSchemas = {
  /** Versions, library status and the ML backend preflight. */
  'app.info': v.strictObject({}),
  /** The enterprise policy in force (read-only). */
  'policy.get': v.strictObject({}),
  /** All datasets in the library with their counts. */
  'datasets.list': v.strictObject({}),
  /** Create an empty dataset. */
  'datasets.create': v.strictObject({
    name: DatasetName,
    description: v.optional(v.pipe(v.string(), v.maxLength(2000)), ''),
  }),
  /** One dataset by id. */
  'datasets.get': v.strictObject({ id: Id }),
  /**
   * Start importing files, folders and DICOMDIRs into a dataset (created if
   * it does not exist). Returns at once; progress and the report come as
   * 'import.progress' and 'import.finished' events.
   */
  'import.start': v.strictObject({
    datasetName: DatasetName,
    paths: v.pipe(v.array(v.pipe(v.string(), v.minLength(1), v.maxLength(4096))), v.minLength(1, 'Choose at least one file or folder.'), v.maxLength(10000)),
  }),
  /**
   * Create the sample library (synthetic CT series with lesion masks, synthetic road scenes with
   * boxes) from data Fovea generates itself. Returns at once; reports through 'samples.*' events.
   */
  'samples.create': v.strictObject({}),
  /** Training runs of a dataset (or all), newest first. */
  'runs.list': v.strictObject({ datasetId: v.optional(Id) }),
  /** One run with its per-epoch and per-batch curves. */
  'runs.get': v.strictObject({ runId: Id }),
  /**
   * What training this dataset for a task would use: classes, counts, default settings, the split.
   * `classNames`: train only these of the dataset's classes (default: every class with a usable label).
   */
  'training.plan': v.strictObject({ datasetId: Id, task: TaskSchema, classNames: v.optional(ClassNamesSchema) }),
  /** Start training; returns the job at once, the run id arrives with 'training.started'. */
  'training.start': v.strictObject({
    datasetId: Id,
    task: TaskSchema,
    /** Train only these classes (see 'training.plan'); labels of other classes are left out and counted. */
    classNames: v.optional(ClassNamesSchema),
    epochs: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(10000))),
    batchSize: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(4096))),
    inputSize: v.optional(v.pipe(v.number(), v.integer(), v.minValue(8), v.maxValue(4096))),
    backend: v.optional(v.picklist(['auto', 'tensorflow', 'webgpu', 'wasm', 'cpu'])),
    /** Segmentation: pixels no label covers train as background (default) or are ignored (void). */
    unlabeledPixels: v.optional(v.picklist(['background', 'ignore'])),
    /** The run's name and notes, learning rate and augmentation (runs.ts). */
    ...trainingStartRunFields,
    /** The recipe (defaults or planned) and a time budget (training-recipe.ts). */
    ...trainingStartRecipeFields,
  }),
  /** The recipe planned from the data for this dataset and task, and the settings a planned run would use (overrides applied). */
  'training.recipe': v.strictObject({
    datasetId: Id,
    task: TaskSchema,
    classNames: v.optional(ClassNamesSchema),
    epochs: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(10000))),
    batchSize: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(4096))),
    inputSize: v.optional(v.pipe(v.number(), v.integer(), v.minValue(8), v.maxValue(4096))),
    timeBudgetSeconds: v.optional(TimeBudgetSecondsSchema),
  }),
  /** Continue an interrupted or cancelled run from its last checkpoint. */
  'training.resume': v.strictObject({ runId: Id }),
  /**
   * Draw a dataset's automatic splits again with this seed (and fractions, normalised; default
   * 0.7 / 0.15 / 0.15). Splits a person set are never moved; patients stay whole. Audited.
   */
  'splits.redraw': v.strictObject({
    datasetId: Id,
    seed: v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(2 ** 31 - 1)),
    fractions: v.optional(
      v.pipe(
        v.strictObject({ train: SplitFraction, val: SplitFraction, test: SplitFraction }),
        v.check((f) => f.train + f.val + f.test > 0, 'At least one split fraction must be above 0.'),
      ),
    ),
  }),
  /** Ask a running run to stop after its current batch (works across processes). */
  'training.cancel': v.strictObject({ runId: Id }),
  /** Cancel a running job (import, ...): it stops after the current file, leaving the library consistent. */
  'jobs.cancel': v.strictObject({ jobId: v.pipe(v.string(), v.maxLength(200)) }),
  /** The dataset browser: filter, sort and page a dataset's items (indexed; fast at 100,000 items). */
  'items.list': v.strictObject({
    datasetId: Id,
    status: v.optional(v.pipe(v.array(ItemStatusSchema), v.maxLength(6))),
    classId: v.optional(Id),
    split: v.optional(v.picklist(['train', 'val', 'test', 'none'])),
    modality: v.optional(v.pipe(v.string(), v.maxLength(16))),
    seriesId: v.optional(Id),
    labelSource: v.optional(v.picklist(['human', 'model', 'imported'])),
    search: v.optional(v.pipe(v.string(), v.maxLength(200))),
    kind: v.optional(v.picklist(['dicom', 'image'])),
    sort: v.optional(v.picklist(['id', 'name', 'instance', 'status', 'uncertainty'])),
    /** sort 'uncertainty': whose scores (default: the run that scored this dataset last). */
    uncertaintyRunId: v.optional(Id),
    offset: v.optional(v.pipe(v.number(), v.integer(), v.minValue(0))),
    limit: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(1000))),
    /** Count all matches (default true). */
    withTotal: v.optional(v.boolean()),
  }),
  /**
   * One frame decoded for display by the backend's one decoder: greyscale as stored values
   * (typed array) with rescale and windows; colour, palette and YBR as RGBA 8-bit.
   */
  'pixels.get': v.strictObject({ itemId: Id, frame: v.optional(v.pipe(v.number(), v.integer(), v.minValue(0)), 0) }),
  /** A series' frames in display order, for stack scrolling. */
  'series.get': v.strictObject({ seriesId: Id }),
  /** A dataset's label classes (the browser's class filter). */
  'classes.list': v.strictObject({ datasetId: Id }),
  /**
   * Export a run's model (best checkpoint unless `checkpoint: 'last'`) as TF.js or ONNX with a model
   * card into an absolute folder. Refused (FORBIDDEN) when the IT policy sets modelExport to false.
   */
  'models.export': v.strictObject({
    runId: Id,
    format: v.picklist(MODEL_EXPORT_FORMATS),
    outDir: v.pipe(v.string(), v.minLength(1), v.maxLength(4096)),
    checkpoint: v.optional(v.picklist(['best', 'last'])),
    overwrite: v.optional(v.boolean()),
  }),
  /**
   * Write a run's evaluation report into an absolute folder: report.html (self-contained, inline
   * SVG, no script), report.pdf when `pdf`, and the manifest. Uses the stored evaluation of the
   * split (default test) and evaluates the run first when there is none. No patient data.
   */
  'reports.export': v.strictObject({
    runId: Id,
    split: v.optional(v.picklist(['train', 'val', 'test', 'all'])),
    outDir: v.pipe(v.string(), v.minLength(1), v.maxLength(4096)),
    pdf: v.optional(v.boolean()),
    overwrite: v.optional(v.boolean()),
  }),
  /**
   * Export a dataset's labels (coco, yolo, voc, csv, masks, nifti, dicom-seg) or de-identified
   * DICOM (dicom-deid) into an absolute folder, with a SHA-256 manifest. Returns the job at once;
   * 'export.progress' and 'export.finished' follow. FORBIDDEN when the IT policy
   * (allowedExportFormats) does not allow the format; an existing file is a CONFLICT unless
   * `overwrite`. 'pytorch' is the training export (images, labels, split, plan and train.py for
   * torchrun; core/export/training-export.ts): it takes `trainingTask`, `deidentify` and `splitFromRun`, needs a
   * new or empty folder, and exports the dataset's whole current split (`split` does not apply).
   */
  'export.start': v.strictObject({
    datasetId: Id,
    format: v.picklist(EXPORT_START_FORMATS),
    /** pytorch: what the model learns. */
    trainingTask: v.optional(v.picklist(['classify', 'detect', 'segment'])),
    /** pytorch: DICOM through the PS3.15 basic profile first; possible burned-in text held back. */
    deidentify: v.optional(v.boolean()),
    /** pytorch: the settings and the exact split of this run of the dataset (same task), not the defaults and the current split. */
    splitFromRun: v.optional(Id),
    outDir: v.pipe(v.string(), v.minLength(1, 'Choose a folder to export into.'), v.maxLength(4096)),
    split: v.optional(v.picklist(['train', 'val', 'test'])),
    overwrite: v.optional(v.boolean()),
    /** Copy plain images into the export (label formats). */
    withImages: v.optional(v.boolean()),
    /** YOLO: boxes (detect, default) or polygons (segment). */
    yoloTask: v.optional(v.picklist(['detect', 'segment'])),
    /** Label formats: the labels (human, default), a model's unreviewed proposals, or all. */
    labels: v.optional(v.picklist(EXPORT_LABELS)),
    /** dicom-deid: the PS3.15 Annex E profile options (electron/core/deid/deid-export.ts). */
    deid: v.optional(deidOptionsSchema),
  }),
  /** Labeling: annotations, label schema, review status, annotator settings (annotate.ts). */
  ...annotateRequestSchemas,
  /** Evaluation and model-assisted labeling (evaluation.ts). */
  ...evaluationRequestSchemas,
  /** Model help while labeling: click-to-mask, propagation, model packs, imported models (assist.ts). */
  ...assistRequestSchemas,
  /** Multi-planar views and the segment editor (volume.ts). */
  ...volumeRequestSchemas,
  ...jobRequestSchemas,
  /** The viewer's DICOM tag browser (dicom-tags.ts). */
  ...dicomTagRequestSchemas,
  /** Rename and delete datasets, delete items, batch status and split (data-management.ts). */
  ...dataManagementRequestSchemas,
  /** Kept measurements: length, angle, regions with statistics (measure.ts). */
  ...measureRequestSchemas,
  /** Run names and notes, comparing runs (runs.ts). */
  ...runRequestSchemas,
  ...seriesViewRequestSchemas,
} as const;

export type RequestName = keyof typeof requestSchemas;
export type RequestInput<K extends RequestName> = v.InferInput<(typeof requestSchemas)[K]>;
export type RequestPayload<K extends RequestName> = v.InferOutput<(typeof requestSchemas)[K]>;

/** What 'reports.export' wrote. */
export interface ReportExportResponse {
  runId: number;
  split: 'train' | 'val' | 'test' | 'all';
  task: 'classification' | 'detection' | 'segmentation';
  /** The export folder (real path) and its manifest. */
  root: string;
  manifest: string;
  files: { path: string; bytes: number; sha256: string }[];
  bytes: number;
  /** There was no stored evaluation: the run was evaluated now. */
  evaluatedNow: boolean;
  /** Headline metrics as the report shows them. */
  metrics: { label: string; value: string }[];
  /** False on a read-only library (its audit log cannot be written). */
  audited: boolean;
}

/** A dataset's split after 'splits.redraw'. */
export interface SplitRedrawResult {
  datasetId: number;
  seed: number;
  /** The fractions used, normalised to sum 1. */
  fractions: { train: number; val: number; test: number };
  items: number;
  /** Items per split, and items without one. */
  counts: { train: number; val: number; test: number; unassigned: number };
  /** Rows drawn automatically, and rows a person set (which a redraw never moves). */
  byOrigin: { auto: number; user: number };
  /** Distinct DICOM patients per split. */
  patients: { train: number; val: number; test: number };
  /** true when no patient spans two splits. */
  patientGrouped: boolean;
  /** Automatic rows removed and drawn again. */
  redrawn: number;
  /** Runs of this dataset that trained on the previous split (their val/test scores on the new one would be optimistic). */
  warnings: string[];
}

/** The response type of every request. */
export interface Responses extends AnnotateResponses, EvaluationResponses, AssistResponses, VolumeResponses, JobResponses, DicomTagResponses, DataManagementResponses, MeasureResponses, RunResponses, SeriesViewResponses {
  'app.info': AppInfo;
  'policy.get': EnterprisePolicyView;
  'datasets.list': Dataset[];
  'datasets.create': Dataset;
  'datasets.get': Dataset;
  'import.start': { jobId: string; datasetId: number };
  'jobs.cancel': { cancelled: boolean };
  'samples.create': { jobId: string };
  'runs.list': RunSummary[];
  'runs.get': RunDetail;
  'training.plan': TrainingPlan;
  'training.start': { jobId: string };
  'training.recipe': RecipePreview;
  'training.resume': { jobId: string };
  'training.cancel': { cancelRequested: boolean };
  'splits.redraw': SplitRedrawResult;
  'items.list': ItemPage;
  'pixels.get': PixelFrame;
  'series.get': SeriesStack;
  'classes.list': LabelClass[];
  'models.export': ModelExportResult;
  'reports.export': ReportExportResponse;
  'export.start': { jobId: string };
}

/** Events pushed from the backend to the UI. */
export interface Events extends EvaluationEvents, AssistEvents, VolumeEvents, JobEvents, DataManagementEvents {
  /** A dataset was created, changed or its contents changed. */
  'datasets.changed': { datasetId: number };
  /** Import progress, at most a few times a second. */
  'import.progress': { jobId: string } & ImportProgress;
  /** An import ended (done, cancelled or failed), with its report. */
  'import.finished': { jobId: string; report: ImportReport | null; error: FoveaError | null };
  /** The sample library is being made: the phase, and import progress within it. */
  /** `fraction`: 0..1 over the whole sample library (weighted by phase), never going back. */
  'samples.progress': { jobId: string; phase: string; progress: ImportProgress | null; fraction: number };
  'samples.finished': { jobId: string; datasets: { name: string; id: number; items: number; annotations: number }[]; error: FoveaError | null };
  /** A run began (or resumed): its id and settings. */
  'training.started': { jobId: string; runId: number; runName: string | null; config: TrainConfig; samples: number; warnings: string[] };
  'training.batch': { runId: number } & BatchProgress;
  'training.epoch': { runId: number } & EpochResult;
  /** The run ended, or could not start (error set, runId null). `runName`: the name a person gave it (runs.ts runDisplayName). */
  'training.finished': { jobId: string; runId: number | null; runName: string | null; outcome: TrainOutcome | null; error: FoveaError | null };
  /** An annotation, a status or the label schema of a dataset changed (item/series when it was one image's). */
  'labels.changed': { datasetId: number; itemId: number | null; seriesId: number | null };
  /** A dataset export is running: images done of total. */
  'export.progress': { jobId: string; done: number; total: number };
  /** A dataset export ended: its result, or the error (CONFLICT, FORBIDDEN, CANCELLED, IO...). */
  'export.finished': { jobId: string; result: DatasetExportResult | null; error: FoveaError | null };
}
export type EventName = keyof Events;

/** The names of every event, for allow-listing in the preload. */
export const EVENT_NAMES = [
  'datasets.changed',
  'import.progress',
  'import.finished',
  'samples.progress',
  'samples.finished',
  'training.started',
  'training.batch',
  'training.epoch',
  'training.finished',
  'labels.changed',
  'export.progress',
  'export.finished',
  ...EVALUATION_EVENT_NAMES,
  ...ASSIST_EVENT_NAMES,
  ...VOLUME_EVENT_NAMES,
  ...JOB_EVENT_NAMES,
  ...DATA_MANAGEMENT_EVENT_NAMES,
] as const satisfies readonly EventName[];
// Compile-time check that EVENT_NAMES lists every event.
type _MissingEvents = Exclude<EventName, (typeof EVENT_NAMES)[number]>;
const _eventsComplete: _MissingEvents extends never ? true : false = true;
void _eventsComplete;

export const REQUEST_NAMES = Object.keys(requestSchemas) as RequestName[];

export function isRequestName(value: unknown): value is RequestName {
  return typeof value === 'string' && Object.prototype.hasOwnProperty.call(requestSchemas, value);
}

export function isEventName(value: unknown): value is EventName {
  return typeof value === 'string' && (EVENT_NAMES as readonly string[]).includes(value);
}

export interface EventEnvelope<E extends EventName = EventName> {
  name: E;
  payload: Events[E];
}

/**
 * What the preload exposes as `window.fovea`, and what the browser harness
 * bridge implements: exactly the contract, nothing else.
 */
export interface FoveaApi {
  invoke<K extends RequestName>(name: K, input: RequestInput<K>): Promise<Result<Responses[K]>>;
  /** Subscribe to an event; returns the unsubscribe function. */
  on<E extends EventName>(name: E, listener: (payload: Events[E]) => void): () => void;
  /**
   * The file-system path of a File the user dropped on the window, or null
   * where the transport cannot know it (a plain browser). The File stays in
   * the renderer; only its path crosses, as an import.start argument.
   */
  pathForFile(file: unknown): string | null;
  /**
   * A URL the page can load (an <img src>) for a stored image blob named by its SHA-256:
   * thumbnails and stored plain images. fovea://data/ab/abcd... in Electron, a loopback URL in
   * the browser harness. Throws TypeError for anything that is not a lowercase hex SHA-256.
   */
  blobUrl(sha256: string): string;
}

/** A blob name: 64 lowercase hex digits. */
export const SHA256_PATTERN = /^[0-9a-f]{64}$/;

/** Validate a request payload. Never throws. */
export function parseRequest<K extends RequestName>(
  name: K,
  input: unknown,
): { ok: true; value: RequestPayload<K> } | { ok: false; message: string; issues: string[] } {
  const schema = requestSchemas[name];
  const parsed = v.safeParse(schema, input);
  if (parsed.success) return { ok: true, value: parsed.output as RequestPayload<K> };
  const issues = parsed.issues.map((issue) => {
    const path = issue.path?.map((p) => String(p.key)).join('.') ?? '';
    return path ? `${path}: ${issue.message}` : issue.message;
  });
  return { ok: false, message: `Invalid request ${name}: ${issues.join('; ')}`, issues };
}

/**
 * Data management (issue 19): rename and delete datasets, delete items, and set the review status
 * or the split of many items at once. Every request goes through Core.admit (read-only library)
 * and is audited; the core service is electron/core/datamgmt/data-management-service.ts.
 *
 * What deleting a dataset takes with it, said once here so the UI, the CLI and the docs agree:
 * its items, labels, model proposals, splits and review statuses; its training runs with their
 * checkpoints, curves and evaluations (a run cannot outlive the images it trained on); and the
 * stored files no other dataset uses. Models and reports already exported to a folder stay where
 * they were exported. The audit log keeps its rows.
 *
 * PURE TypeScript: no node:, no 'electron'.
 */
import * as v from 'valibot';
import type { Dataset } from './domain';
import type { FoveaError } from './result';
import { WITHOUT_UNSAFE_CHARS } from './unsafe-chars';

const Id = v.pipe(v.number(), v.integer(), v.minValue(1));
const DatasetName = v.pipe(
  v.string(),
  v.trim(),
  v.minLength(1, 'A dataset needs a name.'),
  v.maxLength(120, 'Dataset names are at most 120 characters.'),
  v.regex(WITHOUT_UNSAFE_CHARS, 'Dataset names cannot contain control characters.'),
);
/** At most this many items per batch request (the UI sends the marked items; the CLI chunks). */
export const MAX_BATCH_ITEMS = 10000;
const ItemIds = v.pipe(v.array(Id), v.minLength(1, 'Choose at least one item.'), v.maxLength(MAX_BATCH_ITEMS, `At most ${MAX_BATCH_ITEMS} items at once.`));
const ItemStatusSchema = v.picklist(['unlabeled', 'in_progress', 'done', 'needs_review', 'approved', 'rejected']);

/** The sentence every surface shows about runs when a dataset is deleted. */
export const DATASET_DELETE_RUNS_NOTE =
  'Training runs of this dataset are deleted with it (their checkpoints, curves and evaluations); models and reports you exported to a folder stay there.';

export const dataManagementRequestSchemas = {
  /** Rename a dataset (names are unique, case-insensitively). Audited. */
  'datasets.rename': v.strictObject({ id: Id, name: DatasetName }),
  /** What deleting a dataset would remove (counts), and whether it is refused now (a job is running on it). */
  'datasets.deletePreview': v.strictObject({ id: Id }),
  /**
   * Delete a dataset and everything in it (see the file header) as a job ('dataset-delete'): the
   * answer comes at once and the dataset is gone from every list from then on; its rows and files
   * go in batches, with progress ("Deleting: k of N items") and 'datasets.delete.finished' at the
   * end. A delete cut short (a crash) goes on when the library opens again. CONFLICT while a job
   * (import, training, prediction, export...) works on it. Audited when it begins.
   */
  'datasets.delete': v.strictObject({ id: Id }),
  /** Delete items of a dataset: their labels, proposals, splits go with them; stored files no item uses any more are removed. */
  'items.delete': v.strictObject({ datasetId: Id, itemIds: ItemIds }),
  /** Set the review status of many items at once (one transaction, one audit row). */
  'items.setStatusMany': v.pipe(
    v.strictObject({ datasetId: Id, itemIds: ItemIds, status: ItemStatusSchema, comment: v.optional(v.pipe(v.string(), v.trim(), v.maxLength(2000))) }),
    v.check((p) => p.status !== 'rejected' || (p.comment ?? '').length > 0, 'Rejecting needs a comment that says what to fix.'),
  ),
  /**
   * Put items in a split by hand (origin 'user': training uses it and a redraw never moves it).
   * A DICOM patient is never split: the patient's other images move with the chosen ones, and the
   * answer says so ('warnings').
   */
  'items.setSplit': v.strictObject({ datasetId: Id, itemIds: ItemIds, split: v.picklist(['train', 'val', 'test']) }),
};

/** Requests that write to the library (refused on a read-only one). */
export const DATA_MANAGEMENT_WRITES = ['datasets.rename', 'datasets.delete', 'items.delete', 'items.setStatusMany', 'items.setSplit'] as const;

/** What deleting a dataset removes. */
export interface DatasetFootprint {
  datasetId: number;
  name: string;
  items: number;
  series: number;
  patients: number;
  /** Labels people made or imported (active annotations). */
  labels: number;
  /** Model proposals not yet accepted. */
  proposals: number;
  /** Items with a split. */
  splits: number;
  /** Training runs (and their ids): deleted with the dataset. */
  runs: number;
  runIds: number[];
  /** Stored files only this dataset uses, and their bytes. */
  blobs: number;
  blobBytes: number;
}

export interface DatasetDeletePreview extends DatasetFootprint {
  /** Why deleting is refused now (a job works on the dataset), or null. */
  blockedBy: string | null;
  /** Plain sentences for the confirmation (what goes, what happens to runs). */
  summary: string[];
}

/**
 * What a delete removed. `blobs` and `blobBytes` count the stored files it removed (those only this
 * dataset used); a delete resumed after a crash counts only what it removed after the restart.
 */
export interface DatasetDeleteResult extends DatasetFootprint {
  /** Stored files removed from disk now (files left for `fovea check --repair` when an import was running). */
  blobFilesRemoved: number;
  /** Run checkpoint folders removed. */
  checkpointDirsRemoved: number;
}

/** What a dataset holds, its blobs aside (counting the blobs only it uses is a look-up per item). */
export type DatasetContents = Omit<DatasetFootprint, 'blobs' | 'blobBytes'>;

/** The answer to 'datasets.delete': the job that deletes, and what the dataset held when it began. */
export interface DatasetDeleteStarted extends DatasetContents {
  jobId: string;
}

/** The progress phase of a dataset delete ("Deleting: 1,200 of 20,000 items"), said the same by the core, the UI and the CLI. */
export function datasetDeletePhase(done: number, total: number): string {
  return `Deleting: ${done.toLocaleString('en-US')} of ${total.toLocaleString('en-US')} items`;
}

export interface ItemsDeleteResult {
  datasetId: number;
  /** Items removed (ids not in the dataset are ignored and counted in `notFound`). */
  deleted: number;
  notFound: number;
  /** Labels and proposals that went with them (series-level labels of series left empty included). */
  labels: number;
  proposals: number;
  /** Series, studies and patients left without images, removed. */
  emptySeriesRemoved: number;
  blobsRemoved: number;
  warnings: string[];
}

export interface ItemsStatusResult {
  datasetId: number;
  status: 'unlabeled' | 'in_progress' | 'done' | 'needs_review' | 'approved' | 'rejected';
  updated: number;
  notFound: number;
}

export interface ItemsSplitResult {
  datasetId: number;
  split: 'train' | 'val' | 'test';
  /** Items asked for (in the dataset), rows written, and items that moved because they share a patient. */
  requested: number;
  written: number;
  addedFromPatients: number;
  notFound: number;
  warnings: string[];
}

export interface DataManagementResponses {
  'datasets.rename': Dataset;
  'datasets.deletePreview': DatasetDeletePreview;
  'datasets.delete': DatasetDeleteStarted;
  'items.delete': ItemsDeleteResult;
  'items.setStatusMany': ItemsStatusResult;
  'items.setSplit': ItemsSplitResult;
}

export interface DataManagementEvents {
  /** A dataset delete job ended: what it removed, or the error (CANCELLED when the library closed mid-way: it resumes on open). */
  'datasets.delete.finished': { jobId: string; datasetId: number; result: DatasetDeleteResult | null; error: FoveaError | null };
}

export const DATA_MANAGEMENT_EVENT_NAMES = ['datasets.delete.finished'] as const satisfies readonly (keyof DataManagementEvents)[];

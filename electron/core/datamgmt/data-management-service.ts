/**
 * Data management (issue 19): rename and delete datasets, delete items, batch status and split.
 * Deleting a dataset is a job (task datajob): marked first (gone from lists, audited), then its
 * rows go in short transactions with the event loop free between them, and a delete cut short
 * resumes when the library opens again (the mark is in the database).
 * The request handlers and the CLI both call this service (after Core.admit), so the read-only
 * and refusal rules hold for both. Each write is one transaction with its audit row in it
 * (ids and counts only, never names: a dataset's name may name a patient).
 *
 * Files are removed only after the commit (a rollback must not lose a file whose row stays):
 * blob files no row references any more, and the checkpoint folders of deleted runs. While an
 * import runs, blob files are left (the import may be about to reuse one of them); they are
 * harmless orphans that `fovea check --repair` removes.
 */
import { rmSync, existsSync } from 'node:fs';
import { DATASET_DELETE_RUNS_NOTE, datasetDeletePhase, type DataManagementEvents, type DatasetDeletePreview, type DatasetDeleteResult, type DatasetContents, type DatasetDeleteStarted, type ItemsDeleteResult, type ItemsSplitResult, type ItemsStatusResult } from '../../contract/data-management';
import type { Dataset, ItemStatus } from '../../contract/domain';
import type { JobInfo } from '../../contract/jobs';
import { FoveaException } from '../../contract/result';
import type { AuditLog } from '../store/audit-log';
import { countItems, datasetContents, datasetFootprint, datasetsBeingDeleted, deleteDatasetStep, deleteItems, itemsInDataset, markDatasetDeleting, renameDataset, runningRunIds, setItemsStatus } from '../store/data-management-repo';
import type { JobContext, StartJob } from '../jobs/job-runner';
import type { Db } from '../store/library-db';
import { inImmediateTransaction, inRedoableTransaction } from '../store/transaction';
import type { SplitName } from '../../contract/ml';

export interface DataManagementDeps {
  db: Db;
  audit: AuditLog;
  /** The dataset as the list shows it (counts). */
  getDataset: (id: number) => Dataset;
  /** SplitService.setSplit: a person's split, whole patients, audited. */
  setSplit: (datasetId: number, itemIds: readonly number[], split: SplitName) => { requested: number; written: number; addedFromPatients: number; patients: string[] };
  /** Runs left 'running' by a process that died become 'interrupted' (they do not block). */
  markInterruptedRuns: () => void;
  /** Jobs running in this process. */
  activeJobs: () => JobInfo[];
  runDatasetOf: (runId: number) => number | null;
  checkpointDir: (runId: number) => string;
  removeBlobFile: (hash: string) => void;
  /** The annotator's name (VALIDATION when none is set), recorded on statuses. */
  annotator: () => string;
  onChanged: (datasetId: number, labels: boolean) => void;
  /** JobRunner.run: a dataset delete is a job. */
  startJob: StartJob;
  /** Emit 'datasets.delete.finished'. */
  deleteFinished: (e: DataManagementEvents['datasets.delete.finished']) => void;
}

/** Items per step of a dataset delete: the first step's, the bounds, and the time a step aims at (ms). */
const FIRST_BATCH = 100;
const MIN_BATCH = 10;
const MAX_BATCH = 4000;
const STEP_MS = 15;

function plural(n: number, one: string, many = `${one}s`): string {
  return `${n.toLocaleString('en-US')} ${n === 1 ? one : many}`;
}

function mib(bytes: number): string {
  return bytes >= 1024 * 1024 ? `${(bytes / (1024 * 1024)).toFixed(1)} MiB` : `${Math.ceil(bytes / 1024)} KiB`;
}

export class DataManagementService {
  readonly #d: DataManagementDeps;
  constructor(deps: DataManagementDeps) {
    this.#d = deps;
  }

  rename(id: number, name: string): Dataset {
    inImmediateTransaction(this.#d.db, () => {
      renameDataset(this.#d.db, id, name);
      this.#d.audit.append({ action: 'dataset.rename', objectType: 'dataset', objectId: id });
    });
    this.#d.onChanged(id, false);
    return this.#d.getDataset(id);
  }

  /** Why work on this dataset is refused now (a job or a run works on it), or null. */
  blockedBy(datasetId: number): string | null {
    const jobs = this.#d.activeJobs().filter((j) => j.subject.datasetId === datasetId || (j.subject.runId !== null && this.#d.runDatasetOf(j.subject.runId) === datasetId));
    if (jobs.length > 0) {
      const kinds = [...new Set(jobs.map((j) => j.kind))].join(', ');
      return `A job is working on this dataset (${kinds}). Wait for it to finish or cancel it first.`;
    }
    this.#d.markInterruptedRuns();
    const running = runningRunIds(this.#d.db, datasetId);
    if (running.length > 0) return `Run ${running.join(', ')} of this dataset is training. Wait for it to finish or cancel it first.`;
    return null;
  }

  #refuseIfBusy(datasetId: number): void {
    const why = this.blockedBy(datasetId);
    if (why) throw new FoveaException('CONFLICT', why, { reason: 'JOB_RUNNING' });
  }

  deletePreview(id: number): DatasetDeletePreview {
    const f = datasetFootprint(this.#d.db, id);
    const summary = [
      `${plural(f.items, 'item')} (${plural(f.series, 'series', 'series')}, ${plural(f.patients, 'patient')}), ${plural(f.labels, 'label')} and ${plural(f.proposals, 'model proposal')} will be deleted.`,
      f.runs > 0 ? `This dataset has ${plural(f.runs, 'training run')} (${f.runs === 1 ? 'run' : 'runs'} ${f.runIds.join(', ')}). ${DATASET_DELETE_RUNS_NOTE}` : 'This dataset has no training runs.',
      `${plural(f.blobs, 'stored file')} (${mib(f.blobBytes)}) only this dataset uses will be removed from the library. The audit log keeps its record. This cannot be undone.`,
    ];
    return { ...f, blockedBy: this.blockedBy(id), summary };
  }

  /**
   * Delete a dataset as a job: check, then mark it deleting with its audit row (one short
   * transaction: from here on it is gone from every list and its name is free), and answer at
   * once; the job deletes its rows in batches and yields between them, so other requests are
   * served meanwhile.
   */
  deleteDataset(id: number): DatasetDeleteStarted {
    this.#d.getDataset(id); // NOT_FOUND first
    this.#refuseIfBusy(id);
    // Index counts only (no per-item blob look-up): this runs before the answer, on the core's thread.
    const footprint = inImmediateTransaction(this.#d.db, () => {
      const fp = datasetContents(this.#d.db, id);
      markDatasetDeleting(this.#d.db, id, fp);
      this.#d.audit.append({
        action: 'dataset.delete',
        objectType: 'dataset',
        objectId: id,
        details: { items: fp.items, labels: fp.labels, proposals: fp.proposals, runs: fp.runIds },
      });
      return fp;
    });
    this.#d.onChanged(id, false);
    const { jobId } = this.#startDeleteJob(id, footprint);
    return { jobId, ...footprint };
  }

  /** Go on with the deletes a crash (or closing the library) cut short: called when the library opens. */
  resumeDeletes(): string[] {
    return datasetsBeingDeleted(this.#d.db).map(({ id, footprint }) => this.#startDeleteJob(id, footprint).jobId);
  }

  #startDeleteJob(id: number, footprint: DatasetContents): { jobId: string } {
    const { jobId } = this.#d.startJob<DatasetDeleteResult>({
      kind: 'dataset-delete',
      subject: { datasetId: id },
      task: (job) => this.#runDelete(id, footprint, job),
      finished: (r) => this.#d.deleteFinished(r.ok ? { jobId, datasetId: id, result: r.value, error: null } : { jobId, datasetId: id, result: null, error: r.error }),
    });
    return { jobId };
  }

  async #runDelete(id: number, footprint: DatasetContents, job: JobContext): Promise<DatasetDeleteResult> {
    const db = this.#d.db;
    const stopped = (): void => {
      // The library is closing: what is deleted stays deleted, the rest goes when it opens again.
      if (job.signal.aborted) throw new FoveaException('CANCELLED', 'The delete stopped because the library closed; it goes on when the library opens again.');
    };
    // Checkpoints first: a run row outliving its folder for a moment is harmless, a folder outliving its row is not.
    let checkpointDirsRemoved = 0;
    for (const runId of footprint.runIds) {
      const dir = this.#d.checkpointDir(runId);
      if (existsSync(dir)) {
        rmSync(dir, { recursive: true, force: true });
        checkpointDirsRemoved++;
      }
    }
    const total = Math.max(footprint.items, countItems(db, id));
    let done = total - countItems(db, id);
    let blobFilesRemoved = 0;
    let blobs = 0;
    let blobBytes = 0;
    // Rows per step for each phase (an item costs many rows), tuned so that a step takes about STEP_MS on this machine.
    const limits = { rows: FIRST_BATCH * 4, items: FIRST_BATCH };
    const report = (): void => job.progress({ done, total, phase: datasetDeletePhase(done, total) });
    report();
    for (;;) {
      stopped();
      const t0 = performance.now();
      // Redone if a power cut undoes it (the mark is durable): no fsync per step.
      const step = inRedoableTransaction(db, () => deleteDatasetStep(db, id, limits));
      const ms = performance.now() - t0;
      blobFilesRemoved += this.#removeBlobFiles(step.removedBlobs);
      blobs += step.removedBlobs.length;
      blobBytes += step.removedBytes;
      done += step.items;
      if (step.phase === 'done') break;
      const key = step.phase === 'items' ? 'items' : 'rows';
      limits[key] = Math.round(Math.min(MAX_BATCH, Math.max(MIN_BATCH, (limits[key] * STEP_MS) / Math.max(ms, 1))));
      if (step.items > 0) report();
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
    report();
    this.#d.onChanged(id, true);
    return { ...footprint, blobs, blobBytes, blobFilesRemoved, checkpointDirsRemoved };
  }

  #removeBlobFiles(hashes: readonly string[]): number {
    if (this.#d.activeJobs().some((j) => j.kind === 'import' || j.kind === 'samples')) return 0;
    for (const h of hashes) this.#d.removeBlobFile(h);
    return hashes.length;
  }

  deleteItems(datasetId: number, itemIds: readonly number[]): ItemsDeleteResult {
    this.#d.getDataset(datasetId); // NOT_FOUND
    this.#refuseIfBusy(datasetId);
    const r = inImmediateTransaction(this.#d.db, () => {
      const ids = itemsInDataset(this.#d.db, datasetId, itemIds);
      const res = deleteItems(this.#d.db, datasetId, ids);
      this.#d.audit.append({
        action: 'items.delete',
        objectType: 'dataset',
        objectId: datasetId,
        details: { items: ids.length <= 1000 ? ids : ids.length, labels: res.labels, proposals: res.proposals, emptySeries: res.emptySeriesRemoved, blobs: res.removedBlobs.length },
      });
      return res;
    });
    this.#removeBlobFiles(r.removedBlobs);
    const notFound = new Set(itemIds).size - r.deleted;
    const warnings: string[] = [];
    if (notFound > 0) warnings.push(`${plural(notFound, 'item')} asked for ${notFound === 1 ? 'is' : 'are'} not in this dataset (already deleted?) and ${notFound === 1 ? 'was' : 'were'} left alone.`);
    const runs = datasetFootprint(this.#d.db, datasetId).runIds;
    if (r.deleted > 0 && runs.length > 0) warnings.push(`Run${runs.length > 1 ? 's' : ''} ${runs.join(', ')} trained on this dataset before; their stored evaluations still count the deleted items until evaluated again.`);
    this.#d.onChanged(datasetId, true);
    return { datasetId, deleted: r.deleted, notFound, labels: r.labels, proposals: r.proposals, emptySeriesRemoved: r.emptySeriesRemoved, blobsRemoved: r.removedBlobs.length, warnings };
  }

  setStatus(datasetId: number, itemIds: readonly number[], status: ItemStatus, comment?: string, by?: string): ItemsStatusResult {
    if (status === 'rejected' && !comment) throw new FoveaException('VALIDATION', 'Rejecting needs a comment that says what to fix.');
    const author = by ?? this.#d.annotator();
    this.#d.getDataset(datasetId);
    const r = inImmediateTransaction(this.#d.db, () => {
      const ids = itemsInDataset(this.#d.db, datasetId, itemIds);
      const res = setItemsStatus(this.#d.db, datasetId, ids, status, author, comment ? comment : null);
      // The comment is free text (it may name the patient): the audit says only that there is one.
      this.#d.audit.append({
        action: 'items.status',
        objectType: 'dataset',
        objectId: datasetId,
        actor: author,
        details: { to: status, from: res.from, items: ids.length <= 1000 ? ids : ids.length, comment: Boolean(comment) },
      });
      return res;
    });
    this.#d.onChanged(datasetId, true);
    return { datasetId, status, updated: r.updated, notFound: new Set(itemIds).size - r.updated };
  }

  setSplit(datasetId: number, itemIds: readonly number[], split: SplitName): ItemsSplitResult {
    this.#d.getDataset(datasetId);
    this.#refuseIfTraining(datasetId);
    const r = this.#d.setSplit(datasetId, itemIds, split);
    const notFound = new Set(itemIds).size - r.requested;
    const warnings: string[] = [];
    if (r.addedFromPatients > 0) {
      warnings.push(
        `${plural(r.addedFromPatients, 'more image')} moved to ${split} with ${plural(r.patients.length, 'patient')} whose other images were chosen: a patient is never in two splits.`,
      );
    }
    if (notFound > 0) warnings.push(`${plural(notFound, 'item')} asked for ${notFound === 1 ? 'is' : 'are'} not in this dataset and ${notFound === 1 ? 'was' : 'were'} left alone.`);
    this.#d.onChanged(datasetId, false);
    return { datasetId, split, requested: r.requested, written: r.written, addedFromPatients: r.addedFromPatients, notFound, warnings };
  }

  /** A run's split must not change under it (the same rule as a redraw). */
  #refuseIfTraining(datasetId: number): void {
    this.#d.markInterruptedRuns();
    const running = runningRunIds(this.#d.db, datasetId);
    if (running.length > 0) throw new FoveaException('CONFLICT', `Run ${running.join(', ')} of this dataset is training; set splits when it has finished or been cancelled.`, { reason: 'JOB_RUNNING' });
  }
}

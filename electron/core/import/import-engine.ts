/**
 * The one import engine, for the app and the CLI.
 *
 * For each file: hash it; skip it if this dataset already has it (so running
 * the same import again skips what is there and finishes what was
 * interrupted); otherwise decode it fully (a file that cannot be displayed
 * is refused now, not discovered later), make its thumbnail, write the blobs
 * (fsynced) and then commit the rows. Rows are committed in small batches:
 * a crash or Ctrl-C loses at most the uncommitted batch, which the next run
 * imports again; the library stays consistent (blob files are written before
 * the rows that reference them). One bad file never aborts the batch.
 *
 * The work on each file (reading, hashing, decoding, thumbnails, blob
 * writes) runs in a pool of worker threads, one per core by default
 * (file-preparer.ts); this thread is the one writer: it decides duplicates
 * and commits, in file order, so the outcome of every file and the rows are
 * the same whatever the number of workers. Small imports run in this thread
 * (starting workers would cost more than it saves).
 */
import type { ImportFileOutcome, ImportOutcome, ImportProgress, ImportReport } from '../../contract/domain';
import type { AuditLog } from '../store/audit-log';
import type { BlobStore } from '../store/blob-store';
import { finishImportJob, importOutcomeWriter, startImportJob } from '../store/import-repo';
import type { Db } from '../store/library-db';
import { ItemStore } from '../store/item-store';
import { inImmediateTransaction } from '../store/transaction';
import { collectFiles, type DicomDirReader } from './collect-files';
import { defaultImportWorkers, InThreadPreparer, WorkerPoolPreparer, type FilePreparer, type PrepareJob } from './file-preparer';
import { hashPrefixFilter, type DicomSupport as FileDicomSupport, type FileFailure, type PreparedSummary, type WrittenFile } from './prepare-file';

export type FileOutcomeKind = ImportOutcome;
export type FileOutcome = ImportFileOutcome;

export interface DicomSupport extends FileDicomSupport {
  readDicomDir: DicomDirReader;
}

export interface ImportRequest {
  datasetId: number;
  paths: readonly string[];
  signal?: AbortSignal;
  onProgress?: (p: ImportProgress) => void;
  onFile?: (f: FileOutcome) => void;
  /** Commit every this many files (default 16) or every 250 ms. */
  batchSize?: number;
  /**
   * Worker threads that read, hash, decode and thumbnail (default: one per
   * core); 0 does that work in this thread. Imports of fewer than
   * POOL_MIN_FILES files always run in this thread.
   */
  workers?: number;
}

/** Below this many files the import runs in the calling thread: a worker takes a few hundred ms to start. */
export const POOL_MIN_FILES = 32;

/** A decided file; `reserved` are the hashes/UIDs it holds in the in-run duplicate sets until committed. */
type Staged = {
  outcome: FileOutcome;
  /** The blob writes under way (fsynced before the row commits). */
  written?: Promise<WrittenFile | FileFailure | null>;
  commit?: (written: WrittenFile) => number;
  reserved?: { sourceSha: string; sop: string | null };
  /** A duplicate of a file staged earlier in this run: it points at that file's item once committed. */
  duplicateOf?: Staged;
};

export class ImportEngine {
  readonly #db: Db;
  readonly #blobs: BlobStore;
  readonly #items: ItemStore;
  readonly #audit: AuditLog;
  readonly #dicom: DicomSupport;

  constructor(db: Db, blobs: BlobStore, audit: AuditLog, dicom: DicomSupport) {
    this.#db = db;
    this.#blobs = blobs;
    this.#items = new ItemStore(db);
    this.#audit = audit;
    this.#dicom = dicom;
  }

  async run(req: ImportRequest): Promise<ImportReport> {
    const started = performance.now();
    this.#blobs.removeTempFiles();
    const { files, problems } = collectFiles(req.paths, this.#dicom.readDicomDir);
    const jobId = startImportJob(this.#db, req.datasetId, new Date().toISOString());
    const counts: Record<FileOutcomeKind, number> = { imported: 0, duplicate: 0, skipped: 0, failed: 0 };
    const notImported: FileOutcome[] = [];
    const bytesTotal = files.reduce((n, f) => n + f.size, 0);
    let bytesDone = 0;
    let filesDone = 0;
    let staged: Staged[] = [];
    let lastCommit = performance.now();
    const batchSize = req.batchSize ?? 16;
    // Files staged but not yet committed, by SOP Instance UID and by content hash.
    const stagedSop = new Map<string, Staged>();
    const stagedSource = new Map<string, Staged>();

    const progress = (): ImportProgress => {
      const secs = Math.max((performance.now() - started) / 1000, 1e-3);
      const fps = filesDone / secs;
      return {
        datasetId: req.datasetId,
        filesDone,
        filesTotal: files.length,
        bytesDone,
        bytesTotal,
        filesPerSecond: fps,
        megabytesPerSecond: bytesDone / 1e6 / secs,
        etaSeconds: fps > 0 ? (files.length - filesDone) / fps : null,
        counts: { ...counts },
      };
    };

    const record = (o: FileOutcome): void => {
      counts[o.outcome]++;
      if (o.outcome !== 'imported') notImported.push(o);
      req.onFile?.(o);
    };

    /** Commits one batch once its blobs are written and fsynced, in file order. */
    const commitBatch = async (batch: Staged[]): Promise<void> => {
      // Every blob of the batch is written and fsynced before the rows that reference them commit.
      const written = new Map<Staged, WrittenFile>();
      for (const st of batch) {
        if (st.written === undefined) continue;
        const w = await st.written;
        if (w !== null && 'blob' in w) {
          written.set(st, w);
        } else {
          const failure = w ?? { outcome: 'failed', code: 'INTERNAL', reason: 'its blobs were not written' };
          st.outcome = { path: st.outcome.path, bytes: st.outcome.bytes, outcome: failure.outcome, code: failure.code, reason: failure.reason };
          delete st.commit;
        }
      }
      const insertOutcome = importOutcomeWriter(this.#db);
      const commitOne = (st: Staged): void => {
        const w = written.get(st);
        if (st.commit && w) st.outcome.itemId = st.commit(w);
        // Whether an earlier copy was committed already or only staged (which depends on batching, so
        // on the pool), a duplicate names the item it duplicates; the original commits first (file order).
        const original = st.duplicateOf?.outcome.itemId;
        if (original !== undefined) st.outcome.itemId = original;
        insertOutcome(jobId, st.outcome.path, st.outcome.outcome, st.outcome.reason ?? null, st.outcome.itemId ?? null);
      };
      try {
        inImmediateTransaction(this.#db, () => batch.forEach(commitOne));
      } catch {
        // One row the database refuses must not take the batch with it: commit one by one,
        // and report the file that fails with the database's reason.
        for (const st of batch) {
          try {
            inImmediateTransaction(this.#db, () => commitOne(st));
          } catch (e) {
            st.outcome = { path: st.outcome.path, bytes: st.outcome.bytes, outcome: 'failed', code: 'INTERNAL', reason: `could not be saved: ${(e as Error).message}` };
          }
        }
      }
      for (const s of batch) {
        // Committed rows now answer duplicate checks from the database (in the same synchronous step).
        if (s.reserved) {
          stagedSource.delete(s.reserved.sourceSha);
          if (s.reserved.sop) stagedSop.delete(s.reserved.sop);
        }
        record(s.outcome);
      }
      req.onProgress?.(progress());
    };

    /**
     * Hands the staged files to the commit of the batch before (one batch commits while the next is
     * decided): the workers keep decoding while a batch waits for its last blob writes and its
     * transaction, instead of idling at every batch. (Two workers still import no faster than one
     * on 2 cores, measured before and after this: the limit there is CPU, not this wait.)
     */
    let committing: Promise<void> = Promise.resolve();
    const flush = async (): Promise<void> => {
      await committing;
      if (staged.length === 0) return;
      const batch = staged;
      staged = [];
      lastCommit = performance.now();
      committing = commitBatch(batch);
    };

    // Files are prepared ahead (by the workers, or in this thread while earlier blobs are written
    // on libuv's threads) and decided here in file order.
    const workers = req.workers ?? defaultImportWorkers();
    const pooled = workers > 0 && files.length >= POOL_MIN_FILES;
    const preparer: FilePreparer = pooled
      ? new WorkerPoolPreparer({ workers, blobRoot: this.#blobs.root, knownHashPrefixes: hashPrefixFilter(this.#items.sourceHashes(req.datasetId)) })
      : new InThreadPreparer(this.#blobs.root, this.#dicom);
    const window = pooled ? workers * 2 + 2 : 4;
    const knownSource = (sha: string): number | null => this.#items.findBySource(req.datasetId, sha);
    const inFlight: { job: PrepareJob; path: string; size: number; relativeName: string }[] = [];
    let next = 0;
    let cancelled = false;
    try {
      while (next < files.length || inFlight.length > 0) {
        while (!cancelled && next < files.length && inFlight.length < window) {
          if (req.signal?.aborted) {
            cancelled = true;
            break;
          }
          const file = files[next++] as (typeof files)[number];
          inFlight.push({ job: preparer.start(file.path, file.size, knownSource), ...file });
        }
        const head = inFlight.shift();
        if (!head) break;
        staged.push(await this.#decide(req.datasetId, head, stagedSop, stagedSource));
        bytesDone += head.size;
        filesDone++;
        if (staged.length >= batchSize || performance.now() - lastCommit > 250) await flush();
      }
      // The last blobs are written by the workers: commit before the pool closes.
      await flush();
      await committing;
    } finally {
      await preparer.close();
    }
    if (req.signal?.aborted && filesDone < files.length) cancelled = true;
    const final = progress();
    const summary = { ...final.counts, problems: problems.length };
    finishImportJob(this.#db, { jobId, datasetId: req.datasetId, status: cancelled ? 'cancelled' : 'done', summary, at: new Date().toISOString() });
    this.#audit.append({
      action: 'import',
      objectType: 'dataset',
      objectId: req.datasetId,
      outcome: cancelled ? 'cancelled' : 'ok',
      details: { jobId, ...summary },
    });
    req.onProgress?.(final);
    return { ...final, importJobId: jobId, cancelled, seconds: (performance.now() - started) / 1000, notImported, problems };
  }

  /**
   * Decides one prepared file, in file order: duplicate (by content, or by
   * SOP Instance UID), skipped, failed, or imported (its blobs are then
   * written by whoever prepared it, and its rows wait for the next commit).
   */
  async #decide(
    datasetId: number,
    head: { job: PrepareJob; path: string; size: number; relativeName: string },
    stagedSop: Map<string, Staged>,
    stagedSource: Map<string, Staged>,
  ): Promise<Staged> {
    const base = { path: head.path, bytes: head.size };
    const stage = await head.job.stage;
    if (stage.status === 'failed') return { outcome: { ...base, outcome: stage.failure.outcome, code: stage.failure.code, reason: stage.failure.reason } };
    if (stage.status === 'known') return { outcome: { ...base, outcome: 'duplicate', reason: 'this file is already in the dataset', itemId: stage.itemId } };
    const drop = (outcome: FileOutcome, duplicateOf?: Staged): Staged => {
      void head.job.finish(false);
      return duplicateOf ? { outcome, duplicateOf } : { outcome };
    };
    const hash = stage.sha256;
    // Checked again here, in file order: an earlier copy in this run may have been committed or staged since.
    const existing = this.#items.findBySource(datasetId, hash);
    if (existing !== null || stagedSource.has(hash)) {
      return drop({ ...base, outcome: 'duplicate', reason: 'this file is already in the dataset', ...(existing !== null ? { itemId: existing } : {}) }, stagedSource.get(hash));
    }
    const summary: PreparedSummary = stage.summary;
    if (summary.kind === 'skip') return drop({ ...base, outcome: 'skipped', ...(summary.dicom ? { kind: 'dicom' as const } : {}), reason: summary.reason });
    const sop = summary.kind === 'dicom' ? summary.item.sopInstanceUid : null;
    if (sop) {
      const dup = this.#items.findBySopInstance(datasetId, sop);
      if (dup !== null || stagedSop.has(sop)) {
        return drop({
          ...base,
          outcome: 'duplicate',
          kind: 'dicom',
          reason: 'an instance with the same SOP Instance UID is already in the dataset (another copy or encoding of it)',
          ...(dup !== null ? { itemId: dup } : {}),
        }, stagedSop.get(sop));
      }
    }
    const relativeName = head.relativeName;
    const staged: Staged = {
      outcome: { ...base, outcome: 'imported', kind: summary.kind === 'image' ? 'image' : 'dicom' },
      reserved: { sourceSha: hash, sop },
      written: head.job.finish(true),
      commit: (w) => {
        this.#blobs.register(w.blob.sha256, w.blob.size, w.blob.mediaType);
        this.#blobs.register(w.thumbnail.sha256, w.thumbnail.size, w.thumbnail.mediaType);
        if (summary.kind === 'image') {
          return this.#items.insert({
            datasetId,
            kind: 'image',
            blobSha256: w.blob.sha256,
            sourceSha256: hash,
            thumbSha256: w.thumbnail.sha256,
            seriesId: null,
            sopInstanceUid: null,
            sopClassUid: null,
            sourceName: relativeName,
            modality: null,
            rows: summary.height,
            columns: summary.width,
            frames: 1,
            samplesPerPixel: summary.channels,
            photometric: summary.channels >= 3 ? 'RGB' : 'MONOCHROME2',
            transferSyntax: null,
            pixelSpacingRow: null,
            pixelSpacingCol: null,
            instanceNumber: null,
            slicePosition: null,
          });
        }
        const seriesId = this.#items.upsertSeries(datasetId, summary.hierarchy);
        return this.#items.insert({
          ...summary.item,
          datasetId,
          kind: 'dicom',
          blobSha256: w.blob.sha256,
          sourceSha256: hash,
          thumbSha256: w.thumbnail.sha256,
          seriesId,
          sourceName: relativeName,
        });
      },
    };
    if (sop) stagedSop.set(sop, staged);
    stagedSource.set(hash, staged);
    return staged;
  }
}

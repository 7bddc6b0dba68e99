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
 */
import { readFileSync } from 'node:fs';
import type { ImportFileOutcome, ImportOutcome, ImportProgress, ImportReport } from '../../contract/domain';
import { FoveaException } from '../../contract/result';
import type { AuditLog } from '../store/audit-log';
import { sha256, type BlobStore } from '../store/blob-store';
import type { Db } from '../store/library-db';
import { ItemStore, type DicomHierarchy, type NewItem } from '../store/item-store';
import { collectFiles, type DicomDirReader } from './collect-files';
import { readPlainImage, sniffPlainImage } from './plain-image';

export type FileOutcomeKind = ImportOutcome;
export type FileOutcome = ImportFileOutcome;

/** What a DICOM file becomes before it is committed; provided by the dicom module. */
export type PreparedDicom =
  | { kind: 'skip'; reason: string }
  | {
      kind: 'image';
      item: Omit<NewItem, 'datasetId' | 'blobSha256' | 'sourceSha256' | 'thumbSha256' | 'seriesId' | 'sourceName' | 'kind'>;
      hierarchy: DicomHierarchy;
      thumbnail: Buffer;
    };

export interface DicomSupport {
  /** Whether the bytes look like DICOM (Part 10 or a raw data set). */
  looksLikeDicom(bytes: Uint8Array): boolean;
  /** Parse, classify, check declared sizes, decode the first frame and make a thumbnail. Throws FoveaException. */
  prepare(bytes: Uint8Array): Promise<PreparedDicom>;
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
  /** Files prepared at once (default 4). */
  concurrency?: number;
}

/**
 * 'DICM' at offset 128. Checked before image magic numbers: the 128-byte
 * preamble of a Part-10 file may hold a TIFF header (dual-personality files).
 */
export function isPart10(bytes: Uint8Array): boolean {
  return bytes.length >= 132 && bytes[128] === 0x44 && bytes[129] === 0x49 && bytes[130] === 0x43 && bytes[131] === 0x4d;
}

/** Largest single file read into memory. */
export const MAX_FILE_BYTES = 4 * 1024 ** 3 - 1;

/** A prepared file; `reserved` are the hashes/UIDs it holds in the in-run duplicate sets until committed. */
type Staged = { outcome: FileOutcome; commit?: () => number; reserved?: { sourceSha: string; sop: string | null } };

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
    const jobId = Number(
      this.#db
        .prepare("INSERT INTO import_jobs (dataset_id, started_at, status) VALUES (?, ?, 'running')")
        .run(req.datasetId, new Date().toISOString()).lastInsertRowid,
    );
    const counts: Record<FileOutcomeKind, number> = { imported: 0, duplicate: 0, skipped: 0, failed: 0 };
    const notImported: FileOutcome[] = [];
    const bytesTotal = files.reduce((n, f) => n + f.size, 0);
    let bytesDone = 0;
    let filesDone = 0;
    let staged: Staged[] = [];
    let lastCommit = performance.now();
    const batchSize = req.batchSize ?? 16;
    const stagedSop = new Set<string>();
    const stagedSource = new Set<string>();

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

    const flush = (): void => {
      if (staged.length === 0) return;
      const batch = staged;
      staged = [];
      const insertOutcome = this.#db.prepare('INSERT OR REPLACE INTO import_files (job_id, path, outcome, reason, item_id) VALUES (?, ?, ?, ?, ?)');
      const commitOne = (st: Staged): void => {
        if (st.commit) st.outcome.itemId = st.commit();
        insertOutcome.run(jobId, st.outcome.path, st.outcome.outcome, st.outcome.reason ?? null, st.outcome.itemId ?? null);
      };
      try {
        this.#db.transaction(() => batch.forEach(commitOne)).immediate();
      } catch {
        // One row the database refuses must not take the batch with it: commit one by one,
        // and report the file that fails with the database's reason.
        for (const st of batch) {
          try {
            this.#db.transaction(() => commitOne(st)).immediate();
          } catch (e) {
            st.outcome = { path: st.outcome.path, bytes: st.outcome.bytes, outcome: 'failed', code: 'INTERNAL', reason: `could not be saved: ${(e as Error).message}` };
          }
        }
      }
      for (const s of batch) {
        // Committed rows now answer duplicate checks from the database.
        if (s.reserved) {
          stagedSource.delete(s.reserved.sourceSha);
          if (s.reserved.sop) stagedSop.delete(s.reserved.sop);
        }
        record(s.outcome);
      }
      lastCommit = performance.now();
    };

    // Up to `concurrency` files are prepared at once: while one file's thumbnail is encoded on
    // libvips' threads, the next is hashed and decoded here. Results are staged in file order.
    const concurrency = Math.max(1, req.concurrency ?? 4);
    const inFlight: { promise: Promise<Staged>; size: number }[] = [];
    let next = 0;
    let cancelled = false;
    while (next < files.length || inFlight.length > 0) {
      while (!cancelled && next < files.length && inFlight.length < concurrency) {
        if (req.signal?.aborted) {
          cancelled = true;
          break;
        }
        const file = files[next++] as (typeof files)[number];
        inFlight.push({ promise: this.#prepareFile(req.datasetId, file.path, file.relativeName, file.size, stagedSop, stagedSource), size: file.size });
      }
      const head = inFlight.shift();
      if (!head) break;
      staged.push(await head.promise);
      bytesDone += head.size;
      filesDone++;
      if (staged.length >= batchSize || performance.now() - lastCommit > 250) {
        flush();
        req.onProgress?.(progress());
      }
    }
    if (req.signal?.aborted && filesDone < files.length) cancelled = true;
    flush();
    const final = progress();
    const summary = { ...final.counts, problems: problems.length };
    this.#db
      .prepare('UPDATE import_jobs SET finished_at = ?, status = ?, summary = ? WHERE id = ?')
      .run(new Date().toISOString(), cancelled ? 'cancelled' : 'done', JSON.stringify(summary), jobId);
    this.#db.prepare("UPDATE datasets SET updated_at = ? WHERE id = ?").run(new Date().toISOString(), req.datasetId);
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

  async #prepareFile(
    datasetId: number,
    path: string,
    relativeName: string,
    size: number,
    stagedSop: Set<string>,
    stagedSource: Set<string>,
  ): Promise<Staged> {
    const base = { path, bytes: size };
    const failed = (e: unknown): Staged => {
      if (e instanceof FoveaException) {
        const outcome: FileOutcomeKind = e.code === 'UNSUPPORTED' ? 'skipped' : 'failed';
        return { outcome: { ...base, outcome, code: e.code, reason: e.message } };
      }
      return { outcome: { ...base, outcome: 'failed', code: 'INTERNAL', reason: `unexpected error: ${(e as Error)?.message ?? String(e)}` } };
    };
    let sourceSha: string | null = null;
    const release = (): void => {
      if (sourceSha) stagedSource.delete(sourceSha);
    };
    try {
      if (size > MAX_FILE_BYTES) throw new FoveaException('TOO_LARGE', `The file is ${(size / 1024 ** 3).toFixed(1)} GiB; Fovea imports files up to 4 GiB.`);
      const bytes = readFileSync(path);
      const hash = sha256(bytes);
      const existing = this.#items.findBySource(datasetId, hash);
      if (existing !== null || stagedSource.has(hash)) {
        return { outcome: { ...base, outcome: 'duplicate', reason: 'this file is already in the dataset', ...(existing !== null ? { itemId: existing } : {}) } };
      }
      // Reserve the hash before any await: files are prepared concurrently.
      stagedSource.add(hash);
      sourceSha = hash;
      if (!isPart10(bytes) && sniffPlainImage(bytes.subarray(0, 32))) {
        const img = await readPlainImage(bytes);
        const blob = this.#blobs.write(img.png);
        const thumb = this.#blobs.write(img.thumbnail);
        return {
          outcome: { ...base, outcome: 'imported', kind: 'image' },
          reserved: { sourceSha: hash, sop: null },
          commit: () => {
            this.#blobs.register(blob, img.png.length, 'image/png');
            this.#blobs.register(thumb, img.thumbnail.length, 'image/jpeg');
            return this.#items.insert({
              datasetId,
              kind: 'image',
              blobSha256: blob,
              sourceSha256: hash,
              thumbSha256: thumb,
              seriesId: null,
              sopInstanceUid: null,
              sopClassUid: null,
              sourceName: relativeName,
              modality: null,
              rows: img.height,
              columns: img.width,
              frames: 1,
              samplesPerPixel: img.channels,
              photometric: img.channels >= 3 ? 'RGB' : 'MONOCHROME2',
              transferSyntax: null,
              pixelSpacingRow: null,
              pixelSpacingCol: null,
              instanceNumber: null,
              slicePosition: null,
            });
          },
        };
      }
      if (!this.#dicom.looksLikeDicom(bytes)) {
        release();
        return { outcome: { ...base, outcome: 'skipped', reason: 'not DICOM and not an image Fovea reads (PNG, JPEG, TIFF, BMP, GIF, WebP)' } };
      }
      const prepared = await this.#dicom.prepare(bytes);
      if (prepared.kind === 'skip') {
        release();
        return { outcome: { ...base, outcome: 'skipped', kind: 'dicom', reason: prepared.reason } };
      }
      const sop = prepared.item.sopInstanceUid;
      if (sop) {
        const dup = this.#items.findBySopInstance(datasetId, sop);
        if (dup !== null || stagedSop.has(sop)) {
          release();
          return {
            outcome: {
              ...base,
              outcome: 'duplicate',
              kind: 'dicom',
              reason: 'an instance with the same SOP Instance UID is already in the dataset (another copy or encoding of it)',
              ...(dup !== null ? { itemId: dup } : {}),
            },
          };
        }
        stagedSop.add(sop);
      }
      const blob = this.#blobs.write(bytes, hash);
      const thumb = this.#blobs.write(prepared.thumbnail);
      return {
        outcome: { ...base, outcome: 'imported', kind: 'dicom' },
        reserved: { sourceSha: hash, sop },
        commit: () => {
          this.#blobs.register(blob, bytes.length, 'application/dicom');
          this.#blobs.register(thumb, prepared.thumbnail.length, 'image/jpeg');
          const seriesId = this.#items.upsertSeries(datasetId, prepared.hierarchy);
          return this.#items.insert({
            ...prepared.item,
            datasetId,
            kind: 'dicom',
            blobSha256: blob,
            sourceSha256: hash,
            thumbSha256: thumb,
            seriesId,
            sourceName: relativeName,
          });
        },
      };
    } catch (e) {
      release();
      return failed(e);
    }
  }
}

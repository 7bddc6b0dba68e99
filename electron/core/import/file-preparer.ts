/**
 * Where files are prepared for import: a pool of worker threads (decode,
 * hashing, thumbnails and blob writes on every core) or, for small imports
 * and `workers: 0`, the calling thread. Both give the same stages for the
 * same file; the engine (import-engine.ts) decides and commits in file order.
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import type { FromImportWorker, ImportWorkerData, PrepareStage, ToImportWorker } from './import-protocol';
import { fileFailure, hashPrefixFilter, prepareBytes, readAndHash, writePreparedBlobs, type DicomSupport, type FileFailure, type PreparedFile, type WrittenFile } from './prepare-file';

/** One file in preparation. */
export interface PrepareJob {
  /** Decoded (and thumbnailed), already in the dataset by its hash, or refused. */
  readonly stage: Promise<PrepareStage>;
  /** After a 'prepared' stage: write its blobs (true, resolves once fsynced) or drop it (false, null). */
  finish(write: boolean): Promise<WrittenFile | FileFailure | null>;
}

export interface FilePreparer {
  /** `knownSource(sha)`: the item that file already is in the dataset, or null (asked on this thread). */
  start(path: string, size: number, knownSource: (sha256: string) => number | null): PrepareJob;
  close(): Promise<void>;
}

/**
 * Workers by default: one per core but one, which the deciding thread keeps (duplicate look-ups, row commits).
 * Measured on 2 cores (`npm run bench -- import`, 1,000 files, 5 rounds): 1 worker 261 files/s, 2 workers 240.
 */
export function defaultImportWorkers(): number {
  return Math.max(1, availableParallelism() - 1);
}

/** File name of the bundled worker entry, beside the bundle that starts it. */
export const IMPORT_WORKER_BUNDLE = 'fovea-import-worker.mjs';

/** The worker entry for this module's location: the .ts source under tsx, the bundle's sibling otherwise. */
export function importWorkerUrl(moduleUrl: string = import.meta.url): URL {
  return new URL(moduleUrl).pathname.endsWith('.ts') ? new URL('./import-worker.ts', moduleUrl) : new URL(`./${IMPORT_WORKER_BUNDLE}`, moduleUrl);
}

/** The calling thread does the work (small imports, `workers: 0`). */
export class InThreadPreparer implements FilePreparer {
  readonly #blobRoot: string;
  readonly #dicom: DicomSupport;
  readonly #dirs = new Set<string>();

  constructor(blobRoot: string, dicom: DicomSupport) {
    this.#blobRoot = blobRoot;
    this.#dicom = dicom;
  }

  start(path: string, size: number, knownSource: (sha256: string) => number | null): PrepareJob {
    let file: PreparedFile | undefined;
    const stage = (async (): Promise<PrepareStage> => {
      try {
        const { bytes, sha256 } = readAndHash(path, size);
        const itemId = knownSource(sha256);
        if (itemId !== null) return { status: 'known', sha256, itemId };
        file = await prepareBytes(bytes, sha256, this.#dicom);
        return { status: 'prepared', sha256, summary: file.summary };
      } catch (e) {
        return { status: 'failed', failure: fileFailure(e) };
      }
    })();
    return {
      stage,
      finish: async (write) => {
        const f = file;
        file = undefined;
        if (!write || f === undefined) return null;
        try {
          return await writePreparedBlobs(this.#blobRoot, f, this.#dirs);
        } catch (e) {
          return fileFailure(e);
        }
      },
    };
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}

interface PoolJob {
  knownSource: (sha256: string) => number | null;
  stage: (s: PrepareStage) => void;
  done?: (r: WrittenFile | FileFailure | null) => void;
  staged: boolean;
}

interface PoolWorker {
  worker: Worker;
  jobs: Map<number, PoolJob>;
  dead: boolean;
}

export interface WorkerPoolOptions {
  workers: number;
  blobRoot: string;
  /** hashPrefixFilter() of the dataset's items; a file not in it is decoded without asking. */
  knownHashPrefixes?: BigUint64Array;
  workerUrl?: URL;
}

/**
 * A fixed pool of import workers, started on the first file. A worker that
 * stops (its entry cannot load, an exception escapes it) fails only the
 * files it holds, with the reason; the next file starts a fresh one. (A
 * worker that runs out of memory takes the process down with it in Node 20,
 * resourceLimits or not: measured with a file of two million attributes.)
 */
export class WorkerPoolPreparer implements FilePreparer {
  readonly #options: WorkerPoolOptions;
  readonly #url: URL;
  readonly #pool: (PoolWorker | undefined)[];
  #nextId = 1;

  constructor(options: WorkerPoolOptions) {
    this.#options = options;
    this.#url = options.workerUrl ?? importWorkerUrl();
    this.#pool = new Array<PoolWorker | undefined>(Math.max(1, options.workers)).fill(undefined);
  }

  #spawn(): PoolWorker {
    const workerData: ImportWorkerData = { blobRoot: this.#options.blobRoot, knownHashPrefixes: this.#options.knownHashPrefixes ?? hashPrefixFilter([]) };
    let worker: Worker;
    if (this.#url.pathname.endsWith('.ts')) {
      // From source: Node 20 does not apply the parent's `--import tsx` to a worker's entry;
      // registering tsx's hooks inside the worker first does work (as the training worker does).
      const tsxApi = import.meta.resolve('tsx/esm/api');
      const code = `import(${JSON.stringify(tsxApi)}).then((api) => { api.register(); return import(${JSON.stringify(this.#url.href)}); });`;
      worker = new Worker(code, { eval: true, execArgv: [], workerData });
    } else {
      worker = new Worker(this.#url, { workerData });
    }
    const live: PoolWorker = { worker, jobs: new Map(), dead: false };
    worker.on('message', (m: FromImportWorker) => this.#onMessage(live, m));
    worker.on('error', (e) => this.#failJobs(live, `the import worker stopped while decoding it (${e.message})`));
    worker.on('exit', (code) => this.#failJobs(live, `the import worker stopped while decoding it (exit code ${code})`));
    return live;
  }

  /** A worker that is gone fails only its own files. */
  #failJobs(live: PoolWorker, reason: string): void {
    if (live.dead) return;
    live.dead = true;
    const failure: FileFailure = { outcome: 'failed', code: 'INTERNAL', reason };
    for (const job of live.jobs.values()) {
      if (!job.staged) job.stage({ status: 'failed', failure });
      job.done?.(failure);
    }
    live.jobs.clear();
  }

  #onMessage(live: PoolWorker, m: FromImportWorker): void {
    const job = live.jobs.get(m.id);
    if (job === undefined) return;
    switch (m.type) {
      case 'hashed': {
        let itemId: number | null = null;
        try {
          itemId = job.knownSource(m.sha256);
        } catch {
          // The check is repeated in file order before anything is committed.
        }
        this.#post(live, { type: 'known', id: m.id, itemId });
        break;
      }
      case 'stage':
        job.staged = true;
        job.stage(m.stage);
        // A file that ends here holds nothing in the worker any more.
        if (m.stage.status !== 'prepared') live.jobs.delete(m.id);
        break;
      case 'done':
        live.jobs.delete(m.id);
        job.done?.(m.result);
        break;
    }
  }

  #post(live: PoolWorker, m: ToImportWorker): void {
    if (!live.dead) live.worker.postMessage(m);
  }

  /** The live worker with the fewest files in progress (a dead one is replaced). */
  #pick(): PoolWorker {
    let best: PoolWorker | undefined;
    for (let i = 0; i < this.#pool.length; i++) {
      let w = this.#pool[i];
      if (w === undefined || w.dead) {
        w = this.#spawn();
        this.#pool[i] = w;
      }
      if (best === undefined || w.jobs.size < best.jobs.size) best = w;
    }
    if (best === undefined) throw new Error('the import pool has no worker');
    return best;
  }

  start(path: string, size: number, knownSource: (sha256: string) => number | null): PrepareJob {
    const live = this.#pick();
    const id = this.#nextId++;
    let resolveStage: (s: PrepareStage) => void = () => undefined;
    const stage = new Promise<PrepareStage>((resolve) => (resolveStage = resolve));
    const job: PoolJob = { knownSource, stage: resolveStage, staged: false };
    live.jobs.set(id, job);
    this.#post(live, { type: 'prepare', id, path, size });
    return {
      stage,
      finish: (write) =>
        new Promise((resolve) => {
          if (live.dead || !live.jobs.has(id)) {
            // The worker has gone (its failure was reported), or the file ended before this stage.
            resolve(write ? { outcome: 'failed', code: 'INTERNAL', reason: 'the import worker stopped before writing it' } : null);
            return;
          }
          job.done = resolve;
          this.#post(live, { type: 'finish', id, write });
        }),
    };
  }

  /** Stops the workers; files still in progress fail (nothing waits forever on a stopped pool). */
  async close(): Promise<void> {
    const live = this.#pool.filter((w): w is PoolWorker => w !== undefined && !w.dead);
    for (const w of live) this.#failJobs(w, 'the import stopped');
    await Promise.all(live.map((w) => w.worker.terminate()));
    this.#pool.fill(undefined);
  }
}

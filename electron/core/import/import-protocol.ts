/**
 * The messages between the import engine and its workers (one discriminated
 * union each way). A file goes: prepare -> hashed -> known (is it in the
 * library already?) -> stage (prepared, known or failed) -> finish (write
 * its blobs or drop it) -> done. The worker never touches the database: the
 * engine's thread decides and commits, in file order.
 */
import type { FileFailure, PreparedSummary, WrittenFile } from './prepare-file';

/** Given to each worker when it starts. */
export interface ImportWorkerData {
  /** The library's blob folder, where prepared files are written. */
  blobRoot: string;
  /**
   * The first 64 bits of the content hash of every item the dataset had when
   * the import started, sorted (shared, not copied). A file whose hash is not
   * among them is decoded at once; only a possible match waits for the
   * engine's answer. Files committed during the import are caught by the
   * engine's own check, in file order.
   */
  knownHashPrefixes: BigUint64Array;
}

export type ToImportWorker =
  | { type: 'prepare'; id: number; path: string; size: number }
  /** The item this hash already is in the dataset, or null to go on. */
  | { type: 'known'; id: number; itemId: number | null }
  /** Write the prepared file's blobs (true) or drop it (false). */
  | { type: 'finish'; id: number; write: boolean };

/** How a file ends its first stage: decoded, already in the dataset, or refused. */
export type PrepareStage =
  | { status: 'prepared'; sha256: string; summary: PreparedSummary }
  | { status: 'known'; sha256: string; itemId: number }
  | { status: 'failed'; failure: FileFailure };

export type FromImportWorker =
  | { type: 'hashed'; id: number; sha256: string }
  | { type: 'stage'; id: number; stage: PrepareStage }
  /** After finish: the written blobs, null when dropped, or why writing failed. */
  | { type: 'done'; id: number; result: WrittenFile | FileFailure | null };

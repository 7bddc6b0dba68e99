/**
 * Content-addressed file store inside the library: every stored file is
 * named by its SHA-256 (blobs/ab/abcdef...), so identical files are stored
 * once. A blob file is written and fsynced (temp file, then rename) BEFORE
 * the database row that references it is committed: a crash can leave an
 * unreferenced file (reported by `fovea check`, reused by the next import),
 * never a row pointing at a missing or partial file.
 */
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import { mkdir, open, rename as renameAsync, rm, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import type Database from 'better-sqlite3';
import type { Db } from './library-db';

export const BLOB_DIR = 'blobs';
const SHA256_RE = /^[0-9a-f]{64}$/;

export function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** A blob written to its temp file, not yet fsynced or in place. */
export interface StagedBlobFile {
  fd: number;
  tmp: string;
  target: string;
  hash: string;
}

/**
 * Writes the bytes to a temp file beside their target under `root`, without
 * fsync; null when the blob is already there. Touches only files, so the
 * import workers call it too; `knownDirs` caches the fan-out folders made.
 */
export function stageBlobFile(root: string, bytes: Uint8Array, hash = sha256(bytes), knownDirs?: Set<string>): StagedBlobFile | null {
  if (!SHA256_RE.test(hash)) throw new Error(`not a sha256: ${hash.slice(0, 80)}`);
  const dir = join(root, hash.slice(0, 2));
  const target = join(dir, hash);
  if (existsSync(target)) return null;
  if (knownDirs?.has(dir) !== true) {
    mkdirSync(dir, { recursive: true });
    knownDirs?.add(dir);
  }
  const tmp = join(dir, `.tmp-${hash.slice(0, 16)}-${randomBytes(6).toString('hex')}`);
  const fd = openSync(tmp, 'w');
  try {
    let off = 0;
    while (off < bytes.length) off += writeSync(fd, bytes, off, bytes.length - off);
  } catch (e) {
    closeSync(fd);
    rmSync(tmp, { force: true });
    throw e;
  }
  return { fd, tmp, target, hash };
}

/**
 * fsyncs staged blobs, then renames each into place: a name only ever
 * points at complete, durable bytes. Written together then synced together,
 * two files cost about a third less than one after the other (measured here:
 * 12 against 18 ms for a DICOM file and its thumbnail).
 */
export function commitBlobFiles(staged: readonly (StagedBlobFile | null)[]): void {
  try {
    for (const s of staged) if (s !== null) fsyncSync(s.fd);
  } finally {
    for (const s of staged) if (s !== null) closeSync(s.fd);
  }
  for (const s of staged) if (s !== null) renameSync(s.tmp, s.target);
}

/**
 * Writes blob files (those not there yet) without blocking the thread:
 * folder, temp file, write, fsync, close and rename all run on libuv's
 * thread pool, so an import worker decodes its next file meanwhile. Every
 * file is written, then every file synced, then each renamed into place, as
 * commitBlobFiles does. Measured in the import worker's CPU profile: the
 * synchronous open() of a temp file averaged 0.5 to 0.8 ms (it waits on the
 * file system's journal while other files sync); with mkdir it was 12 to 19%
 * of the worker's thread.
 */
export async function writeBlobFilesAsync(root: string, blobs: readonly { bytes: Uint8Array; hash: string }[], knownDirs?: Set<string>): Promise<void> {
  const staged: { handle: FileHandle; tmp: string; target: string }[] = [];
  try {
    for (const { bytes, hash } of blobs) {
      if (!SHA256_RE.test(hash)) throw new Error(`not a sha256: ${hash.slice(0, 80)}`);
      const dir = join(root, hash.slice(0, 2));
      const target = join(dir, hash);
      if (existsSync(target) || staged.some((s) => s.target === target)) continue;
      if (knownDirs?.has(dir) !== true) {
        await mkdir(dir, { recursive: true });
        knownDirs?.add(dir);
      }
      const tmp = join(dir, `.tmp-${hash.slice(0, 16)}-${randomBytes(6).toString('hex')}`);
      const handle = await open(tmp, 'w');
      staged.push({ handle, tmp, target });
      await handle.writeFile(bytes);
    }
    await Promise.all(staged.map((s) => s.handle.sync()));
  } catch (e) {
    await Promise.all(staged.map((s) => s.handle.close().catch(() => undefined)));
    await Promise.all(staged.map((s) => rm(s.tmp, { force: true })));
    throw e;
  }
  await Promise.all(staged.map((s) => s.handle.close()));
  for (const s of staged) await renameAsync(s.tmp, s.target);
}

/** Writes (if it is not there yet) and fsyncs one blob file; returns its hash. */
export function writeBlobFile(root: string, bytes: Uint8Array, hash = sha256(bytes), knownDirs?: Set<string>): string {
  commitBlobFiles([stageBlobFile(root, bytes, hash, knownDirs)]);
  return hash;
}

export class BlobStore {
  readonly root: string;
  readonly #db: Db;
  /** Fan-out folders known to exist (mkdir per write was a measurable share of import time). */
  readonly #dirs = new Set<string>();
  /** Compiled once: an import registers two blobs per file. */
  #registerStmt: Database.Statement | undefined;

  constructor(libraryDir: string, db: Db) {
    this.root = join(libraryDir, BLOB_DIR);
    this.#db = db;
  }

  pathOf(hash: string): string {
    if (!SHA256_RE.test(hash)) throw new Error(`not a sha256: ${hash.slice(0, 80)}`);
    return join(this.root, hash.slice(0, 2), hash);
  }

  /**
   * Write the bytes (if not already there) and return their hash. The
   * `blobs` row is inserted by `register`, inside the caller's transaction.
   */
  write(bytes: Uint8Array, hash = sha256(bytes)): string {
    return writeBlobFile(this.root, bytes, hash, this.#dirs);
  }

  /** Record a written blob; call inside the transaction that references it. */
  register(hash: string, size: number, mediaType: string): void {
    this.#registerStmt ??= this.#db.prepare('INSERT OR IGNORE INTO blobs (sha256, size, media_type, created_at) VALUES (?, ?, ?, ?)');
    this.#registerStmt.run(hash, size, mediaType, new Date().toISOString());
  }

  has(hash: string): boolean {
    return existsSync(this.pathOf(hash));
  }

  read(hash: string): Buffer {
    return readFileSync(this.pathOf(hash));
  }

  /** Every blob file on disk (hash names only; temp files are listed separately). */
  listFiles(): { hashes: string[]; temp: string[] } {
    const hashes: string[] = [];
    const temp: string[] = [];
    if (!existsSync(this.root)) return { hashes, temp };
    for (const sub of readdirSync(this.root)) {
      for (const f of readdirSync(join(this.root, sub))) {
        if (SHA256_RE.test(f)) hashes.push(f);
        else if (f.startsWith('.tmp-')) temp.push(join(this.root, sub, f));
      }
    }
    return { hashes, temp };
  }

  /** Remove leftovers of interrupted writes. */
  removeTempFiles(): number {
    const { temp } = this.listFiles();
    for (const t of temp) rmSync(t, { force: true });
    return temp.length;
  }

  /** Delete a blob file that no row references (repair). */
  removeFile(hash: string): void {
    rmSync(this.pathOf(hash), { force: true });
  }
}

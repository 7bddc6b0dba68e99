/**
 * Backup and integrity checks of a library.
 *
 * Backups go through SQLite's online backup API (never a copy of the live
 * .db/-wal files) and are verified by opening the copy and running
 * integrity_check on it.
 */
import Database from 'better-sqlite3';
import { existsSync, renameSync, rmSync } from 'node:fs';
import { FoveaException } from '../../contract/result';
import type { AuditLog } from './audit-log';
import type { BlobStore } from './blob-store';
import type { Db } from './library-db';

export interface CheckReport {
  ok: boolean;
  integrity: string[];
  foreignKeys: { table: string; rowid: number; parent: string }[];
  /** blob rows whose file is missing */
  missingBlobFiles: string[];
  /**
   * Blob files no row references: left by an interrupted import (the next
   * import reuses them) or being written by a running one. Harmless, so they
   * do not make `ok` false; `fovea check --repair` removes them.
   */
  orphanBlobFiles: string[];
  /** blob rows that no item or annotation references */
  unreferencedBlobRows: string[];
  auditChainBrokenAt: number | null;
}

export class LibraryMaintenance {
  readonly #db: Db;
  readonly #blobs: BlobStore;
  readonly #audit: AuditLog;

  constructor(db: Db, blobs: BlobStore, audit: AuditLog) {
    this.#db = db;
    this.#blobs = blobs;
    this.#audit = audit;
  }

  /** Online backup to `outFile`; refuses to overwrite; verified. */
  async backup(outFile: string): Promise<{ path: string; bytes: number; pages: number }> {
    if (existsSync(outFile)) throw new FoveaException('CONFLICT', `${outFile} already exists; Fovea does not overwrite files. Choose another name.`);
    const tmp = `${outFile}.partial`;
    rmSync(tmp, { force: true });
    let pages = 0;
    try {
      await this.#db.backup(tmp, {
        progress: ({ totalPages }) => {
          pages = totalPages;
          return 256;
        },
      });
      const copy = new Database(tmp, { readonly: true });
      try {
        const res = copy.pragma('integrity_check', { simple: true });
        if (res !== 'ok') throw new Error(`the backup failed its integrity check: ${String(res)}`);
      } finally {
        copy.close();
      }
      renameSync(tmp, outFile);
    } catch (e) {
      rmSync(tmp, { force: true });
      this.#audit.append({ action: 'backup', outcome: 'failed', details: { error: (e as Error).message } });
      if (e instanceof FoveaException) throw e;
      throw new FoveaException('IO', `Backup failed: ${(e as Error).message}`);
    }
    const { statSync } = await import('node:fs');
    const bytes = statSync(outFile).size;
    this.#audit.append({ action: 'backup', outcome: 'ok', details: { bytes } });
    return { path: outFile, bytes, pages };
  }

  check(): CheckReport {
    const integrity = (this.#db.pragma('integrity_check') as { integrity_check: string }[]).map((r) => r.integrity_check);
    const foreignKeys = (this.#db.pragma('foreign_key_check') as { table: string; rowid: number; parent: string }[]).map((r) => ({
      table: r.table,
      rowid: r.rowid,
      parent: r.parent,
    }));
    const rows = new Set((this.#db.prepare('SELECT sha256 FROM blobs').pluck().all() as string[]));
    const { hashes } = this.#blobs.listFiles();
    const files = new Set(hashes);
    const missingBlobFiles = [...rows].filter((h) => !files.has(h));
    const orphanBlobFiles = hashes.filter((h) => !rows.has(h));
    const unreferencedBlobRows = this.#db
      .prepare(
        `SELECT sha256 FROM blobs b WHERE NOT EXISTS (SELECT 1 FROM items WHERE blob_sha256 = b.sha256 OR thumb_sha256 = b.sha256)`,
      )
      .pluck()
      .all() as string[];
    const auditChainBrokenAt = this.#audit.verify();
    const ok =
      integrity.length === 1 &&
      integrity[0] === 'ok' &&
      foreignKeys.length === 0 &&
      missingBlobFiles.length === 0 &&
      unreferencedBlobRows.length === 0 &&
      auditChainBrokenAt === null;
    return { ok, integrity, foreignKeys, missingBlobFiles, orphanBlobFiles, unreferencedBlobRows, auditChainBrokenAt };
  }

  /** Remove blob files no row references (what an interrupted import leaves). */
  removeOrphanBlobFiles(): number {
    const report = this.check();
    for (const h of report.orphanBlobFiles) this.#blobs.removeFile(h);
    return report.orphanBlobFiles.length;
  }
}

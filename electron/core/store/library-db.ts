/**
 * The library's SQLite database. This folder (core/store) is the only place
 * that imports better-sqlite3.
 *
 * Durability choices (documented here because they matter):
 * - WAL journal: readers never block the writer (the UI lists while an import writes).
 * - synchronous=FULL for every connection: a committed label survives a power
 *   cut. Label writes are single small transactions, so the extra fsync is
 *   cheap; imports batch many rows per transaction, which amortises it.
 * - foreign_keys=ON, and every migration with its user_version bump in one
 *   transaction, after a VACUUM INTO backup of the previous version.
 * - A library written by a newer Fovea opens read-only with a clear message.
 * - WAL needs shared memory, which network file systems do not provide
 *   reliably: a library on one is refused (see network-fs.ts).
 */
import Database from 'better-sqlite3';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { FoveaException } from '../../contract/result';
import type { LibraryStatus } from '../../contract/domain';
import { MIGRATIONS, type Migration } from './migrations';
import { detectNetworkFileSystem } from './network-fs';

export type Db = Database.Database;

export const DB_FILE = 'fovea.db';
export const BACKUP_DIR = 'backups';

export interface OpenLibraryOptions {
  /** Path to an Electron-ABI build of better-sqlite3 (see build/scripts/ensure-electron-native.mjs). */
  nativeBinding?: string;
  /** Open read-only even if the schema is current (e.g. for `fovea check` on a copy). */
  readOnly?: boolean;
  /** Allow a library on a network file system (tests only). */
  allowNetworkFs?: boolean;
  /** The schema migrations (tests pass extra ones to exercise upgrades). */
  migrations?: readonly Migration[];
}

export interface OpenedLibrary {
  db: Db;
  status: LibraryStatus;
}

function utcStamp(): string {
  return new Date().toISOString().replace(/[:.]/g, '-');
}

function readUserVersion(db: Db): number {
  return db.pragma('user_version', { simple: true }) as number;
}

/**
 * Open (creating if needed) the library database in `dir` and bring its
 * schema up to date.
 */
export function openLibraryDb(dir: string, options: OpenLibraryOptions = {}): OpenedLibrary {
  if (!options.allowNetworkFs) {
    const fs = detectNetworkFileSystem(dir);
    if (fs) {
      throw new FoveaException(
        'LIBRARY_UNUSABLE',
        `The library folder ${dir} is on a network file system (${fs}). SQLite's write-ahead log is not safe there: ` +
          'choose a folder on a local disk with --library or FOVEA_LIBRARY.',
      );
    }
  }
  try {
    mkdirSync(dir, { recursive: true });
  } catch (e) {
    throw new FoveaException('LIBRARY_UNUSABLE', `Cannot create the library folder ${dir}: ${(e as Error).message}`);
  }
  const file = join(dir, DB_FILE);
  const exists = existsSync(file);
  const dbOptions: Database.Options = {};
  if (options.nativeBinding) dbOptions.nativeBinding = options.nativeBinding;

  let db: Db;
  try {
    db = new Database(file, { ...dbOptions, readonly: Boolean(options.readOnly) && exists });
  } catch (e) {
    throw new FoveaException('LIBRARY_UNUSABLE', `Cannot open the library database ${file}: ${(e as Error).message}`);
  }

  let version: number;
  try {
    version = readUserVersion(db);
  } catch (e) {
    db.close();
    throw new FoveaException(
      'LIBRARY_UNUSABLE',
      `${file} is not a Fovea library database (${(e as Error).message}). Choose another folder, or restore a backup.`,
    );
  }

  const migrations = options.migrations ?? MIGRATIONS;
  const latest = migrations.reduce((max, m) => Math.max(max, m.version), 0);
  if (version > latest) {
    db.close();
    db = new Database(file, { ...dbOptions, readonly: true });
    configure(db, true);
    return {
      db,
      status: {
        path: dir,
        readOnly: true,
        readOnlyReason:
          `This library was written by a newer version of Fovea (schema ${version}; this version knows up to ${latest}). ` +
          'It is open read-only so that nothing is lost: update Fovea to edit it.',
        schemaVersion: version,
      },
    };
  }

  if (options.readOnly && exists) {
    configure(db, true);
    return { db, status: { path: dir, readOnly: true, readOnlyReason: 'Opened read-only on request.', schemaVersion: version } };
  }

  configure(db, false);
  try {
    migrate(db, dir, version, migrations);
  } catch (e) {
    db.close();
    throw new FoveaException(
      'LIBRARY_UNUSABLE',
      `Upgrading the library schema from version ${version} failed and was rolled back; the library is unchanged ` +
        `(a backup is in ${join(dir, BACKUP_DIR)}). Cause: ${(e as Error).message}`,
    );
  }
  return {
    db,
    status: { path: dir, readOnly: false, readOnlyReason: null, schemaVersion: readUserVersion(db) },
  };
}

function configure(db: Db, readOnly: boolean): void {
  if (!readOnly) db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.pragma('foreign_keys = ON');
  db.pragma('busy_timeout = 5000');
}

function migrate(db: Db, dir: string, from: number, migrations: readonly Migration[]): void {
  const pending = migrations.filter((m) => m.version > from).sort((a, b) => a.version - b.version);
  if (pending.length === 0) return;
  if (from > 0) {
    // Back up the previous version before touching its schema.
    const backupDir = join(dir, BACKUP_DIR);
    mkdirSync(backupDir, { recursive: true });
    const target = join(backupDir, `fovea-v${from}-before-migration-${utcStamp()}.db`);
    db.prepare('VACUUM INTO ?').run(target);
  }
  for (const m of pending) {
    db.transaction(() => {
      db.exec(m.sql);
      db.pragma(`user_version = ${m.version}`);
    }).immediate();
  }
}

export function sqliteVersion(db: Db): string {
  return (db.prepare('SELECT sqlite_version() AS v').get() as { v: string }).v;
}

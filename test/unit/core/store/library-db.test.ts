import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import { FoveaException } from '../../../../electron/contract/result';
import { createCore } from '../../../../electron/core/composition-root';
import { createMlEngine } from '../../../../native-models/engine';
import { LATEST_SCHEMA_VERSION, MIGRATIONS } from '../../../../electron/core/store/migrations';
import { BACKUP_DIR, DB_FILE, openLibraryDb } from '../../../../electron/core/store/library-db';
import { tempDir } from '../../../helpers/temp-library';


test('a new library gets WAL, foreign keys, synchronous FULL and the latest schema', (t) => {
  const tmp = tempDir();
  t.after(tmp.cleanup);
  const { db, status } = openLibraryDb(join(tmp.dir, 'lib'));
  try {
    assert.equal(db.pragma('journal_mode', { simple: true }), 'wal');
    assert.equal(db.pragma('foreign_keys', { simple: true }), 1);
    assert.equal(db.pragma('synchronous', { simple: true }), 2); // FULL
    assert.equal(status.schemaVersion, LATEST_SCHEMA_VERSION);
    assert.equal(status.readOnly, false);
    const tables = (db.prepare("SELECT name FROM sqlite_master WHERE type='table'").all() as { name: string }[]).map((r) => r.name);
    for (const t of ['datasets', 'patients', 'studies', 'series', 'items', 'frames', 'label_classes', 'annotations', 'splits', 'audit_log', 'blobs']) {
      assert.ok(tables.includes(t), `table ${t} exists`);
    }
    assert.deepEqual(db.pragma('integrity_check', { simple: true }), 'ok');
  } finally {
    db.close();
  }
});

test('migrating backs the library up first (VACUUM INTO) and bumps user_version in the same transaction', (t) => {
  const tmp = tempDir();
  t.after(tmp.cleanup);
  const dir = join(tmp.dir, 'lib');
  const v1 = openLibraryDb(dir);
  v1.db.prepare("INSERT INTO datasets (name, created_at, updated_at) VALUES ('kept', 'x', 'x')").run();
  v1.db.close();

  const next = { version: LATEST_SCHEMA_VERSION + 1, description: 'test', sql: 'ALTER TABLE datasets ADD COLUMN colour TEXT;' };
  const v2 = openLibraryDb(dir, { migrations: [...MIGRATIONS, next] });
  assert.equal(v2.status.schemaVersion, LATEST_SCHEMA_VERSION + 1);
  assert.deepEqual(v2.db.prepare('SELECT name, colour FROM datasets').all(), [{ name: 'kept', colour: null }]);
  v2.db.close();
  const backups = readdirSync(join(dir, BACKUP_DIR)).filter((f) => f.endsWith('.db'));
  assert.equal(backups.length, 1);
  const backup = new Database(join(dir, BACKUP_DIR, backups[0] ?? ''), { readonly: true });
  assert.equal(backup.pragma('user_version', { simple: true }), LATEST_SCHEMA_VERSION, 'the backup is the previous version');
  assert.equal((backup.prepare('SELECT count(*) AS n FROM datasets').get() as { n: number }).n, 1);
  backup.close();
});

test('a failing migration rolls back with its user_version bump and reports LIBRARY_UNUSABLE; data intact', (t) => {
  const tmp = tempDir();
  t.after(tmp.cleanup);
  const dir = join(tmp.dir, 'lib');
  const v1 = openLibraryDb(dir);
  v1.db.prepare("INSERT INTO datasets (name, created_at, updated_at) VALUES ('kept', 'x', 'x')").run();
  v1.db.close();
  const broken = { version: LATEST_SCHEMA_VERSION + 1, description: 'broken', sql: 'ALTER TABLE datasets ADD COLUMN a TEXT; THIS IS NOT SQL;' };
  assert.throws(
    () => openLibraryDb(dir, { migrations: [...MIGRATIONS, broken] }),
    (e: unknown) => e instanceof FoveaException && e.code === 'LIBRARY_UNUSABLE' && /rolled back/.test(e.message),
  );
  const after = openLibraryDb(dir);
  assert.equal(after.status.schemaVersion, LATEST_SCHEMA_VERSION);
  assert.deepEqual(after.db.prepare('SELECT * FROM pragma_table_info(\'datasets\') WHERE name = \'a\'').all(), [], 'partial DDL rolled back');
  assert.equal((after.db.prepare('SELECT count(*) AS n FROM datasets').get() as { n: number }).n, 1);
  after.db.close();
});

test('a library from a newer Fovea opens read-only with a clear message, and writes are refused as data', async (t) => {
  const tmp = tempDir();
  t.after(tmp.cleanup);
  const dir = join(tmp.dir, 'lib');
  openLibraryDb(dir).db.close();
  const raw = new Database(join(dir, DB_FILE));
  raw.pragma(`user_version = ${LATEST_SCHEMA_VERSION + 5}`);
  raw.close();

  const core = createCore({ libraryDir: dir, ml: createMlEngine() });
  t.after(() => core.close());
  assert.equal(core.library.readOnly, true);
  assert.match(core.library.readOnlyReason ?? '', /newer version of Fovea/);
  const list = await core.dispatch('datasets.list', {});
  assert.equal(list.ok, true, 'reads still work');
  const create = await core.dispatch('datasets.create', { name: 'x' });
  assert.equal(create.ok, false);
  if (!create.ok) assert.equal(create.error.code, 'LIBRARY_READ_ONLY');
});

test('a file that is not a Fovea database gives LIBRARY_UNUSABLE with an actionable message', async (t) => {
  const tmp = tempDir();
  t.after(tmp.cleanup);
  const { writeFileSync, mkdirSync } = await import('node:fs');
  const dir = join(tmp.dir, 'lib');
  mkdirSync(dir);
  writeFileSync(join(dir, DB_FILE), 'this is not sqlite at all, just text '.repeat(200));
  assert.throws(
    () => openLibraryDb(dir),
    (e: unknown) => e instanceof FoveaException && e.code === 'LIBRARY_UNUSABLE' && /not a Fovea library|Cannot open/.test(e.message),
  );
});

test('an unwritable library folder gives LIBRARY_UNUSABLE, not a crash', { skip: process.getuid?.() === 0 ? 'root ignores permissions' : false }, async (t) => {
  const tmp = tempDir();
  t.after(tmp.cleanup);
  const { chmodSync, mkdirSync } = await import('node:fs');
  const parent = join(tmp.dir, 'ro');
  mkdirSync(parent);
  chmodSync(parent, 0o500);
  assert.throws(() => openLibraryDb(join(parent, 'lib')), (e: unknown) => e instanceof FoveaException && e.code === 'LIBRARY_UNUSABLE');
});

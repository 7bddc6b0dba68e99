/**
 * The tests' cached sample library (test/helpers/sample-library-cache.ts): a copy holds the
 * same rows and the same blob bytes as a library built from scratch (the generator is seeded),
 * differing only in when and from which temporary folder it was made; and every copy is its own.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { after, test } from 'node:test';
import type { Core } from '../../../electron/core/composition-root';
import { createSampleLibrary, SAMPLE_CT_DATASET } from '../../../electron/core/samples/sample-library';
import { DB_FILE } from '../../../electron/core/store/library-db';
import { walkFiles } from '../../helpers/paths';
import { cachedSampleLibraryDir, tempSampleCore } from '../../helpers/sample-library-cache';
import { tempCore } from '../../helpers/temp-library';

/** Columns that record when (or from which temporary folder) the library was made, per table. */
const WHEN_COLUMNS: Record<string, string[]> = {
  annotations: ['created_at', 'updated_at'],
  // The audit chain hashes its timestamps.
  audit_log: ['at', 'hash', 'prev_hash'],
  blobs: ['created_at'],
  datasets: ['created_at', 'updated_at'],
  import_jobs: ['started_at', 'finished_at'],
  items: ['status_at', 'imported_at'],
};
/** createSampleLibrary writes its files under a fresh mkdtemp folder: compare the path inside it. */
const WORK_FOLDER = /^.*\/fovea-samples-[^/]+\//;

function dump(core: Core): Record<string, unknown[]> {
  const tables = (core.db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").all() as { name: string }[]).map((r) => r.name);
  const out: Record<string, unknown[]> = {};
  for (const table of tables) {
    const skip = new Set(WHEN_COLUMNS[table] ?? []);
    out[table] = (core.db.prepare(`SELECT * FROM "${table}"`).all() as Record<string, unknown>[]).map((row) => {
      const kept: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(row)) {
        if (skip.has(k)) continue;
        kept[k] = table === 'import_files' && k === 'path' && typeof v === 'string' ? v.replace(WORK_FOLDER, '') : v;
      }
      return kept;
    });
    // Row order is not part of the content (and some tables have no rowid).
    out[table]!.sort((x, y) => JSON.stringify(x).localeCompare(JSON.stringify(y)));
  }
  return out;
}

/** Every file of the library but the database, with the hash of its bytes. */
function blobFiles(libraryDir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const f of walkFiles(libraryDir)) {
    const rel = relative(libraryDir, f);
    if (rel.startsWith(DB_FILE)) continue;
    out[rel] = createHash('sha256').update(readFileSync(f)).digest('hex');
  }
  return out;
}

const cleanups: (() => void)[] = [];
after(() => {
  for (const c of cleanups) c();
});

test("a cached 'tiny' sample library holds what a fresh build holds", { timeout: 180_000 }, async () => {
  const fresh = tempCore();
  cleanups.push(fresh.cleanup);
  await createSampleLibrary(fresh.core, { size: 'tiny' });
  const copy = await tempSampleCore('tiny');
  cleanups.push(copy.cleanup);

  const a = dump(copy.core);
  const b = dump(fresh.core);
  assert.deepEqual(Object.keys(a), Object.keys(b));
  assert.ok(a.items!.length > 0 && a.annotations!.length > 0 && a.blobs!.length > 0, 'the sample library is not empty');
  assert.deepEqual(a, b);
  const copyFiles = blobFiles(join(copy.dir, 'library'));
  assert.ok(Object.keys(copyFiles).length >= a.blobs!.length);
  assert.deepEqual(copyFiles, blobFiles(join(fresh.dir, 'library')));
});

test('the cache was closed cleanly, and each copy is its own library', { timeout: 180_000 }, async () => {
  const cached = await cachedSampleLibraryDir('tiny');
  assert.equal(existsSync(join(cached, `${DB_FILE}-wal`)), false, 'no write-ahead log left in the cache');
  const first = await tempSampleCore('tiny');
  cleanups.push(first.cleanup);
  first.core.datasets.create('Only in the first copy', '');

  const second = await tempSampleCore('tiny');
  cleanups.push(second.cleanup);
  assert.notEqual(second.dir, first.dir);
  const names = second.core.datasets.list().map((d) => d.name);
  assert.equal(names.includes('Only in the first copy'), false);
  assert.ok(names.includes(SAMPLE_CT_DATASET));
});
